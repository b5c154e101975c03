import { FRAME_HEADER_BYTES, encodeHeader, type FrameHeader } from '../wire/frame.js';
import type { Scheduler, Transport } from '../transport/types.js';
import { NIC_LIMITS } from '../abi/limits.js';

const { maxBatchChunks: MAX_BATCH_CHUNKS, maxUnwrittenBatches: MAX_UNWRITTEN_BATCHES } = NIC_LIMITS;

export interface TxCounters {
  framesSent: number;
  bytesSent: number;
}

/**
 * Collects the frames of one turn of the NIC (a doorbell, or the ACKs and responses produced while
 * handling received frames) and hands them to the kernel as one writev. Payload chunks are views of
 * registered memory, never copies.
 */
export class TxBatch {
  private chunks: Uint8Array[] = [];
  private pendingAckPsn: number | null = null;
  private flushScheduled = false;
  private unwritten = 0;

  constructor(
    private readonly transport: Transport,
    private readonly counters: TxCounters,
    private readonly scheduler: Scheduler,
    private readonly onOverflow: () => void,
  ) {}

  frame(header: FrameHeader, payload: readonly Uint8Array[] = []): void {
    // Responses and NAKs must not overtake the ACK of requests handled before them.
    if (this.pendingAckPsn !== null && header.opcode !== 'ACK') {
      const psn = this.pendingAckPsn;
      this.pendingAckPsn = null;
      this.frame({ opcode: 'ACK', flags: 0, psn, payloadLength: 0 });
    }
    const bytes = new Uint8Array(FRAME_HEADER_BYTES);
    encodeHeader(header, bytes);
    this.chunks.push(bytes);
    let length = 0;
    for (const chunk of payload) {
      if (chunk.byteLength === 0) continue;
      this.chunks.push(chunk);
      length += chunk.byteLength;
    }
    if (length !== header.payloadLength) throw new Error(`TxBatch invariant: ${header.opcode} payload ${length} != header ${header.payloadLength}`);
    this.counters.framesSent++;
  }

  raw(bytes: Uint8Array): void {
    this.chunks.push(bytes);
  }

  /** Coalesces acknowledgements: only the newest cumulative ACK of a turn goes out. */
  ack(psn: number): void {
    this.pendingAckPsn = psn;
    this.flushSoon();
  }

  /** Flushes after the current I/O phase, so that ACKs for frames read together share a write. */
  flushSoon(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.scheduler.soon(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  flush(): void {
    if (this.pendingAckPsn !== null) {
      this.frame({ opcode: 'ACK', flags: 0, psn: this.pendingAckPsn, payloadLength: 0 });
      this.pendingAckPsn = null;
    }
    if (this.chunks.length === 0 || this.transport.closed) {
      this.chunks = [];
      return;
    }
    const all = this.chunks;
    this.chunks = [];
    // One writev per IOV_MAX chunks: a doorbell of thousands of WRs takes a few syscalls, not thousands.
    for (let start = 0; start < all.length; start += MAX_BATCH_CHUNKS) {
      const batch = all.slice(start, start + MAX_BATCH_CHUNKS);
      this.unwritten++;
      if (this.unwritten > MAX_UNWRITTEN_BATCHES) {
        this.onOverflow();
        return;
      }
      for (const chunk of batch) this.counters.bytesSent += chunk.byteLength;
      this.transport.writev(batch, () => { this.unwritten--; });
    }
  }

  get hasPending(): boolean {
    return this.chunks.length > 0 || this.pendingAckPsn !== null;
  }
}
