/** One batch handed to the socket and not yet reported written. */
export interface Batch {
  readonly id: number;
  readonly chunks: readonly Uint8Array[];
  /** The batch's onWritten, then those of empty batches written after it (kept in order). */
  readonly onFlushed: Array<() => void>;
  /** In the kernel; its onWritten waits for the batches before it. */
  written: boolean;
}

/**
 * The socket transport's batches between writev and their report, oldest first. Writes straight
 * to the handle may complete out of order (libuv defers a write finished inside uv_write while a
 * later one completes at once), so a batch is reported once it and every batch before it are in
 * the kernel: always in writev order. Bounded by the NIC's own limit on unwritten batches
 * (NIC_LIMITS.maxUnwrittenBatches per QP), which it checks before every write.
 */
export class WriteOrder {
  private unflushed: Batch[] = [];
  /** The tail of `unflushed` not yet given to the socket (written before it existed). */
  private queued: Batch[] = [];
  private nextId = 1;

  /** Nothing waits to be reported: a batch written now cannot overtake one. */
  get idle(): boolean {
    return this.unflushed.length === 0;
  }

  /** A batch written now (`queue`: before the socket exists, it waits for it). */
  add(chunks: readonly Uint8Array[], onWritten: (() => void) | undefined, queue: boolean): Batch {
    const batch: Batch = { id: this.nextId++, chunks, onFlushed: onWritten === undefined ? [] : [onWritten], written: false };
    this.unflushed.push(batch);
    if (queue) this.queued.push(batch);
    return batch;
  }

  /** An empty batch's onWritten: after the newest batch's, or (none waiting) false: report it yourself. */
  addEmpty(onWritten: () => void): boolean {
    const tail = this.unflushed.at(-1);
    if (tail === undefined) return false;
    tail.onFlushed.push(onWritten);
    return true;
  }

  /** The batches written before the socket existed, now to be given to it, oldest first. */
  takeQueued(): Batch[] {
    const queued = this.queued;
    this.queued = [];
    return queued;
  }

  /**
   * Batch `id` is in the kernel: the onWritten callbacks now due, in order (none while an older
   * batch is not). Null if `id` is not a batch waiting to be written (an invariant broken).
   */
  flushed(id: number): Array<() => void> | null {
    const batch = this.unflushed.find((b) => b.id === id);
    if (batch === undefined || batch.written) return null;
    batch.written = true;
    if (!this.unflushed[0]!.written) return NONE_DUE;
    const due: Array<() => void> = [];
    while (this.unflushed.length > 0 && this.unflushed[0]!.written) due.push(...this.unflushed.shift()!.onFlushed);
    return due;
  }

  /** The stream is gone: nothing will be written or reported. */
  clear(): void {
    this.unflushed = [];
    this.queued = [];
  }
}

const NONE_DUE: Array<() => void> = [];

/**
 * The bytes of a batch's chunks, or -1 if one of them is empty. Throws TypeError for a chunk that
 * is not a Uint8Array: the kernel would be handed something else.
 */
export function batchBytes(chunks: readonly Uint8Array[]): number {
  let bytes = 0;
  let empty = false;
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i];
    if (!(chunk instanceof Uint8Array)) throw new TypeError('writev: every chunk must be a Uint8Array');
    if (chunk.byteLength === 0) empty = true;
    bytes += chunk.byteLength;
  }
  return empty ? -1 : bytes;
}
