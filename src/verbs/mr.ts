import type { Registration } from '../nic/memory.js';
import { VerbsError } from '../abi/errors.js';

/** ibv_mr: a registered buffer with its keys. The keys die with `dereg()`. */
export class MemoryRegion {
  private registration: Registration | null;

  constructor(
    registration: Registration,
    private readonly contextClosed: () => boolean,
    private readonly onDereg: (mr: MemoryRegion, registration: Registration) => void,
  ) {
    this.registration = registration;
  }

  private live(): Registration {
    if (this.contextClosed()) throw new VerbsError('ENODEV', 'the device context of this memory region was closed');
    if (this.registration === null) throw new VerbsError('EINVAL', 'the memory region was deregistered');
    return this.registration;
  }

  get lkey(): number { return this.live().lkey; }
  get rkey(): number { return this.live().rkey; }
  /** Virtual address of buffer[0]: what SGEs and remote addresses name. */
  get addr(): number { return this.live().addr; }
  get length(): number { return this.live().buffer.byteLength; }
  get buffer(): Uint8Array { return this.live().buffer; }
  get access(): number { return this.live().access; }
  get deregistered(): boolean { return this.registration === null; }

  dereg(): void {
    const registration = this.live();
    this.registration = null;
    this.onDereg(this, registration);
  }
}
