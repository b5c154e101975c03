/** One batch handed to the socket (or an empty one) and not yet reported written. */
export interface Batch {
  readonly id: number;
  readonly chunks: readonly Uint8Array[];
  readonly onWritten: (() => void) | undefined;
  /** In the kernel (an empty batch: as soon as its microtask runs); reported once every batch before it is. */
  written: boolean;
}

/**
 * The socket transport's batches between writev and their report, oldest first. Writes straight
 * to the handle may complete out of order (libuv defers a write finished inside uv_write while a
 * later one completes at once), so a batch is reported once it and every batch before it are in
 * the kernel: always in writev order. A batch is taken off as it is reported, one at a time, so
 * a write made from inside a report still sees the batches behind it waiting. Bounded by its
 * writers' limits: the NIC's transmit batch checks NIC_LIMITS.maxUnwrittenBatches per QP before
 * every write, a STREAM QP's writes are bounded by its send queue.
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
    const batch: Batch = { id: this.nextId++, chunks, onWritten, written: false };
    this.unflushed.push(batch);
    if (queue) this.queued.push(batch);
    return batch;
  }

  /** The batches written before the socket existed, now to be given to it, oldest first. */
  takeQueued(): Batch[] {
    const queued = this.queued;
    this.queued = [];
    return queued;
  }

  /** Batch `id` is in the kernel. False if `id` is not a batch waiting to be written (an invariant broken). */
  markWritten(id: number): boolean {
    const batch = this.unflushed.find((b) => b.id === id);
    if (batch === undefined || batch.written) return false;
    batch.written = true;
    return true;
  }

  /** The oldest batch, taken off, if it is written (so it is due to be reported); else undefined. */
  takeDue(): Batch | undefined {
    return this.unflushed.length > 0 && this.unflushed[0]!.written ? this.unflushed.shift() : undefined;
  }

  /** The stream is gone: nothing will be written or reported. */
  clear(): void {
    this.unflushed = [];
    this.queued = [];
  }
}


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
