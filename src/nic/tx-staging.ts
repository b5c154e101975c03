import { NIC_LIMITS } from '../abi/limits.js';

const { txStagingBytes: BLOCK_BYTES, txSpareBlocks: SPARE_BLOCKS } = NIC_LIMITS;

interface Block {
  readonly bytes: Uint8Array;
  /** Headers are encoded through this one view of the block (no `.buffer` lookup per frame). */
  readonly view: DataView;
  /**
   * Batches that point into this block and are not written yet, counting the one being built
   * from its first reservation here: no byte a batch points at is handed out again before the
   * kernel has it.
   */
  unwritten: number;
}

function newBlock(): Block {
  const bytes = new Uint8Array(BLOCK_BYTES);
  return { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), unwritten: 0 };
}

/**
 * Where a QP's transmit batches keep their headers and small payloads: blocks filled front to
 * back, each byte untouched from the moment a batch points at it until that batch is written
 * (the kernel reads it then). The current block restarts at its front whenever nothing in it
 * is waiting to be written, so a QP at steady state reuses one block and allocates nothing.
 */
export class TxStaging {
  /** Blocks this staging has allocated, the first included (each a zeroed 64 KiB). */
  blocksAllocated = 1;
  private current: Block = newBlock();
  private used = 0;
  /** Start of the bytes written into `current` since the last chunk was taken. */
  private runStart = 0;
  private readonly spare: Block[] = [];
  /** Blocks the batch being built points into (usually just `current`). */
  private touched: Block[] = [];
  private lastTouched: Block | null = null;

  /** The block reservations are made in: `reserve` returns offsets into it. */
  get block(): Uint8Array {
    return this.current.bytes;
  }

  /** A DataView of the whole of `block`. */
  get blockView(): DataView {
    return this.current.view;
  }

  /** Room for `bytes` contiguous bytes after what the current run holds; returns their offset in `block`. */
  reserve(bytes: number, takeRun: (run: Uint8Array) => void): number {
    if (bytes > BLOCK_BYTES) throw new RangeError(`TxStaging: ${bytes} bytes exceed a ${BLOCK_BYTES}-byte block`);
    if (this.current.unwritten === 0 && this.runStart === this.used) this.used = this.runStart = 0;
    if (this.used + bytes > BLOCK_BYTES) this.nextBlock(takeRun);
    // The block touched last is nearly always the current one: no scan of the list then.
    if (this.lastTouched !== this.current && !this.touched.includes(this.current)) {
      this.touched.push(this.current);
      this.lastTouched = this.current;
      this.current.unwritten++;
    }
    const at = this.used;
    this.used += bytes;
    return at;
  }

  /** The current block is full: its run is taken and a spare (or new) block becomes current. Out of line: rare, and reserve is inlined into every frame. */
  private nextBlock(takeRun: (run: Uint8Array) => void): void {
    this.takeRun(takeRun);
    this.current = this.spare.pop() ?? this.allocate();
    this.used = this.runStart = 0;
  }

  private allocate(): Block {
    this.blocksAllocated++;
    return newBlock();
  }

  /** Gives back the last reservation (what it was for was refused before anything was written). */
  unreserve(bytes: number): void {
    if (this.used - bytes < this.runStart) throw new Error('TxStaging invariant: unreserve past the current run');
    this.used -= bytes;
  }

  /** Ends the current run: its bytes become one chunk of the batch. */
  takeRun(takeRun: (run: Uint8Array) => void): void {
    if (this.used > this.runStart) takeRun(this.current.bytes.subarray(this.runStart, this.used));
    this.runStart = this.used;
  }

  /**
   * The batch is complete and is written later: returns what to call once it is. A batch ends
   * with exactly one of seal and releaseBatch.
   */
  seal(): () => void {
    const blocks = this.touched;
    this.touched = [];
    this.lastTouched = null;
    let released = false;
    return () => {
      if (released) throw new Error('TxStaging invariant: a batch released twice');
      released = true;
      this.release(blocks);
    };
  }

  /**
   * The batch being built is written already (or never will be): its blocks are released now,
   * with no closure and no list made for it (a batch the kernel took at once, the usual case).
   */
  releaseBatch(): void {
    this.release(this.touched);
    this.touched.length = 0;
    this.lastTouched = null;
  }

  private release(blocks: readonly Block[]): void {
    for (let i = 0; i < blocks.length; i++) {
      const block = blocks[i]!;
      block.unwritten--;
      if (block.unwritten < 0) throw new Error('TxStaging invariant: a block released more often than it was used');
      if (block.unwritten === 0 && block !== this.current && this.spare.length < SPARE_BLOCKS) this.spare.push(block);
    }
  }
}
