import type { TimerHandle } from '../transport/types.js';
import { psnAdd, psnDistance, type FrameHeader } from '../wire/frame.js';
import type { Placement } from './rx-parser.js';
import type { QpEngine } from './qp-engine.js';
import { RNR_TIMER_MS, ackTimeoutMs, isReadOrAtomic, type SendWqe } from './work-queues.js';

const RNR_FOREVER = 7;

/**
 * The requester half of an RC QP (siw's qp_tx): turns posted send WQEs into frames, one writev per
 * doorbell, and retires them on ACK, NAK or response. TCP never loses bytes, so nothing is
 * retransmitted on timeout: `timeout` × (`retry_cnt` + 1) of silence ends the QP with RETRY_EXC_ERR.
 * An RNR NAK or a PSN sequence NAK rewinds to the NAKed WQE and sends it and everything after it
 * again (go-back-N), as the responder drops what follows a NAK.
 */
export class Requester {
  private nextPsn = 0;
  private outstandingRdAtomic = 0;
  private retriesLeft = 0;
  private ackTimer: TimerHandle | null = null;
  private progressSinceArm = false;
  private rnrTimer: TimerHandle | null = null;

  constructor(private readonly qp: QpEngine) {}

  reset(sqPsn: number): void {
    this.stopTimers();
    this.nextPsn = sqPsn;
    this.outstandingRdAtomic = 0;
    this.retriesLeft = this.qp.attrs.retryCnt;
  }

  get inFlight(): number {
    let count = 0;
    for (const wqe of this.qp.sq) if (wqe.phase === 'inFlight') count++;
    return count;
  }

  /** Sends every queued WQE the state, FENCE and the READ/atomic limit allow, as one batch. */
  pump(): void {
    const { qp } = this;
    const tx = qp.tx;
    if (qp.state !== 'RTS' || tx === null || this.rnrTimer !== null) return;
    let sent = 0;
    while (qp.sqNext < qp.sq.length) {
      const wqe = qp.sq[qp.sqNext]!;
      if (wqe.phase !== 'queued') throw new Error(`Requester invariant: WQE ${wqe.wrId} at sqNext is ${wqe.phase}`);
      if (wqe.fence && this.outstandingRdAtomic > 0) break;
      if (isReadOrAtomic(wqe.opcode) && this.outstandingRdAtomic >= Math.max(1, qp.attrs.maxRdAtomic)) break;
      if (wqe.local === null && !this.resolveLocal(wqe)) {
        // Completes in order once everything before it has; the QP fails then.
        qp.sqNext++;
        qp.completeSends();
        return this.finishPump(sent);
      }
      this.transmit(wqe);
      qp.sqNext++;
      sent++;
    }
    this.finishPump(sent);
  }

  private finishPump(sent: number): void {
    if (sent > 0) {
      this.qp.tx?.flush();
      this.armAckTimer();
    }
  }

  /** Checks the WQE's SGEs against the MR table at execution time, as hardware does. */
  private resolveLocal(wqe: SendWqe): boolean {
    const needsWrite = isReadOrAtomic(wqe.opcode);
    if (wqe.inline !== null) {
      wqe.local = [wqe.inline];
      return true;
    }
    const views: Uint8Array[] = [];
    for (const sge of wqe.sgList) {
      const check = this.qp.nic.memory.checkLocal(this.qp.init.pdHandle, sge.lkey, sge.addr, sge.length, needsWrite);
      if (!check.ok) {
        wqe.phase = 'done';
        wqe.status = 'LOC_PROT_ERR';
        wqe.errorCause = { kind: 'LOCAL_ERROR', fault: 'access', reason: `send WR ${wqe.wrId}: ${check.reason}` };
        return false;
      }
      views.push(check.view);
    }
    wqe.local = views;
    return true;
  }

  private transmit(wqe: SendWqe): void {
    const tx = this.qp.tx!;
    const flags = (wqe.solicited ? 1 : 0) | (wqe.fence ? 2 : 0);
    const psn = this.nextPsn;
    this.nextPsn = psnAdd(this.nextPsn, 1);
    if (wqe.phase === 'queued' && wqe.psn === -1) wqe.rnrRetriesLeft = this.qp.attrs.rnrRetry === RNR_FOREVER ? Infinity : this.qp.attrs.rnrRetry;
    wqe.psn = psn;
    wqe.phase = 'inFlight';
    const local = wqe.local ?? [];
    switch (wqe.opcode) {
      case 'SEND':
        tx.frame({ opcode: 'SEND', flags, psn, payloadLength: wqe.length }, local);
        break;
      case 'SEND_WITH_IMM':
        tx.frame({ opcode: 'SEND_WITH_IMM', flags, psn, payloadLength: wqe.length, immData: wqe.immData ?? 0 }, local);
        break;
      case 'RDMA_WRITE':
      case 'RDMA_WRITE_WITH_IMM':
        tx.frame({
          opcode: wqe.opcode, flags, psn, payloadLength: wqe.length, remoteAddr: wqe.remote!.addr, rkey: wqe.remote!.rkey,
          ...(wqe.opcode === 'RDMA_WRITE_WITH_IMM' ? { immData: wqe.immData ?? 0 } : {}),
        }, local);
        break;
      case 'RDMA_READ':
        this.outstandingRdAtomic++;
        tx.frame({ opcode: 'RDMA_READ_REQUEST', flags, psn, payloadLength: 0, remoteAddr: wqe.remote!.addr, rkey: wqe.remote!.rkey, length: wqe.length });
        break;
      case 'ATOMIC_CMP_AND_SWP':
      case 'ATOMIC_FETCH_AND_ADD':
        this.outstandingRdAtomic++;
        tx.frame({
          opcode: wqe.opcode, flags, psn, payloadLength: 0, remoteAddr: wqe.remote!.addr, rkey: wqe.remote!.rkey,
          compareAdd: wqe.atomic!.compareAdd, swap: wqe.opcode === 'ATOMIC_CMP_AND_SWP' ? wqe.atomic!.swap : 0n,
        });
        break;
    }
    this.qp.nic.observer?.started?.(this.qp.qpNum, 'send', wqe.wrId);
  }

  // ---- responses from the peer's responder --------------------------------------------------

  onResponse(header: FrameHeader): Placement {
    const { qp } = this;
    if (qp.state !== 'RTS' && qp.state !== 'SQD') return this.protocolError(`${header.opcode} received while the QP is ${qp.state}`);
    const oldest = qp.sq.find((w) => w.phase === 'inFlight');
    if (oldest === undefined) {
      // IB discards a duplicate ACK for work already acknowledged; anything else is a peer bug.
      if (header.opcode === 'ACK' && psnDistance(header.psn, this.nextPsn) > 0) return { kind: 'discard' };
      return this.protocolError(`${header.opcode} for PSN ${header.psn} with nothing in flight`);
    }
    switch (header.opcode) {
      case 'ACK':
        return this.onAck(header.psn);
      case 'NAK':
        return this.onNak(header.psn, header.code, header.rnrTimer);
      case 'RDMA_READ_RESPONSE': {
        const wqe = this.answeredWqe(header.psn, 'RDMA_READ');
        if (wqe === null) return this.protocolError(`READ response for PSN ${header.psn} answers no outstanding READ`);
        if (header.payloadLength !== wqe.length) return this.protocolError(`READ response of ${header.payloadLength} bytes for a ${wqe.length}-byte READ`);
        return { kind: 'place', segments: wqe.local ?? [], done: () => this.retire(wqe) };
      }
      case 'ATOMIC_RESPONSE': {
        const wqe = this.answeredWqe(header.psn, 'ATOMIC');
        if (wqe === null) return this.protocolError(`atomic response for PSN ${header.psn} answers no outstanding atomic`);
        const destination = wqe.local?.[0];
        if (destination !== undefined) new DataView(destination.buffer, destination.byteOffset, 8).setBigUint64(0, header.original, true);
        this.retire(wqe);
        return { kind: 'discard' };
      }
      default:
        return this.protocolError(`unexpected ${header.opcode}`);
    }
  }

  /** A READ/atomic response implicitly acknowledges every earlier request. */
  private answeredWqe(psn: number, kind: 'RDMA_READ' | 'ATOMIC'): SendWqe | null {
    const wqe = this.qp.sq.find((w) => w.phase === 'inFlight' && w.psn === psn);
    if (wqe === undefined) return null;
    if (kind === 'RDMA_READ' ? wqe.opcode !== 'RDMA_READ' : !wqe.opcode.startsWith('ATOMIC')) return null;
    this.ackThrough(psnAdd(psn, -1 & 0xffffff));
    return wqe;
  }

  private retire(wqe: SendWqe): void {
    wqe.phase = 'done';
    wqe.status = 'SUCCESS';
    this.outstandingRdAtomic--;
    this.progress();
  }

  private onAck(psn: number): Placement {
    if (psnDistance(psn, this.nextPsn) <= 0) return this.protocolError(`ACK for PSN ${psn}, beyond anything sent (next PSN ${this.nextPsn})`);
    this.ackThrough(psn);
    this.progress();
    return { kind: 'discard' };
  }

  /** Marks done every in-flight SEND/WRITE up to `psn` (READs and atomics wait for their responses). */
  private ackThrough(psn: number): void {
    for (const wqe of this.qp.sq) {
      if (wqe.phase !== 'inFlight' || psnDistance(wqe.psn, psn) < 0) continue;
      if (isReadOrAtomic(wqe.opcode)) continue;
      wqe.phase = 'done';
      wqe.status = 'SUCCESS';
    }
  }

  private onNak(psn: number, code: string, rnrTimer: number): Placement {
    const wqe = this.qp.sq.find((w) => w.phase === 'inFlight' && w.psn === psn);
    if (wqe === undefined) return this.protocolError(`NAK ${code} for PSN ${psn}, which is not in flight`);
    this.ackThrough(psnAdd(psn, 0xffffff));
    switch (code) {
      case 'RNR':
        if (wqe.rnrRetriesLeft <= 0) {
          this.finish(wqe, 'RNR_RETRY_EXC_ERR', { kind: 'RETRY_EXCEEDED', rnr: true, reason: `send WR ${wqe.wrId}: receiver not ready after ${this.qp.attrs.rnrRetry} retries` });
        } else {
          wqe.rnrRetriesLeft--;
          this.rewindTo(wqe);
          this.stopAckTimer();
          this.rnrTimer = this.qp.nic.clock.setTimer(RNR_TIMER_MS[rnrTimer] ?? RNR_TIMER_MS[0]!, () => {
            this.rnrTimer = null;
            this.pump();
          });
        }
        break;
      case 'PSN_SEQUENCE_ERROR':
        if (this.retriesLeft <= 0) {
          this.finish(wqe, 'RETRY_EXC_ERR', { kind: 'RETRY_EXCEEDED', rnr: false, reason: `PSN sequence errors persisted after ${this.qp.attrs.retryCnt} retries` });
        } else {
          this.retriesLeft--;
          this.rewindTo(wqe);
          this.pump();
        }
        break;
      case 'INVALID_REQUEST':
        this.finish(wqe, 'REM_INV_REQ_ERR', { kind: 'REMOTE_NAK', nak: 'REM_INV_REQ_ERR', reason: `send WR ${wqe.wrId}: the responder rejected the request as invalid` });
        break;
      case 'REMOTE_ACCESS_ERROR':
        this.finish(wqe, 'REM_ACCESS_ERR', { kind: 'REMOTE_NAK', nak: 'REM_ACCESS_ERR', reason: `send WR ${wqe.wrId}: remote access error (rkey, bounds or permissions)` });
        break;
      default:
        this.finish(wqe, 'REM_OP_ERR', { kind: 'REMOTE_NAK', nak: 'REM_OP_ERR', reason: `send WR ${wqe.wrId}: the responder could not complete the operation` });
        break;
    }
    return { kind: 'discard' };
  }

  private finish(wqe: SendWqe, status: SendWqe['status'], cause: SendWqe['errorCause']): void {
    wqe.phase = 'done';
    wqe.status = status;
    wqe.errorCause = cause;
    if (isReadOrAtomic(wqe.opcode)) this.outstandingRdAtomic--;
    this.qp.completeSends();
  }

  /** Go-back-N: `wqe` and everything after it is sent again with the same PSNs. */
  private rewindTo(wqe: SendWqe): void {
    const index = this.qp.sq.indexOf(wqe);
    for (let i = index; i < this.qp.sq.length; i++) {
      const later = this.qp.sq[i]!;
      if (later.phase !== 'inFlight') continue;
      if (isReadOrAtomic(later.opcode)) this.outstandingRdAtomic--;
      later.phase = 'queued';
    }
    this.qp.sqNext = index;
    this.nextPsn = wqe.psn;
    this.qp.completeSends();
  }

  private progress(): void {
    this.progressSinceArm = true;
    this.retriesLeft = this.qp.attrs.retryCnt;
    this.qp.completeSends();
    if (this.qp.state === 'RTS') this.pump();
    if (this.inFlight === 0) this.stopAckTimer();
  }

  private protocolError(reason: string): Placement {
    this.qp.fail({ kind: 'LOCAL_ERROR', fault: 'invalid-request', reason: `protocol error from the peer: ${reason}` });
    return { kind: 'discard' };
  }

  // ---- timers ---------------------------------------------------------------------------------

  private armAckTimer(): void {
    const ms = ackTimeoutMs(this.qp.attrs.timeout);
    if (this.ackTimer !== null || !Number.isFinite(ms)) return;
    this.progressSinceArm = false;
    this.ackTimer = this.qp.nic.clock.setTimer(ms, () => this.onAckTimeout());
  }

  private onAckTimeout(): void {
    this.ackTimer = null;
    if (this.inFlight === 0 || (this.qp.state !== 'RTS' && this.qp.state !== 'SQD')) return;
    if (!this.progressSinceArm) {
      if (this.retriesLeft <= 0) {
        const oldest = this.qp.sq.find((w) => w.phase === 'inFlight')!;
        this.finish(oldest, 'RETRY_EXC_ERR', { kind: 'RETRY_EXCEEDED', rnr: false, reason: `no response from the peer within ${this.qp.attrs.retryCnt + 1} local ACK timeouts` });
        return;
      }
      this.retriesLeft--;
    }
    this.armAckTimer();
  }

  private stopAckTimer(): void {
    if (this.ackTimer !== null) this.qp.nic.clock.clearTimer(this.ackTimer);
    this.ackTimer = null;
  }

  stopTimers(): void {
    this.stopAckTimer();
    if (this.rnrTimer !== null) this.qp.nic.clock.clearTimer(this.rnrTimer);
    this.rnrTimer = null;
  }
}
