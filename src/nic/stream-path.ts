import { NIC_LIMITS } from '../abi/limits.js';
import type { Transport, TransportCloseReason, TransportSink } from '../transport/types.js';
import type { DataPath, NicQp } from './qp.js';
import { DISCARD_AREA } from './discard-area.js';
import { closeGracefully } from './graceful-close.js';
import { pin, release, type Registration } from './memory.js';
import { resolveSgl } from './sgl.js';
import type { RecvWqe, SendWqe } from './work-queues.js';

const HOLDING_BYTES = NIC_LIMITS.streamHoldingBytes;
const MAX_BATCH_CHUNKS = NIC_LIMITS.maxBatchChunks;

/** What the transport holds for the next read: a posted receive's SGE (its region pinned), the holding area, or nothing useful. */
type Lent = { kind: 'recv'; length: number; region: Registration } | { kind: 'holding'; length: number } | { kind: 'discard' };

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * The STREAM data path (DESIGN.md §3 extension): the peer is any TCP program. A SEND writes its
 * bytes raw, in one writev per doorbell, and completes when the kernel took them; arriving bytes
 * land straight in the head receive WR (one read, recv(2)-like: the WR completes after a short
 * read or when its SGEs are full). Bytes that arrive with no receive posted wait in a bounded
 * holding area (copied once, and counted); when it fills, reading stops and TCP pushes back.
 */
export class StreamPath implements DataPath {
  private transport: Transport | null = null;
  private readonly holding = new Uint8Array(HOLDING_BYTES);
  private holdStart = 0;
  private holdEnd = 0;
  private paused = false;
  private lent: Lent | null = null;
  /** Progress into the head receive WR. */
  private segmentIndex = 0;
  private segmentOffset = 0;
  private filled = 0;
  private cancelLinger: (() => void) | null = null;

  constructor(private readonly qp: NicQp) {}

  /** Sends handed to the kernel whose write has not completed. */
  get inFlight(): number {
    return this.qp.sq.inFlight;
  }

  attach(transport: Transport): void {
    if (this.transport !== null) throw new Error('StreamPath invariant: a transport is already attached');
    this.transport = transport;
    this.qp.services.trackTransport(transport);
    // Bytes the socket buffered before the handover are delivered after the modify returns.
    this.qp.services.clock.defer(() => {
      if (this.transport === transport) transport.start(this.sinkFor(transport));
    });
  }

  /**
   * The transport's view of this path. A transport detached by RESET may report its close after
   * a new one was attached: only the current one's events count.
   */
  private sinkFor(transport: Transport): TransportSink {
    return {
      nextReadTarget: () => (this.transport === transport ? this.nextReadTarget() : DISCARD_AREA),
      onBytes: (count) => {
        if (this.transport === transport) this.onBytes(count);
      },
      onClose: (reason) => {
        if (this.transport === transport) this.onClose(reason);
      },
    };
  }

  startSending(): void {
    // Raw bytes have no sequence numbers: nothing to start.
  }

  onRecvPosted(): void {
    this.guard(() => this.drainHolding());
  }

  stopTimers(): void {
    // No ACKs, no timers: TCP's own retransmission is the only one.
  }

  shutdown(): void {
    this.resetReceive();
    const transport = this.transport;
    if (transport === null || transport.closed || this.cancelLinger !== null) return;
    // The receive buffer lent for the next read was flushed back to the application.
    transport.retarget();
    this.cancelLinger = closeGracefully(transport, this.qp.services.clock);
  }

  private resetReceive(): void {
    this.filled = this.segmentIndex = this.segmentOffset = 0;
    this.holdStart = this.holdEnd = 0;
    this.releaseLent();
  }

  /** The receive segment lent to the transport is not going to be read into any more. */
  private releaseLent(): void {
    if (this.lent?.kind === 'recv') release([this.lent.region]);
    this.lent = null;
  }

  detach(): void {
    const transport = this.transport;
    this.transport = null;
    this.resetReceive();
    this.paused = false;
    this.cancelLinger?.();
    this.cancelLinger = null;
    if (transport !== null) {
      transport.close();
      this.qp.services.retireTransport(transport);
    }
  }

  /** Every queued SEND goes out raw, one writev per IOV_MAX chunks; each completes once the kernel has its bytes. */
  transmit(): void {
    this.guard(() => this.transmitQueued());
  }

  private transmitQueued(): void {
    const { qp } = this;
    const transport = this.transport;
    if (transport === null || transport.closed) return;
    const chunks: Uint8Array[] = [];
    const batch: SendWqe[] = [];
    for (let wqe = qp.sq.peekQueued(); wqe !== undefined; wqe = qp.sq.peekQueued()) {
      let views: readonly Uint8Array[];
      if (wqe.inline !== null) {
        views = [wqe.inline];
      } else {
        const resolved = resolveSgl(qp.services.memory, qp.init.pdHandle, wqe.sgList, 'read');
        if (!resolved.ok) {
          // Completes (and fails the QP) once those before it are done.
          qp.sq.failAtCursor(wqe, 'LOC_PROT_ERR', { kind: 'LOCAL_ERROR', fault: 'access', reason: `send WR ${wqe.wrId}: ${resolved.reason}` });
          break;
        }
        views = resolved.views;
        // The kernel may read the views after this call (writes queued under backpressure).
        wqe.pinned = resolved.regions;
        pin(resolved.regions);
      }
      qp.sq.markSent(wqe, 0);
      qp.services.observer?.started?.(qp.qpNum, 'send', wqe.wrId);
      chunks.push(...views);
      batch.push(wqe);
    }
    // Each WQE with the post it was sent for: its slot may hold a later WR once it is done.
    const serials = batch.map((wqe) => wqe.serial);
    const complete = () => this.guard(() => {
      batch.forEach((wqe, i) => {
        if (wqe.phase === 'inFlight' && wqe.serial === serials[i]) qp.sq.finish(wqe, 'SUCCESS');
      });
      qp.completer.completeSends();
    });
    qp.services.counters.bytesSent += chunks.reduce((sum, c) => sum + c.byteLength, 0);
    if (chunks.length === 0) {
      if (batch.length > 0) qp.services.clock.defer(complete);
      else qp.completer.completeSends();
      return;
    }
    // The batch completes with its last writev (a transport completes writes in order).
    for (let start = 0; start < chunks.length; start += MAX_BATCH_CHUNKS) {
      const last = start + MAX_BATCH_CHUNKS >= chunks.length;
      transport.writev(chunks.slice(start, start + MAX_BATCH_CHUNKS), last ? complete : undefined);
    }
  }

  private guard(body: () => void): void {
    try {
      body();
    } catch (error) {
      this.qp.fail({ kind: 'LOCAL_ERROR', fault: 'fatal', reason: `internal error: ${describe(error)}` });
    }
  }

  // ---- receive: TransportSink ---------------------------------------------------------------

  nextReadTarget(): Uint8Array {
    const { qp } = this;
    this.releaseLent();
    if (qp.state === 'ERR' || qp.state === 'RESET') {
      this.lent = { kind: 'discard' };
      return DISCARD_AREA;
    }
    const head = qp.rq.peek();
    if (head !== undefined && this.holdStart === this.holdEnd && head.sgList.some((sge) => sge.length > 0)) {
      const target = this.currentSegment(head);
      if (target !== null) {
        pin([target.region]);
        this.lent = { kind: 'recv', length: target.view.byteLength, region: target.region };
        return target.view;
      }
    }
    // currentSegment may have failed the QP (a receive WR with a dead lkey).
    if (this.qp.state === 'ERR') {
      this.lent = { kind: 'discard' };
      return DISCARD_AREA;
    }
    if (this.holdEnd === this.holding.byteLength) this.compactHolding();
    const free = this.holding.subarray(this.holdEnd);
    if (free.byteLength === 0) {
      // Full and paused: the transport needs a target anyway; nothing will be read into it.
      this.lent = { kind: 'discard' };
      return DISCARD_AREA;
    }
    this.lent = { kind: 'holding', length: free.byteLength };
    return free;
  }

  onBytes(count: number): void {
    const lent = this.lent;
    this.lent = null;
    if (lent?.kind === 'recv') release([lent.region]);
    const { counters } = this.qp.services;
    counters.bytesReceived += count;
    if (lent === null || lent.kind === 'discard') {
      counters.bytesDiscarded += count;
      return;
    }
    this.guard(() => {
      if (lent.kind === 'holding') {
        this.holdEnd += count;
        this.drainHolding();
        if (this.holdEnd - this.holdStart >= HOLDING_BYTES / 2 && !this.paused) this.pause();
        return;
      }
      const head = this.qp.rq.peek()!;
      this.filled += count;
      this.segmentOffset += count;
      const shortRead = count < lent.length;
      if (this.segmentOffset === head.sgList[this.segmentIndex]!.length) {
        this.segmentIndex++;
        this.segmentOffset = 0;
        // Empty SGEs hold nothing: a WR whose remaining SGEs are all empty is full.
        while (this.segmentIndex < head.sgList.length && head.sgList[this.segmentIndex]!.length === 0) this.segmentIndex++;
      }
      if (shortRead || this.segmentIndex >= head.sgList.length) this.finishRecv();
    });
  }

  onClose(reason: TransportCloseReason): void {
    this.cancelLinger?.();
    this.cancelLinger = null;
    if (this.transport !== null) this.qp.services.retireTransport(this.transport);
    if (reason.kind === 'local') return;
    this.guard(() => {
      if (this.filled > 0) this.finishRecv();
      const why = reason.kind === 'peer-closed' ? 'the peer closed the stream' : `the connection failed: ${reason.message}`;
      this.qp.fail({ kind: 'CONNECTION_LOST', reason: why });
    });
  }

  /** The unfilled rest of the head WR's current SGE, checked against the MR table. */
  private currentSegment(head: RecvWqe): { view: Uint8Array; region: Registration } | null {
    while (this.segmentIndex < head.sgList.length && head.sgList[this.segmentIndex]!.length === 0) this.segmentIndex++;
    const sge = head.sgList[this.segmentIndex];
    if (sge === undefined) return null;
    const resolved = resolveSgl(this.qp.services.memory, this.qp.init.pdHandle, [sge], 'write');
    if (!resolved.ok) {
      this.failRecv(head, resolved.reason);
      return null;
    }
    return { view: resolved.views[0]!.subarray(this.segmentOffset), region: resolved.regions[0]! };
  }

  private failRecv(head: RecvWqe, reason: string): void {
    this.qp.completer.completeRecv('LOC_PROT_ERR', 0, 'RECV', undefined, false);
    this.qp.fail({ kind: 'LOCAL_ERROR', fault: 'access', reason: `receive WR ${head.wrId}: ${reason}` });
  }

  private finishRecv(): void {
    const byteLen = this.filled;
    this.filled = 0;
    this.segmentIndex = 0;
    this.segmentOffset = 0;
    this.qp.completer.completeRecv('SUCCESS', byteLen, 'RECV', undefined, false);
  }

  /** Held bytes go to posted receives (the one copy STREAM makes, only when no receive was ready). */
  private drainHolding(): void {
    const { qp } = this;
    const heldBefore = this.holdEnd - this.holdStart;
    while (this.holdStart < this.holdEnd && qp.rq.length > 0 && qp.state !== 'ERR') {
      const head = qp.rq.peek()!;
      const resolved = resolveSgl(qp.services.memory, qp.init.pdHandle, head.sgList, 'write', this.holdEnd - this.holdStart);
      if (!resolved.ok) {
        this.failRecv(head, resolved.reason);
        return;
      }
      let copied = 0;
      for (const view of resolved.views) {
        view.set(this.holding.subarray(this.holdStart, this.holdStart + view.byteLength));
        this.holdStart += view.byteLength;
        copied += view.byteLength;
      }
      qp.services.counters.rxPayloadBytesCopied += copied;
      qp.completer.completeRecv('SUCCESS', copied, 'RECV', undefined, false);
    }
    if (this.holdStart === this.holdEnd) {
      this.holdStart = 0;
      this.holdEnd = 0;
    }
    if (this.paused && this.holdEnd - this.holdStart < HOLDING_BYTES / 2) this.resume();
    // The holding window moved under a target lent to the transport (or a receive can now take the
    // bytes directly): lend afresh, or the next read would land at the old offset, unaccounted.
    else if (this.lent !== null && (this.holdEnd - this.holdStart !== heldBefore || (this.lent.kind === 'holding' && this.holdStart === this.holdEnd && qp.rq.length > 0))) this.transport?.retarget();
  }

  private compactHolding(): void {
    this.holding.copyWithin(0, this.holdStart, this.holdEnd);
    this.holdEnd -= this.holdStart;
    this.holdStart = 0;
  }

  private pause(): void {
    if (this.transport?.pauseReading === undefined) return;
    this.paused = true;
    this.transport.pauseReading();
  }

  private resume(): void {
    this.paused = false;
    this.transport?.resumeReading?.();
    // What was lent while the area was full may be the discard area: lend again before reading.
    if (this.lent !== null) this.transport?.retarget();
  }
}
