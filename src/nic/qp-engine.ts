import type { Transport, TransportCloseReason } from '../transport/types.js';
import { HELLO_BYTES, MAX_TERMINATE_TEXT, encodeHello, type FrameHeader, type Hello } from '../wire/frame.js';
import type { QpErrorCause, VerbsObserver } from '../abi/observer.js';
import type { AsyncEventType, QpCap, QpState, QpType, WcOpcode, WcStatus, WorkCompletion } from '../abi/types.js';
import { WcFlags } from '../abi/constants.js';
import type { CqRing } from './cq-ring.js';
import type { MemoryTable } from './memory.js';
import { RxParser, type FrameHandler, type Placement } from './rx-parser.js';
import { Requester } from './requester.js';
import { Responder } from './responder.js';
import { TxBatch } from './tx-batch.js';
import { SEND_WC_OPCODE, type RecvWqe, type SendWqe } from './work-queues.js';
import type { Clock } from '../transport/types.js';

/** How long a failed QP waits for its last frames to leave before it closes the socket anyway. */
const CLOSE_LINGER_MS = 1000;

/** The attributes the data path uses, as set by modify. */
export interface QpRuntimeAttrs {
  accessFlags: number;
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

/** What the engine needs from the NIC around it. */
export interface NicServices {
  readonly memory: MemoryTable;
  readonly clock: Clock;
  readonly observer: VerbsObserver | null;
  readonly maxMessage: number;
  /** The device context was closed: every verb on its objects fails with ENODEV. */
  readonly closed: boolean;
  readonly counters: { framesSent: number; bytesSent: number; framesReceived: number; bytesReceived: number; bytesDiscarded: number; rxPayloadBytesCopied: number; txPayloadBytesCopied: number };
  raiseAsync(type: AsyncEventType, qpNum: number, reason: string): void;
  ringDoorbell(engine: QpEngine): void;
  cqOf(ring: CqRing): { id: number };
  trackTransport(transport: Transport): void;
  retireTransport(transport: Transport): void;
}

export interface QpEngineInit {
  readonly qpNum: number;
  readonly qpType: QpType;
  readonly pdHandle: number;
  readonly sendCq: CqRing;
  readonly recvCq: CqRing;
  readonly cap: QpCap;
  readonly sqSigAll: boolean;
}

const ASYNC_FOR_CAUSE = (cause: QpErrorCause): AsyncEventType => {
  const fault = cause.kind === 'LOCAL_ERROR' ? cause.fault : cause.kind === 'REMOTE_NAK' ? (cause.nak === 'REM_ACCESS_ERR' ? 'access' : cause.nak === 'REM_INV_REQ_ERR' ? 'invalid-request' : 'fatal') : 'fatal';
  return fault === 'access' ? 'QP_ACCESS_ERR' : fault === 'invalid-request' ? 'QP_REQ_ERR' : 'QP_FATAL';
};

/** The longest UTF-8 prefix of `text` that fits `limit` bytes, cut at a character boundary. */
function utf8Prefix(text: string, limit: number): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  if (bytes.byteLength <= limit) return bytes;
  let end = limit;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

export const initialAttrs = (): QpRuntimeAttrs => ({
  accessFlags: 0, destQpNum: 0, rqPsn: 0, sqPsn: 0, timeout: 14, retryCnt: 7, rnrRetry: 7, minRnrTimer: 0,
  maxRdAtomic: 1, maxDestRdAtomic: 1, sqdNotify: false,
});

/**
 * One QP inside the NIC: its work queues, its socket, its requester and responder, in the state
 * the verbs layer put it. Every path that fails the QP goes through `fail`, which completes the
 * failing WR with its status, flushes the rest in posting order and raises the async event.
 */
export class QpEngine implements FrameHandler {
  state: QpState = 'RESET';
  attrs: QpRuntimeAttrs = initialAttrs();
  readonly sq: SendWqe[] = [];
  readonly rq: RecvWqe[] = [];
  /** Index in `sq` of the first WQE not yet transmitted. */
  sqNext = 0;
  transport: Transport | null = null;
  tx: TxBatch | null = null;
  protected rx: RxParser | null = null;
  peer: Hello | null = null;
  readonly requester: Requester;
  readonly responder: Responder;
  private drainedReported = false;
  destroyed = false;

  constructor(readonly init: QpEngineInit, readonly nic: NicServices) {
    this.requester = new Requester(this);
    this.responder = new Responder(this);
  }

  get qpNum(): number {
    return this.init.qpNum;
  }

  /** RTR: take the socket, greet the peer, start receiving. */
  attach(transport: Transport): void {
    if (this.transport !== null) throw new Error('QpEngine invariant: a transport is already attached');
    this.transport = transport;
    this.nic.trackTransport(transport);
    this.tx = new TxBatch(transport, this.nic.counters, () => this.fail({ kind: 'LOCAL_ERROR', fault: 'fatal', reason: 'the peer stopped reading: too many unwritten batches' }));
    this.responder.reset(this.attrs.rqPsn);
    this.rx = new RxParser(this, this.nic.counters, this.nic.maxMessage, true);
    const hello = new Uint8Array(HELLO_BYTES);
    encodeHello({ srcQpn: this.qpNum, destQpn: this.attrs.destQpNum, rqPsn: this.attrs.rqPsn, maxMessage: this.nic.maxMessage, maxDestRdAtomic: this.attrs.maxDestRdAtomic }, hello);
    this.tx.raw(hello);
    this.tx.flush();
    transport.start(this.rx);
  }

  toRts(fromState: QpState): void {
    if (fromState === 'RTR') this.requester.reset(this.attrs.sqPsn);
    this.state = 'RTS';
    this.drainedReported = false;
    this.nic.ringDoorbell(this);
  }

  toSqd(notify: boolean): void {
    this.state = 'SQD';
    this.attrs.sqdNotify = notify;
    this.drainedReported = false;
    // The drain is the hardware's business: it is reported after the modify call returns.
    queueMicrotask(() => this.checkDrained());
  }

  /** SQD is drained once no WR is on the wire; SQ_DRAINED follows if it was asked for. */
  checkDrained(): void {
    if (this.state !== 'SQD' || this.drainedReported || this.requester.inFlight > 0) return;
    this.drainedReported = true;
    this.nic.observer?.sqDrained?.(this.qpNum);
    if (this.attrs.sqdNotify) this.nic.raiseAsync('SQ_DRAINED', this.qpNum, 'send queue drained');
  }

  /** A receive was posted: RC needs nothing (the responder takes receives as requests arrive). */
  onRecvPosted(): void {}

  /** The doorbell: transmit what RTS allows, flush what ERR requires. */
  onDoorbell(): void {
    if (this.state === 'RTS') this.requester.pump();
    else if (this.state === 'ERR' || this.state === 'SQE') this.flushAll();
  }

  // ---- completions ------------------------------------------------------------------------

  /** Emits send completions from the head while the head is done; an error fails the QP. */
  completeSends(): void {
    while (this.sq.length > 0 && this.sq[0]!.phase === 'done') {
      const wqe = this.sq.shift()!;
      if (this.sqNext > 0) this.sqNext--;
      const status = wqe.status ?? 'GENERAL_ERR';
      const generate = status !== 'SUCCESS' || wqe.signaled || this.init.sqSigAll;
      this.nic.observer?.completion?.(this.qpNum, 'send', wqe.wrId, status, generate);
      if (generate) {
        this.store(this.init.sendCq, {
          wrId: wqe.wrId, status, opcode: SEND_WC_OPCODE[wqe.opcode], byteLen: status === 'SUCCESS' ? wqe.length : 0,
          qpNum: this.qpNum, wcFlags: 0, vendorErr: 0,
        }, false);
      }
      if (status !== 'SUCCESS' && status !== 'WR_FLUSH_ERR' && this.state !== 'ERR') {
        this.fail(wqe.errorCause ?? { kind: 'LOCAL_ERROR', fault: 'fatal', reason: `send WR ${wqe.wrId} completed with ${status}` });
        return;
      }
    }
    this.checkDrained();
  }

  /** Completes the head receive WQE (receives complete in order by construction). */
  completeRecv(status: WcStatus, byteLen: number, opcode: WcOpcode, immData: number | undefined, solicited: boolean): void {
    const wqe = this.rq.shift();
    if (wqe === undefined) throw new Error('QpEngine invariant: receive completion without a posted receive');
    this.nic.observer?.completion?.(this.qpNum, 'recv', wqe.wrId, status, true);
    this.store(this.init.recvCq, {
      wrId: wqe.wrId, status, opcode, byteLen: status === 'SUCCESS' ? byteLen : 0, qpNum: this.qpNum,
      wcFlags: immData !== undefined && status === 'SUCCESS' ? WcFlags.WITH_IMM : 0, vendorErr: 0,
      ...(immData !== undefined && status === 'SUCCESS' ? { immData } : {}),
    }, solicited);
  }

  private store(cq: CqRing, wc: WorkCompletion, solicited: boolean): void {
    const id = this.nic.cqOf(cq).id;
    if (cq.push(wc, solicited)) this.nic.observer?.cqStored?.(id, solicited);
  }

  // ---- errors and flush --------------------------------------------------------------------

  /** Fails the QP: ERR, async event, TERMINATE to the peer, every outstanding WR flushed in order. */
  fail(cause: QpErrorCause): void {
    if (this.state === 'ERR' || this.state === 'RESET' || this.destroyed) return;
    const from = this.state;
    this.state = 'ERR';
    this.nic.observer?.qpError?.(this.qpNum, from, cause);
    this.nic.raiseAsync(ASYNC_FOR_CAUSE(cause), this.qpNum, cause.reason);
    this.shutdownTransport(cause.kind === 'CONNECTION_LOST' ? null : cause.reason);
    this.flushAll();
  }

  /** ERR by modify: the same flush, no async event (the consumer asked for it). */
  enterErrByModify(): void {
    this.state = 'ERR';
    this.shutdownTransport('the peer moved its QP to ERR');
    this.flushAll();
  }

  /** Completes every outstanding WR: a WR already failed keeps its status, the rest WR_FLUSH_ERR. */
  flushAll(): void {
    this.requester.stopTimers();
    for (const wqe of this.sq) {
      if (wqe.phase !== 'done') {
        wqe.phase = 'done';
        wqe.status = 'WR_FLUSH_ERR';
      }
    }
    this.sqNext = this.sq.length;
    // Flushed sends always produce a completion, signaled or not.
    while (this.sq.length > 0) {
      const wqe = this.sq.shift()!;
      const status = wqe.status ?? 'WR_FLUSH_ERR';
      this.nic.observer?.completion?.(this.qpNum, 'send', wqe.wrId, status, true);
      this.store(this.init.sendCq, { wrId: wqe.wrId, status, opcode: SEND_WC_OPCODE[wqe.opcode], byteLen: 0, qpNum: this.qpNum, wcFlags: 0, vendorErr: 0 }, false);
    }
    this.sqNext = 0;
    if (this.state === 'ERR') {
      while (this.rq.length > 0) this.completeRecv('WR_FLUSH_ERR', 0, 'RECV', undefined, false);
    }
  }

  private shutdownTransport(terminateReason: string | null): void {
    this.rx?.kill();
    if (this.transport === null || this.transport.closed) return;
    if (terminateReason !== null && this.tx !== null) {
      const text = utf8Prefix(terminateReason, MAX_TERMINATE_TEXT);
      this.tx.frame({ opcode: 'TERMINATE', flags: 0, psn: 0, payloadLength: text.byteLength, reason: 1 }, [text]);
      this.tx.flush();
    }
    const transport = this.transport;
    // Close only once what was written so far (a NAK with the real status, the TERMINATE) has
    // left: closing earlier drops batches still in user space, and the peer would flush its WR
    // with WR_FLUSH_ERR instead of completing it with the status the NAK carries. A peer that
    // stops reading cannot hold the socket open past CLOSE_LINGER_MS.
    const linger = this.nic.clock.setTimer(CLOSE_LINGER_MS, () => transport.close());
    transport.writev([], () => {
      this.nic.clock.clearTimer(linger);
      transport.close();
    });
  }

  /** RESET or destroy: everything outstanding vanishes without completion. */
  reset(): void {
    this.requester.stopTimers();
    const sends = this.sq.splice(0).map((w) => w.wrId);
    const recvs = this.rq.splice(0).map((w) => w.wrId);
    if (sends.length > 0) this.nic.observer?.discarded?.(this.qpNum, 'send', sends);
    if (recvs.length > 0) this.nic.observer?.discarded?.(this.qpNum, 'recv', recvs);
    this.sqNext = 0;
    this.rx?.kill();
    this.rx = null;
    const transport = this.transport;
    this.transport = null;
    this.tx = null;
    this.peer = null;
    if (transport !== null) {
      transport.close();
      this.nic.retireTransport(transport);
    }
    this.state = 'RESET';
    this.attrs = initialAttrs();
  }

  // ---- the receive stream (FrameHandler) ---------------------------------------------------

  onHello(hello: Hello): void {
    if (hello.srcQpn !== this.attrs.destQpNum || hello.destQpn !== this.qpNum) {
      this.fail({ kind: 'LOCAL_ERROR', fault: 'fatal', reason: `peer is QP ${hello.srcQpn} talking to QP ${hello.destQpn}; expected QP ${this.attrs.destQpNum} talking to QP ${this.qpNum}` });
      return;
    }
    this.peer = hello;
  }

  onHeader(header: FrameHeader): Placement {
    if (this.state === 'ERR' || this.state === 'RESET') return { kind: 'discard' };
    switch (header.opcode) {
      case 'ACK':
      case 'NAK':
      case 'RDMA_READ_RESPONSE':
      case 'ATOMIC_RESPONSE':
        return this.requester.onResponse(header);
      case 'TERMINATE':
        return {
          kind: 'text',
          done: (text) => this.fail({ kind: 'CONNECTION_LOST', reason: `the peer terminated the connection: ${text || 'no reason given'}` }),
        };
      default:
        return this.responder.onRequest(header);
    }
  }

  onMalformed(reason: string): void {
    this.fail({ kind: 'LOCAL_ERROR', fault: 'invalid-request', reason: `malformed stream from the peer: ${reason}` });
  }

  onClose(reason: TransportCloseReason): void {
    if (reason.kind === 'local') return;
    const why = reason.kind === 'peer-closed' ? 'the peer closed the connection' : `the connection failed: ${reason.message}`;
    this.fail({ kind: 'CONNECTION_LOST', reason: why });
  }
}
