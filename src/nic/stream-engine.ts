import type { Transport, TransportCloseReason, TransportSink } from '../transport/types.js';
import { QpEngine } from './qp-engine.js';
import type { SendWqe } from './work-queues.js';

/** Bytes a STREAM QP keeps when data arrives before a receive is posted (a socket buffer's job). */
export const STREAM_HOLDING_BYTES = 64 * 1024;
const DISCARD = new Uint8Array(4096);

type Lent = { kind: 'recv'; length: number } | { kind: 'holding'; length: number } | { kind: 'discard' };

/**
 * The STREAM QP (DESIGN.md §3 extension): the peer is any TCP program. A SEND writes its bytes
 * raw, in one writev per doorbell, and completes when the kernel took them; arriving bytes land
 * straight in the head receive WR (one read, recv(2)-like: the WR completes after a short read or
 * when its SGEs are full). Bytes that arrive with no receive posted wait in a bounded holding
 * area (copied once, and counted); when it fills, reading stops and TCP pushes back.
 */
export class StreamQpEngine extends QpEngine implements TransportSink {
  private readonly holding = new Uint8Array(STREAM_HOLDING_BYTES);
  private holdStart = 0;
  private holdEnd = 0;
  private paused = false;
  private lent: Lent | null = null;
  /** Progress into the head receive WR. */
  private segmentIndex = 0;
  private segmentOffset = 0;
  private filled = 0;

  override attach(transport: Transport): void {
    if (this.transport !== null) throw new Error('StreamQpEngine invariant: a transport is already attached');
    this.transport = transport;
    this.nic.trackTransport(transport);
    transport.start(this);
  }

  override onDoorbell(): void {
    if (this.state === 'RTS') this.transmit();
    else super.onDoorbell();
  }

  override onRecvPosted(): void {
    this.drainHolding();
  }

  /** Every queued SEND goes out raw in one writev; each completes once the kernel has its bytes. */
  private transmit(): void {
    const transport = this.transport;
    if (transport === null || transport.closed) return;
    const chunks: Uint8Array[] = [];
    const batch: SendWqe[] = [];
    while (this.sqNext < this.sq.length) {
      const wqe = this.sq[this.sqNext]!;
      let views: Uint8Array[];
      if (wqe.inline !== null) {
        views = [wqe.inline];
      } else {
        views = [];
        for (const sge of wqe.sgList) {
          const check = this.nic.memory.checkLocal(this.init.pdHandle, sge.lkey, sge.addr, sge.length, false);
          if (!check.ok) {
            wqe.phase = 'done';
            wqe.status = 'LOC_PROT_ERR';
            wqe.errorCause = { kind: 'LOCAL_ERROR', fault: 'access', reason: `send WR ${wqe.wrId}: ${check.reason}` };
            break;
          }
          views.push(check.view);
        }
        if (wqe.phase === 'done') break;
      }
      wqe.phase = 'inFlight';
      this.nic.observer?.started?.(this.qpNum, 'send', wqe.wrId);
      for (const view of views) if (view.byteLength > 0) chunks.push(view);
      batch.push(wqe);
      this.sqNext++;
    }
    const complete = () => {
      for (const wqe of batch) {
        if (wqe.phase !== 'inFlight') continue;
        wqe.phase = 'done';
        wqe.status = 'SUCCESS';
      }
      this.completeSends();
    };
    this.nic.counters.bytesSent += chunks.reduce((sum, c) => sum + c.byteLength, 0);
    if (chunks.length > 0) transport.writev(chunks, complete);
    else if (batch.length > 0) queueMicrotask(complete);
    // A WQE that failed its checks completes (and fails the QP) once those before it are done.
    if (this.sqNext < this.sq.length && this.sq[this.sqNext]!.phase === 'done') this.completeSends();
  }

  // ---- receive: TransportSink ---------------------------------------------------------------

  nextReadTarget(): Uint8Array {
    if (this.state === 'ERR' || this.state === 'RESET') {
      this.lent = { kind: 'discard' };
      return DISCARD;
    }
    const head = this.rq[0];
    if (head !== undefined && this.holdStart === this.holdEnd && this.hasRoom(head)) {
      const target = this.currentSegment(head);
      if (target !== null) {
        this.lent = { kind: 'recv', length: target.byteLength };
        return target;
      }
    }
    if (this.holdEnd === this.holding.byteLength) this.compactHolding();
    const free = this.holding.subarray(this.holdEnd);
    if (free.byteLength === 0) {
      // Full and paused: the transport needs a target anyway; nothing will be read into it.
      this.lent = { kind: 'discard' };
      return DISCARD;
    }
    this.lent = { kind: 'holding', length: free.byteLength };
    return free;
  }

  onBytes(count: number): void {
    const lent = this.lent;
    this.lent = null;
    if (lent === null) throw new Error('StreamQpEngine invariant: bytes without a lent target');
    this.nic.counters.bytesReceived += count;
    if (lent.kind === 'discard') {
      this.nic.counters.bytesDiscarded += count;
      return;
    }
    if (lent.kind === 'holding') {
      this.holdEnd += count;
      this.drainHolding();
      if (this.holdEnd - this.holdStart >= STREAM_HOLDING_BYTES / 2 && !this.paused) this.pause();
      return;
    }
    const head = this.rq[0]!;
    this.filled += count;
    this.segmentOffset += count;
    const shortRead = count < lent.length;
    if (this.segmentOffset === head.sgList[this.segmentIndex]!.length) {
      this.segmentIndex++;
      this.segmentOffset = 0;
    }
    if (shortRead || this.segmentIndex >= head.sgList.length) this.finishRecv();
  }

  override onClose(reason: TransportCloseReason): void {
    if (reason.kind === 'local') return;
    if (this.filled > 0) this.finishRecv();
    const why = reason.kind === 'peer-closed' ? 'the peer closed the stream' : `the connection failed: ${reason.message}`;
    this.fail({ kind: 'CONNECTION_LOST', reason: why });
  }

  private hasRoom(head: { sgList: readonly { length: number }[] }): boolean {
    return head.sgList.some((sge) => sge.length > 0);
  }

  /** The unfilled rest of the head WR's current SGE, checked against the MR table. */
  private currentSegment(head: QpEngine['rq'][number]): Uint8Array | null {
    while (this.segmentIndex < head.sgList.length && head.sgList[this.segmentIndex]!.length === 0) this.segmentIndex++;
    const sge = head.sgList[this.segmentIndex];
    if (sge === undefined) return null;
    const check = this.nic.memory.checkLocal(this.init.pdHandle, sge.lkey, sge.addr, sge.length, true);
    if (!check.ok) {
      this.completeRecv('LOC_PROT_ERR', 0, 'RECV', undefined, false);
      this.fail({ kind: 'LOCAL_ERROR', fault: 'access', reason: `receive WR ${head.wrId}: ${check.reason}` });
      return null;
    }
    return check.view.subarray(this.segmentOffset);
  }

  private finishRecv(): void {
    const byteLen = this.filled;
    this.filled = 0;
    this.segmentIndex = 0;
    this.segmentOffset = 0;
    this.completeRecv('SUCCESS', byteLen, 'RECV', undefined, false);
  }

  /** Held bytes go to posted receives (the one copy STREAM makes, only when no receive was ready). */
  private drainHolding(): void {
    while (this.holdStart < this.holdEnd && this.rq.length > 0 && this.state !== 'ERR') {
      const head = this.rq[0]!;
      let copied = 0;
      for (const sge of head.sgList) {
        if (this.holdStart === this.holdEnd) break;
        const take = Math.min(sge.length, this.holdEnd - this.holdStart);
        const check = this.nic.memory.checkLocal(this.init.pdHandle, sge.lkey, sge.addr, take, true);
        if (!check.ok) {
          this.completeRecv('LOC_PROT_ERR', 0, 'RECV', undefined, false);
          this.fail({ kind: 'LOCAL_ERROR', fault: 'access', reason: `receive WR ${head.wrId}: ${check.reason}` });
          return;
        }
        check.view.set(this.holding.subarray(this.holdStart, this.holdStart + take));
        this.holdStart += take;
        copied += take;
      }
      this.nic.counters.rxPayloadBytesCopied += copied;
      this.completeRecv('SUCCESS', copied, 'RECV', undefined, false);
    }
    if (this.holdStart === this.holdEnd) {
      this.holdStart = 0;
      this.holdEnd = 0;
    }
    if (this.paused && this.holdEnd - this.holdStart < STREAM_HOLDING_BYTES / 2) this.resume();
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
  }
}
