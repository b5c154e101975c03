import { encodeHeaderIn, requireCode } from '../wire/encode.js';
import { headerBytesForCode, type FrameHeader } from '../wire/frame.js';
import type { Scheduler, Transport } from '../transport/types.js';
import { NIC_LIMITS } from '../abi/limits.js';
import { TxStaging } from './tx-staging.js';

const { maxBatchChunks: MAX_BATCH_CHUNKS, maxUnwrittenBatches: MAX_UNWRITTEN_BATCHES, txCopybreakBytes: TX_COPYBREAK, ackCoalesceRequests: ACK_COALESCE, ackCoalesceBytes: ACK_COALESCE_BYTES } = NIC_LIMITS;

// Not frozen: a frozen array's elements kind sends optimized keyed loads to V8's generic IC.
const NO_PAYLOAD: readonly Uint8Array[] = [];

export interface TxCounters {
  framesSent: number;
  bytesSent: number;
  /** Small payloads packed behind their headers (and inline data, copied once, at post). */
  txPayloadBytesCopied: number;
}

/**
 * Collects the frames of one turn of the NIC (a doorbell, or the ACKs and responses produced while
 * handling received frames) and hands them to the kernel as one writev. Headers, and payloads
 * below the transmit copybreak, are packed one after another into a staging block, so a run of
 * small frames is one iovec; a larger payload is its own iovec, a view of registered memory, never
 * copied.
 */
export class TxBatch {
  private chunks: Uint8Array[] = [];
  private readonly staging = new TxStaging();
  private readonly takeChunk = (chunk: Uint8Array): void => { this.chunks.push(chunk); };
  private pendingAckPsn: number | null = null;
  private readonly ackHeader: { opcode: 'ACK'; flags: 0; psn: number; payloadLength: 0 } = { opcode: 'ACK', flags: 0, psn: 0, payloadLength: 0 };
  /** Requests, and their payload bytes, that the pending ACK covers and no ACK was sent for yet. */
  private unackedRequests = 0;
  private unackedBytes = 0;
  private flushScheduled = false;
  private lastOpcode: FrameHeader['opcode'] | null = null;
  private lastCode = 0;
  private unwritten = 0;

  constructor(
    private readonly transport: Transport,
    private readonly counters: TxCounters,
    private readonly scheduler: Scheduler,
    private readonly onOverflow: () => void,
  ) {}

  /**
   * `owned`: the payload is already the NIC's own copy (inline data, copied at post); it goes out
   * as it is and is never copied a second time.
   */
  frame(header: FrameHeader, payload: readonly Uint8Array[] = NO_PAYLOAD, owned = false): void {
    // Responses and NAKs must not overtake the ACK of requests handled before them.
    if (header.opcode !== 'ACK') this.emitPendingAck();
    let length = 0;
    for (let i = 0; i < payload.length; i++) length += payload[i]!.byteLength;
    if (length !== header.payloadLength) throw new Error(`TxBatch invariant: ${header.opcode} payload ${length} != header ${header.payloadLength}`);
    const packed = !owned && length < TX_COPYBREAK;
    // The opcode is looked up once: its code gives the header's length and is encoded.
    // lastCode 0 is no opcode (none remembered yet): a header whose opcode is null is looked up, and refused.
    const code = this.lastCode !== 0 && header.opcode === this.lastOpcode ? this.lastCode : this.codeOf(header.opcode);
    const headerBytes = headerBytesForCode(code);
    const room = headerBytes + (packed ? length : 0);
    const at = this.staging.reserve(room, this.takeChunk);
    const block = this.staging.block;
    try {
      encodeHeaderIn(header, this.staging.blockView, at, code);
    } catch (error) {
      // Nothing of a refused header may go out: its room is given back before the error goes on.
      this.staging.unreserve(room);
      throw error;
    }
    if (packed) {
      let offset = at + headerBytes;
      for (let i = 0; i < payload.length; i++) {
        block.set(payload[i]!, offset);
        offset += payload[i]!.byteLength;
      }
      this.counters.txPayloadBytesCopied += length;
    } else {
      this.staging.takeRun(this.takeChunk);
      for (let i = 0; i < payload.length; i++) if (payload[i]!.byteLength > 0) this.chunks.push(payload[i]!);
    }
    this.counters.framesSent++;
  }

  /** Bytes sent as they are (the HELLO), after everything queued before them. */
  raw(bytes: Uint8Array): void {
    const at = this.staging.reserve(bytes.byteLength, this.takeChunk);
    this.staging.block.set(bytes, at);
  }

  /**
   * The wire code of `opcode`, remembered: a batch's frames are mostly of one opcode (a doorbell's
   * SENDs, a responder's ACKs), so frame() then compares instead of looking the name up. The
   * lookup's switch, inlined into frame, used up V8's inlining budget there, and the header's
   * writer was called instead of inlined (0.3 µs of a 32-frame doorbell, 64 B send_bw).
   */
  private codeOf(opcode: FrameHeader['opcode']): number {
    const code = requireCode(opcode);
    this.lastOpcode = opcode;
    this.lastCode = code;
    return code;
  }

  /** Coalesces acknowledgements: only the newest cumulative ACK of a turn goes out. */
  ack(psn: number, payloadBytes: number): void {
    this.pendingAckPsn = psn;
    this.unackedBytes += payloadBytes;
    if (++this.unackedRequests >= ACK_COALESCE || this.unackedBytes >= ACK_COALESCE_BYTES) this.flush();
    else this.flushSoon();
  }

  /** The coalesced ACK, if one is pending, as the next frame of the batch. */
  private emitPendingAck(): void {
    const psn = this.pendingAckPsn;
    if (psn === null) return;
    this.pendingAckPsn = null;
    this.unackedRequests = 0;
    this.unackedBytes = 0;
    // encodeHeaderIn reads the header at once: one object serves every ACK.
    this.ackHeader.psn = psn;
    this.frame(this.ackHeader);
  }

  /** Flushes after the current I/O phase, so that ACKs for frames read together share a write. */
  flushSoon(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.scheduler.soon(this.flushLater);
  }

  private readonly flushLater = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  flush(): void {
    this.emitPendingAck();
    this.staging.takeRun(this.takeChunk);
    if (this.chunks.length === 0 || this.transport.closed) {
      // Nothing will be written: the blocks it reserved are free again.
      this.chunks.length = 0;
      this.staging.releaseBatch();
      return;
    }
    if (this.chunks.length <= MAX_BATCH_CHUNKS && this.transport.writevAtOnce !== undefined) this.writeOne();
    else this.writeInParts();
  }

  /**
   * The batch as one writev, reported at once when the kernel took it in the call (the usual case):
   * then its blocks are free and its chunk list is reused, with nothing allocated for it.
   */
  private writeOne(): void {
    const batch = this.chunks;
    if (!this.admitWrite(batch)) {
      // Never written: the transport is failed by onOverflow, and the batch's blocks are free.
      batch.length = 0;
      this.staging.releaseBatch();
      return;
    }
    if (this.transport.writevAtOnce!(batch, this.oneWritten)) {
      this.unwritten--;
      this.staging.releaseBatch();
      batch.length = 0;
      return;
    }
    // Reported later, in order: the releases wait in the order of their batches.
    this.pendingReleases.push(this.staging.seal());
    this.chunks = [];
  }

  /** One more batch on its way to the kernel, counted; false (and onOverflow) past maxUnwrittenBatches. */
  private admitWrite(batch: readonly Uint8Array[]): boolean {
    if (++this.unwritten > MAX_UNWRITTEN_BATCHES) {
      this.onOverflow();
      return false;
    }
    for (let i = 0; i < batch.length; i++) this.counters.bytesSent += batch[i]!.byteLength;
    return true;
  }

  /** The oldest batch written by writeOne and not reported at once is in the kernel. */
  private readonly oneWritten = (): void => {
    this.unwritten--;
    const release = this.pendingReleases.shift();
    if (release === undefined) throw new Error('TxBatch invariant: a batch reported written that was not waiting');
    release();
  };

  /** Releases of writeOne's batches not yet reported, oldest first (at most maxUnwrittenBatches). */
  private readonly pendingReleases: (() => void)[] = [];

  private writeInParts(): void {
    const released = this.staging.seal();
    const all = this.chunks;
    this.chunks = [];
    // One writev per IOV_MAX chunks: a doorbell of thousands of WRs takes a few syscalls, not thousands.
    for (let start = 0; start < all.length; start += MAX_BATCH_CHUNKS) {
      const batch = start === 0 && all.length <= MAX_BATCH_CHUNKS ? all : all.slice(start, start + MAX_BATCH_CHUNKS);
      const last = start + MAX_BATCH_CHUNKS >= all.length;
      if (!this.admitWrite(batch)) return;
      this.transport.writev(batch, last ? () => { this.unwritten--; released(); } : () => { this.unwritten--; });
    }
  }
}
