import { NIC_LIMITS } from '../abi/limits.js';
import type { QpErrorCause } from '../abi/observer.js';
import type { WcStatus } from '../abi/types.js';
import type { TimerHandle } from '../transport/types.js';
import { FrameFlag, psnAdd, psnDistance, type FrameHeader } from '../wire/frame.js';
import type { NicQp } from './qp.js';
import type { RcPath } from './rc-path.js';
import { DISCARD, type Placement } from './rx-parser.js';
import { pin } from './memory.js';
import { LastResolution, resolveSglAgain } from './sgl.js';
import { RNR_TIMER_MS, ackTimeoutMs, isReadOrAtomic, type SendWqe } from './work-queues.js';

const RNR_FOREVER = 7;
const { txWriteSplitFrames: SPLIT_FRAMES, txWriteSplitBytes: SPLIT_BYTES } = NIC_LIMITS;

/**
 * rxe's requester: turns posted send WQEs into frames, one writev per doorbell (a doorbell of
 * many large frames in parts: NIC_LIMITS.txWriteSplitFrames), and retires them
 * on ACK, NAK or response. TCP never loses bytes, so nothing is retransmitted on timeout:
 * `timeout` × (`retry_cnt` + 1) without progress ends the QP with RETRY_EXC_ERR. An RNR NAK or a
 * PSN sequence NAK rewinds to the NAKed WQE and sends it and everything after it again
 * (go-back-N), as the responder drops what follows a NAK. A response that does not fit what is
 * in flight is a protocol error: it fails the QP (TERMINATE with the reason), it never throws.
 */
export class Requester {
  private nextPsn = 0;
  private outstandingRdAtomic = 0;
  private retriesLeft = 0;
  private ackTimer: TimerHandle | null = null;
  private progressSinceArm = false;
  private rnrTimer: TimerHandle | null = null;
  private readonly lastResolution = new LastResolution();
  private readonly sendHeader: { opcode: 'SEND'; flags: number; psn: number; payloadLength: number } = { opcode: 'SEND', flags: 0, psn: 0, payloadLength: 0 };

  constructor(private readonly qp: NicQp, private readonly path: RcPath) {}

  reset(sqPsn: number): void {
    this.stopTimers();
    this.lastResolution.clear();
    this.nextPsn = sqPsn;
    this.outstandingRdAtomic = 0;
    this.retriesLeft = this.qp.attrs.retryCnt;
  }

  /**
   * Sends every queued WQE the state, FENCE and the READ/atomic credits allow, as one batch: at
   * once for a doorbell; at the end of the I/O phase when progress read from the peer freed room
   * (`soon`), so the refills that a burst of ACKs and responses makes share one writev. A
   * doorbell of many large frames is written in parts (NIC_LIMITS.txWriteSplitFrames); a refill is
   * not: it leaves at the end of the I/O phase, never while a read is being handled.
   */
  pump(soon = false): void {
    const { qp, path } = this;
    if (qp.state !== 'RTS' || path.tx === null || this.rnrTimer !== null) return;
    let sent = 0;
    let unwrittenFrames = 0;
    let unwrittenPayload = 0;
    for (let wqe = qp.sq.peekQueued(); wqe !== undefined && qp.state === 'RTS'; wqe = qp.sq.peekQueued()) {
      if (wqe.fence && this.outstandingRdAtomic > 0) break;
      if (isReadOrAtomic(wqe.opcode) && this.outstandingRdAtomic >= path.readCredits) break;
      const refusal = this.admit(wqe);
      if (refusal !== null) {
        // Completes in order once everything before it has; the QP fails then.
        qp.sq.failAtCursor(wqe, refusal.status, refusal.cause);
        qp.completer.completeSends();
        break;
      }
      this.transmit(wqe);
      sent++;
      if (soon) continue; // a refill is written whole, at the end of the I/O phase
      if (!isReadOrAtomic(wqe.opcode)) unwrittenPayload += wqe.length;
      if (++unwrittenFrames >= SPLIT_FRAMES && unwrittenPayload >= SPLIT_BYTES) {
        path.tx?.flush();
        unwrittenFrames = unwrittenPayload = 0;
      }
    }
    if (sent > 0) {
      if (soon) path.tx?.flushSoon();
      else path.tx?.flush();
      this.armAckTimer();
    }
  }

  /** Checks made when the WQE executes, as hardware does: local keys, and the peer's limits. */
  private admit(wqe: SendWqe): { status: WcStatus; cause: QpErrorCause } | null {
    const { qp, path } = this;
    const maxMessage = path.peerMaxMessage;
    if (wqe.length > maxMessage) {
      // What the peer's responder would answer (NAK invalid request), without sending the bytes.
      return { status: 'REM_INV_REQ_ERR', cause: { kind: 'REMOTE_NAK', nak: 'REM_INV_REQ_ERR', reason: `send WR ${wqe.wrId}: ${wqe.length} bytes exceed the peer's largest message (${maxMessage} bytes, from its HELLO)` } };
    }
    if (wqe.local !== null) return null;
    if (wqe.inline !== null) {
      wqe.local = [wqe.inline];
      return null;
    }
    const resolved = resolveSglAgain(this.lastResolution, qp.services.memory, qp.init.pdHandle, wqe.sgList, isReadOrAtomic(wqe.opcode) ? 'write' : 'read');
    if (!resolved.ok) return { status: 'LOC_PROT_ERR', cause: { kind: 'LOCAL_ERROR', fault: 'access', reason: `send WR ${wqe.wrId}: ${resolved.reason}` } };
    wqe.local = resolved.views;
    // Until the WQE is done its memory may be read (writev) or written (READ/atomic responses).
    wqe.pinned = resolved.regions;
    pin(resolved.regions);
    return null;
  }

  private transmit(wqe: SendWqe): void {
    const { qp } = this;
    const tx = this.path.tx!;
    const flags = (wqe.solicited ? FrameFlag.SOLICITED : 0) | (wqe.fence ? FrameFlag.FENCE : 0);
    const psn = this.nextPsn;
    this.nextPsn = psnAdd(this.nextPsn, 1);
    if (wqe.psn === -1) wqe.rnrRetriesLeft = qp.attrs.rnrRetry === RNR_FOREVER ? Infinity : qp.attrs.rnrRetry;
    qp.sq.markSent(wqe, psn);
    const local = wqe.local ?? [];
    const owned = wqe.inline !== null;
    const remote = wqe.remote!;
    switch (wqe.opcode) {
      case 'SEND': {
        // TxBatch.frame encodes the header before it returns: one object serves every SEND.
        const header = this.sendHeader;
        header.flags = flags;
        header.psn = psn;
        header.payloadLength = wqe.length;
        tx.frame(header, local, owned);
        break;
      }
      case 'SEND_WITH_IMM':
        tx.frame({ opcode: 'SEND_WITH_IMM', flags, psn, payloadLength: wqe.length, immData: wqe.immData ?? 0 }, local, owned);
        break;
      case 'RDMA_WRITE':
      case 'RDMA_WRITE_WITH_IMM':
        tx.frame(wqe.opcode === 'RDMA_WRITE_WITH_IMM'
          ? { opcode: wqe.opcode, flags, psn, payloadLength: wqe.length, remoteAddr: remote.addr, rkey: remote.rkey, immData: wqe.immData ?? 0 }
          : { opcode: wqe.opcode, flags, psn, payloadLength: wqe.length, remoteAddr: remote.addr, rkey: remote.rkey }, local, owned);
        break;
      case 'RDMA_READ':
        this.outstandingRdAtomic++;
        tx.frame({ opcode: 'RDMA_READ_REQUEST', flags, psn, payloadLength: 0, remoteAddr: remote.addr, rkey: remote.rkey, length: wqe.length });
        break;
      case 'ATOMIC_CMP_AND_SWP':
      case 'ATOMIC_FETCH_AND_ADD':
        this.outstandingRdAtomic++;
        tx.frame({
          opcode: wqe.opcode, flags, psn, payloadLength: 0, remoteAddr: remote.addr, rkey: remote.rkey,
          compareAdd: wqe.atomic!.compareAdd, swap: wqe.opcode === 'ATOMIC_CMP_AND_SWP' ? wqe.atomic!.swap : 0n,
        });
        break;
    }
    qp.services.observer?.started?.(qp.qpNum, 'send', wqe.wrId);
  }

  // ---- responses from the peer's responder: a chain of named checks ------------------------------

  onResponse(header: FrameHeader): Placement {
    const { qp } = this;
    if (qp.state !== 'RTS' && qp.state !== 'SQD') return this.protocolError(`${header.opcode} received while the QP is ${qp.state}`);
    const oldest = qp.sq.oldestInFlight();
    if (oldest === undefined || psnDistance(oldest.psn, header.psn) < 0) {
      // IB discards a duplicate ACK for work already acknowledged: it is no progress.
      if (header.opcode === 'ACK' && psnDistance(header.psn, this.nextPsn) > 0) return DISCARD;
      return this.protocolError(`${header.opcode} for PSN ${header.psn}, which answers nothing in flight`);
    }
    switch (header.opcode) {
      case 'ACK':
        return this.onAck(header.psn);
      case 'NAK':
        return this.onNak(header.psn, header.code, header.rnrTimer);
      case 'RDMA_READ_RESPONSE': {
        const wqe = this.answeredWqe(header.psn, 'RDMA_READ');
        if (typeof wqe === 'string') return this.protocolError(wqe);
        if (header.payloadLength !== wqe.length) return this.protocolError(`READ response of ${header.payloadLength} bytes for a ${wqe.length}-byte READ`);
        const serial = wqe.serial;
        return { kind: 'place', segments: wqe.local ?? [], done: () => this.path.guard(() => this.retire(wqe, serial)) };
      }
      case 'ATOMIC_RESPONSE': {
        const wqe = this.answeredWqe(header.psn, 'ATOMIC');
        if (typeof wqe === 'string') return this.protocolError(wqe);
        const destination = wqe.local?.[0];
        if (destination !== undefined) new DataView(destination.buffer, destination.byteOffset, 8).setBigUint64(0, header.original, true);
        this.retire(wqe, wqe.serial);
        return DISCARD;
      }
      default:
        return this.protocolError(`unexpected ${header.opcode}`);
    }
  }

  /** ACK through `psn`: every SEND/WRITE up to it is done; it may not cover a READ or atomic (those need their response). */
  private onAck(psn: number): Placement {
    if (psnDistance(psn, this.nextPsn) <= 0) return this.protocolError(`ACK for PSN ${psn}, beyond anything sent (next PSN ${this.nextPsn})`);
    const unanswered = this.coveredReadOrAtomic(psn);
    if (unanswered !== null) return this.protocolError(unanswered);
    this.ackThrough(psn);
    this.progress();
    return DISCARD;
  }

  /** The WQE a READ or atomic response answers; the response implicitly acknowledges everything before it. */
  private answeredWqe(psn: number, kind: 'RDMA_READ' | 'ATOMIC'): SendWqe | string {
    const wqe = this.qp.sq.findInFlight(psn);
    const matches = wqe !== undefined && (kind === 'RDMA_READ' ? wqe.opcode === 'RDMA_READ' : wqe.opcode.startsWith('ATOMIC'));
    if (!matches) return `${kind === 'RDMA_READ' ? 'READ' : 'atomic'} response for PSN ${psn} answers no outstanding ${kind === 'RDMA_READ' ? 'READ' : 'atomic'}`;
    const before = psnAdd(psn, -1 & 0xffffff);
    const unanswered = this.coveredReadOrAtomic(before);
    if (unanswered !== null) return unanswered;
    this.ackThrough(before);
    return wqe;
  }

  /** A READ or atomic at or before `psn` still waiting for its response, described; null if none. */
  private coveredReadOrAtomic(psn: number): string | null {
    const waiting = this.qp.sq.readOrAtomicThrough(psn);
    return waiting === undefined ? null : `a response through PSN ${psn} skips the ${waiting.opcode} at PSN ${waiting.psn}, which has not been answered`;
  }

  private ackThrough(psn: number): void {
    this.qp.sq.finishThrough(psn);
  }

  /** A READ or atomic answered: `serial` is the post it answers (its slot may hold a later WR by now). */
  private retire(wqe: SendWqe, serial: number): void {
    if (wqe.phase !== 'inFlight' || wqe.serial !== serial) return;
    this.qp.sq.finish(wqe, 'SUCCESS');
    this.outstandingRdAtomic--;
    this.progress();
  }

  private onNak(psn: number, code: string, rnrTimer: number): Placement {
    const { qp } = this;
    const wqe = qp.sq.findInFlight(psn);
    if (wqe === undefined) return this.protocolError(`NAK ${code} for PSN ${psn}, which is not in flight`);
    const before = psnAdd(psn, 0xffffff);
    const unanswered = this.coveredReadOrAtomic(before);
    if (unanswered !== null) return this.protocolError(unanswered);
    if (code === 'RNR' && isReadOrAtomic(wqe.opcode)) return this.protocolError(`RNR NAK for the ${wqe.opcode} at PSN ${psn}: only requests that consume a receive can be RNR NAKed`);
    this.ackThrough(before);
    switch (code) {
      case 'RNR':
        if (wqe.rnrRetriesLeft <= 0) {
          this.fail(wqe, 'RNR_RETRY_EXC_ERR', { kind: 'RETRY_EXCEEDED', rnr: true, reason: `send WR ${wqe.wrId}: receiver not ready after ${qp.attrs.rnrRetry} retries` });
        } else {
          wqe.rnrRetriesLeft--;
          this.rewindTo(wqe);
          this.stopAckTimer();
          this.rnrTimer = qp.services.clock.setTimer(RNR_TIMER_MS[rnrTimer] ?? RNR_TIMER_MS[0]!, () => {
            this.rnrTimer = null;
            this.path.guard(() => this.pump());
          });
        }
        break;
      case 'PSN_SEQUENCE_ERROR':
        if (this.retriesLeft <= 0) {
          this.fail(wqe, 'RETRY_EXC_ERR', { kind: 'RETRY_EXCEEDED', rnr: false, reason: `PSN sequence errors persisted after ${qp.attrs.retryCnt} retries` });
        } else {
          this.retriesLeft--;
          this.rewindTo(wqe);
          this.pump();
        }
        break;
      case 'INVALID_REQUEST':
        this.fail(wqe, 'REM_INV_REQ_ERR', { kind: 'REMOTE_NAK', nak: 'REM_INV_REQ_ERR', reason: `send WR ${wqe.wrId}: the responder rejected the request as invalid` });
        break;
      case 'REMOTE_ACCESS_ERROR':
        this.fail(wqe, 'REM_ACCESS_ERR', { kind: 'REMOTE_NAK', nak: 'REM_ACCESS_ERR', reason: `send WR ${wqe.wrId}: remote access error (rkey, bounds or permissions)` });
        break;
      default:
        this.fail(wqe, 'REM_OP_ERR', { kind: 'REMOTE_NAK', nak: 'REM_OP_ERR', reason: `send WR ${wqe.wrId}: the responder could not complete the operation` });
        break;
    }
    return DISCARD;
  }

  private fail(wqe: SendWqe, status: WcStatus, cause: QpErrorCause): void {
    this.qp.sq.finish(wqe, status, cause);
    if (isReadOrAtomic(wqe.opcode)) this.outstandingRdAtomic--;
    this.qp.completer.completeSends();
  }

  /** Go-back-N: `wqe` and everything after it is sent again with the same PSNs. */
  private rewindTo(wqe: SendWqe): void {
    for (const later of this.qp.sq.rewindTo(wqe)) if (isReadOrAtomic(later.opcode)) this.outstandingRdAtomic--;
    this.nextPsn = wqe.psn;
    this.qp.completer.completeSends();
  }

  /** Only progress refills the retry budget: a stale or duplicate ACK never does. */
  private progress(): void {
    this.progressSinceArm = true;
    this.retriesLeft = this.qp.attrs.retryCnt;
    this.qp.completer.completeSends();
    if (this.qp.state === 'RTS') this.pump(true);
    if (this.qp.sq.inFlight === 0) this.stopAckTimer();
  }

  private protocolError(reason: string): Placement {
    this.qp.fail({ kind: 'LOCAL_ERROR', fault: 'invalid-request', reason: `protocol error from the peer: ${reason}` });
    return DISCARD;
  }

  // ---- timers ---------------------------------------------------------------------------------------

  private armAckTimer(): void {
    // Asked at every doorbell: the timeout (a power of two) is worked out only when none is armed.
    if (this.ackTimer !== null) return;
    const ms = ackTimeoutMs(this.qp.attrs.timeout);
    if (!Number.isFinite(ms)) return;
    this.progressSinceArm = false;
    this.ackTimer = this.qp.services.clock.setTimer(ms, () => this.path.guard(() => this.onAckTimeout()));
  }

  private onAckTimeout(): void {
    const { qp } = this;
    this.ackTimer = null;
    if (qp.sq.inFlight === 0 || (qp.state !== 'RTS' && qp.state !== 'SQD')) return;
    if (!this.progressSinceArm) {
      if (this.retriesLeft <= 0) {
        this.fail(qp.sq.oldestInFlight()!, 'RETRY_EXC_ERR', { kind: 'RETRY_EXCEEDED', rnr: false, reason: `no response from the peer within ${qp.attrs.retryCnt + 1} local ACK timeouts` });
        return;
      }
      this.retriesLeft--;
    }
    this.armAckTimer();
  }

  private stopAckTimer(): void {
    if (this.ackTimer !== null) this.qp.services.clock.clearTimer(this.ackTimer);
    this.ackTimer = null;
  }

  stopTimers(): void {
    this.stopAckTimer();
    if (this.rnrTimer !== null) this.qp.services.clock.clearTimer(this.rnrTimer);
    this.rnrTimer = null;
  }
}
