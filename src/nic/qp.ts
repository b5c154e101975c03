import type { QpErrorCause, VerbsObserver } from '../abi/observer.js';
import type { AsyncEventType, QpCap, QpState, QpType } from '../abi/types.js';
import type { PostResult, QpModifyAttr, QpQueryAttr, RecvRequest, SendRequest } from '../provider/ops.js';
import type { Clock, Transport } from '../transport/types.js';
import { Completer } from './completer.js';
import type { CqRing } from './cq-ring.js';
import type { MemoryTable } from './memory.js';
import { SendQueue } from './send-queue.js';
import type { SendWqe } from './work-queues.js';
import { RecvQueue } from './recv-queue.js';

/** The attributes a QP runs with, as modify set them. Written by NicQp.modify only. */
export interface QpAttrs {
  accessFlags: number;
  pkeyIndex: number;
  portNum: number;
  pathMtu: number;
  destQpNum: number;
  rqPsn: number;
  sqPsn: number;
  timeout: number;
  retryCnt: number;
  rnrRetry: number;
  minRnrTimer: number;
  maxRdAtomic: number;
  maxDestRdAtomic: number;
  sqdNotify: boolean;
}

const initialAttrs = (): QpAttrs => ({
  accessFlags: 0, pkeyIndex: 0, portNum: 1, pathMtu: 4096, destQpNum: 0, rqPsn: 0, sqPsn: 0, timeout: 14, retryCnt: 7,
  rnrRetry: 7, minRnrTimer: 0, maxRdAtomic: 1, maxDestRdAtomic: 1, sqdNotify: false,
});

/** What a QP needs from the device around it. */
export interface NicServices {
  readonly memory: MemoryTable;
  readonly clock: Clock;
  readonly observer: VerbsObserver | null;
  readonly maxMessage: number;
  readonly counters: {
    framesSent: number; bytesSent: number; framesReceived: number; bytesReceived: number; bytesDiscarded: number;
    rxPayloadBytesCopied: number; txPayloadBytesCopied: number;
  };
  raiseAsync(type: AsyncEventType, qpNum: number, reason: string): void;
  ringDoorbell(qp: NicQp): void;
  trackTransport(transport: Transport): void;
  retireTransport(transport: Transport): void;
}

export interface QpInit {
  readonly qpNum: number;
  readonly qpType: QpType;
  readonly pdHandle: number;
  readonly sendCq: CqRing;
  readonly recvCq: CqRing;
  readonly cap: QpCap;
  readonly sqSigAll: boolean;
}

/**
 * What differs between RC and STREAM: how bytes leave and arrive. The QP core below owns the
 * state, the attributes and the queues; a data path only moves bytes and reports what happened.
 */
export interface DataPath {
  /** RTR: take the byte stream. */
  attach(transport: Transport): void;
  /** RTR → RTS: the requester starts from sq_psn. */
  startSending(): void;
  /** RTS: transmit what is queued. */
  transmit(): void;
  onRecvPosted(): void;
  /** Requests on the wire, not yet answered. */
  readonly inFlight: number;
  stopTimers(): void;
  /** ERR: stop interpreting the stream, tell the peer why (unless it is gone), close gracefully. */
  shutdown(terminateReason: string | null): void;
  /** RESET: drop the stream at once. */
  detach(): void;
}

export type DataPathFactory = (qp: NicQp) => DataPath;

const ASYNC_FOR_CAUSE = (cause: QpErrorCause): AsyncEventType => {
  const fault = cause.kind === 'LOCAL_ERROR' ? cause.fault : cause.kind === 'REMOTE_NAK' ? (cause.nak === 'REM_ACCESS_ERR' ? 'access' : cause.nak === 'REM_INV_REQ_ERR' ? 'invalid-request' : 'fatal') : 'fatal';
  return fault === 'access' ? 'QP_ACCESS_ERR' : fault === 'invalid-request' ? 'QP_REQ_ERR' : 'QP_FATAL';
};

/**
 * One QP inside the NIC: the only writer of its state, its attributes and its queues. The verbs
 * layer asks (modify, post, query, destroy) through the provider table; the data path reports
 * (a WQE is done, the peer failed us) and every failure goes through `fail`.
 */
export class NicQp {
  private current: QpState = 'RESET';
  private attributes: QpAttrs = initialAttrs();
  readonly sq: SendQueue;
  readonly rq: RecvQueue;
  readonly completer: Completer;
  readonly path: DataPath;
  private drainedReported = false;
  /** A doorbell rang and waits for its microtask: set and cleared by the device only. */
  doorbellPending = false;
  /** The device's task that answers this QP's doorbell, made at the first ring. */
  doorbellTask: (() => void) | null = null;

  constructor(readonly init: QpInit, readonly services: NicServices, pathFor: DataPathFactory) {
    this.sq = new SendQueue(init.cap.maxSendWr);
    this.rq = new RecvQueue(init.cap.maxRecvWr);
    this.completer = new Completer(this);
    this.path = pathFor(this);
  }

  get qpNum(): number {
    return this.init.qpNum;
  }

  get state(): QpState {
    return this.current;
  }

  get attrs(): Readonly<QpAttrs> {
    return this.attributes;
  }

  // ---- modify (validated above the provider seam) ------------------------------------------

  modify(next: QpState, attr: QpModifyAttr): string | null {
    const from = this.current;
    if (next === 'RESET') {
      this.reset();
      return null;
    }
    if (next === 'RTR' && from !== 'RTR' && attr.transport === undefined) return 'RTR needs the connected socket (ahAttr)';
    const a = this.attributes;
    for (const key of Object.keys(attr) as (keyof QpModifyAttr)[]) {
      if (key === 'transport' || attr[key] === undefined) continue;
      (a as unknown as Record<string, number | boolean>)[key] = attr[key] as number | boolean;
    }
    if (next === from) return null;
    switch (next) {
      case 'INIT':
        this.current = 'INIT';
        return null;
      case 'RTR':
        this.current = 'RTR';
        this.path.attach(attr.transport!);
        return null;
      case 'RTS':
        this.current = 'RTS';
        this.drainedReported = false;
        if (from === 'RTR') this.path.startSending();
        this.services.ringDoorbell(this);
        return null;
      case 'SQD':
        this.current = 'SQD';
        this.drainedReported = false;
        // The drain is the hardware's business: it is reported after the modify call returns.
        this.services.clock.defer(() => this.checkDrained());
        return null;
      case 'ERR':
        this.enterErr('the peer moved its QP to ERR');
        return null;
      default:
        throw new Error(`NicQp invariant: ${from} -> ${next} passed the table but has no action`);
    }
  }

  query(): QpQueryAttr {
    return { qpState: this.current, ...this.attributes, sqDraining: this.current === 'SQD' && this.path.inFlight > 0 };
  }

  /** SQD is drained once no WR is on the wire; SQ_DRAINED follows if it was asked for. */
  checkDrained(): void {
    if (this.current !== 'SQD' || this.drainedReported || this.path.inFlight > 0) return;
    this.drainedReported = true;
    this.services.observer?.sqDrained?.(this.qpNum);
    if (this.attributes.sqdNotify) this.services.raiseAsync('SQ_DRAINED', this.qpNum, 'send queue drained');
  }

  // ---- post ------------------------------------------------------------------------------------

  postSend(requests: readonly SendRequest[], fill: (request: SendRequest, into: SendWqe) => string | null): PostResult {
    const state = this.current;
    const observer = this.services.observer;
    if (state === 'RESET' || state === 'INIT' || state === 'RTR') {
      if (requests.length > 0) observer?.post?.(this.qpNum, 'send', requests[0]!.wrId, 'refused', false);
      return { posted: 0, error: { errno: 'EINVAL', message: `postSend needs the QP in RTS or SQD (or ERR, to flush); it is in ${state}` } };
    }
    const outcome = state === 'ERR' || state === 'SQE' ? 'flushed' : 'accepted';
    let posted = 0;
    let error: PostResult['error'];
    for (const request of requests) {
      if (this.sq.isFull) {
        error = { errno: 'ENOMEM', message: `the send queue is full: ${this.init.cap.maxSendWr} WRs outstanding (cap.maxSendWr)` };
        break;
      }
      const wqe = this.sq.claim();
      const refusal = fill(request, wqe);
      if (refusal !== null) {
        error = { errno: 'EINVAL', message: `wr[${posted}]: ${refusal}` };
        break;
      }
      this.sq.push(wqe);
      posted++;
      observer?.post?.(this.qpNum, 'send', wqe.wrId, outcome, wqe.signaled || this.init.sqSigAll);
    }
    // The WRs before a refused one stay posted and must run: the doorbell rings for them too.
    if (posted > 0) this.services.ringDoorbell(this);
    return error === undefined ? { posted } : { posted, error };
  }

  postRecv(requests: readonly RecvRequest[]): PostResult {
    if (this.current === 'RESET') {
      return { posted: 0, error: { errno: 'EINVAL', message: 'postRecv needs the QP in INIT or later; it is in RESET' } };
    }
    const outcome = this.current === 'ERR' ? 'flushed' : 'accepted';
    let posted = 0;
    let error: PostResult['error'];
    for (const request of requests) {
      if (this.rq.full) {
        error = { errno: 'ENOMEM', message: `the receive queue is full: ${this.init.cap.maxRecvWr} WRs outstanding (cap.maxRecvWr)` };
        break;
      }
      // A RecvRequest is already the WQE's shape, a value never changed once made (a receive
      // reposted identically may share its request: only wrId and sgList are read, never identity).
      this.rq.push(request);
      posted++;
      this.services.observer?.post?.(this.qpNum, 'recv', request.wrId, outcome, true);
    }
    if (posted > 0 && this.current === 'ERR') this.services.ringDoorbell(this);
    else if (posted > 0) this.path.onRecvPosted();
    return error === undefined ? { posted } : { posted, error };
  }

  /** The doorbell: transmit what RTS allows, flush what ERR requires. */
  onDoorbell(): void {
    if (this.current === 'RTS') this.path.transmit();
    else if (this.current === 'ERR' || this.current === 'SQE') this.completer.flush();
  }

  // ---- errors ----------------------------------------------------------------------------------

  /** Fails the QP: ERR, async event, TERMINATE to the peer, every outstanding WR flushed in order. */
  fail(cause: QpErrorCause): void {
    if (this.current === 'ERR' || this.current === 'RESET') return;
    this.services.observer?.qpError?.(this.qpNum, this.current, cause);
    this.services.raiseAsync(ASYNC_FOR_CAUSE(cause), this.qpNum, cause.reason);
    this.enterErr(cause.kind === 'CONNECTION_LOST' ? null : cause.reason);
  }

  /** ERR, by a failure or by modify (no async event then: the consumer asked for it). */
  private enterErr(terminateReason: string | null): void {
    this.current = 'ERR';
    this.path.stopTimers();
    this.path.shutdown(terminateReason);
    this.completer.flush();
  }

  /** RESET or destroy: everything outstanding vanishes without completion. */
  reset(): void {
    this.path.stopTimers();
    const sends = this.sq.discardAll().map((w) => w.wrId);
    const recvs = this.rq.drain().map((w) => w.wrId);
    if (sends.length > 0) this.services.observer?.discarded?.(this.qpNum, 'send', sends);
    if (recvs.length > 0) this.services.observer?.discarded?.(this.qpNum, 'recv', recvs);
    this.path.detach();
    this.current = 'RESET';
    this.attributes = initialAttrs();
  }
}
