import { VerbsError } from '../abi/errors.js';
import type { MrInfo } from '../provider/ops.js';

/** ibv_mr: a registered buffer with its keys. The keys die with `dereg()`. */
export class MemoryRegion {
  private info: MrInfo | null;

  constructor(
    info: MrInfo,
    private readonly contextClosed: () => boolean,
    /** Asks the provider to deregister; throws (and the MR stays registered) when it refuses. */
    private readonly onDereg: (mr: MemoryRegion, info: MrInfo) => void,
  ) {
    this.info = info;
  }

  private live(): MrInfo {
    if (this.contextClosed()) throw new VerbsError('ENODEV', 'the device context of this memory region was closed');
    if (this.info === null) throw new VerbsError('EINVAL', 'the memory region was deregistered');
    return this.info;
  }

  get lkey(): number { return this.live().lkey; }
  get rkey(): number { return this.live().rkey; }
  /** Virtual address of buffer[0]: what SGEs and remote addresses name. */
  get addr(): number { return this.live().addr; }
  get length(): number { return this.live().buffer.byteLength; }
  get buffer(): Uint8Array { return this.live().buffer; }
  get access(): number { return this.live().access; }
  get deregistered(): boolean { return this.info === null; }

  /** ibv_dereg_mr: EBUSY while a posted WR or a transfer in progress may still touch the region. */
  dereg(): void {
    const info = this.live();
    this.onDereg(this, info);
    this.info = null;
  }
}
