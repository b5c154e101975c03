import { Socket } from 'node:net';
import type { Transport } from '../transport/types.js';
import type { QpEngine } from '../nic/qp-engine.js';
import type { RecvWqe, SendWqe } from '../nic/work-queues.js';
import { KNOWN_ACCESS, KNOWN_SEND_FLAGS, QpAttrMask, SendFlags } from '../abi/constants.js';
import { DEVICE_LIMITS } from '../abi/limits.js';
import { VerbsError, einval } from '../abi/errors.js';
import { modifyRejection } from './modify-rules.js';
import type { PostOutcome, VerbsObserver } from '../abi/observer.js';
import type { QpAttr, QpCap, QpState, QpType, RecvWr, SendWr, Sge, WrOpcode } from '../abi/types.js';
import { describe, requireFlags, requireInt, requireOneOf, requireU64 } from './validate.js';

const QP_STATES: readonly QpState[] = ['RESET', 'INIT', 'RTR', 'RTS', 'SQD', 'SQE', 'ERR'];
const OPCODES: readonly WrOpcode[] = ['SEND', 'SEND_WITH_IMM', 'RDMA_WRITE', 'RDMA_WRITE_WITH_IMM', 'RDMA_READ', 'ATOMIC_CMP_AND_SWP', 'ATOMIC_FETCH_AND_ADD'];
const PATH_MTUS = [256, 512, 1024, 2048, 4096] as const;
const U24 = 0xffffff;
const U32 = 0xffffffff;
const SEND_FLAG_NAMES = 'FENCE|SIGNALED|SOLICITED|INLINE';

/** How a QP reaches its peer: a connected socket, or (for tests and simulation) a ready transport. */
export type TransportFactory = (socket: Socket) => Transport;

export interface QpDeps {
  readonly engine: QpEngine;
  readonly observer: VerbsObserver | null;
  readonly takeSocket: TransportFactory;
  readonly findInline: (addr: number, length: number) => Uint8Array | null;
  readonly onDestroy: () => void;
}

function isSocketLike(value: unknown): value is Socket {
  return value instanceof Socket;
}

function isTransport(value: unknown): value is Transport {
  return typeof value === 'object' && value !== null && typeof (value as Transport).start === 'function' && typeof (value as Transport).writev === 'function';
}

/** ibv_qp. Validates every call the way libibverbs and the kernel do, then drives the NIC engine. */
export class QueuePair {
  private destroyed = false;

  constructor(
    readonly qpNum: number,
    readonly qpType: QpType,
    readonly cap: Readonly<QpCap>,
    readonly sqSigAll: boolean,
    private readonly deps: QpDeps,
  ) {}

  private get engine(): QpEngine {
    if (this.deps.engine.nic.closed) throw new VerbsError('ENODEV', `the device context of QP ${this.qpNum} was closed`);
    if (this.destroyed) throw new VerbsError('EINVAL', `QP ${this.qpNum} was destroyed`);
    return this.deps.engine;
  }

  get state(): QpState {
    return this.deps.engine.state;
  }

  // ---- modify ---------------------------------------------------------------------------------

  modify(attr: QpAttr, mask: number): void {
    const engine = this.engine;
    if (typeof attr !== 'object' || attr === null) throw einval(`attr must be an object, got ${describe(attr)}`);
    requireInt('mask', mask, 0, U32);
    const from = engine.state;
    const observe = (accepted: boolean, to: QpState, refusedBy?: 'table' | 'value', reason?: string) => this.deps.observer?.modify?.(this.qpNum, {
      from, attr: { qpState: attr.qpState, curQpState: attr.curQpState, enSqdAsyncNotify: attr.enSqdAsyncNotify }, mask, accepted, to,
      ...(refusedBy === undefined ? {} : { refusedBy }), ...(reason === undefined ? {} : { reason }),
    });
    let next: QpState;
    try {
      next = this.checkTransition(from, attr, mask);
    } catch (error) {
      if (error instanceof VerbsError) observe(false, from, 'table', error.message);
      throw error;
    }
    try {
      this.checkValues(from, attr, mask);
      this.applyModify(from, next, attr, mask);
    } catch (error) {
      if (error instanceof VerbsError) observe(false, from, 'value', error.message);
      throw error;
    }
    observe(true, engine.state);
  }

  /** The kernel's table: state pair, required and allowed attributes, the CUR_STATE rule. */
  private checkTransition(from: QpState, attr: QpAttr, mask: number): QpState {
    const next = (mask & QpAttrMask.STATE) !== 0 ? requireOneOf('attr.qpState', attr.qpState, QP_STATES) : from;
    if ((mask & QpAttrMask.CUR_STATE) !== 0 && attr.curQpState !== from) {
      throw einval(`attr.curQpState is ${describe(attr.curQpState)} but the QP is in ${from}`);
    }
    const rejection = modifyRejection(from, next, mask);
    if (rejection !== null) throw einval(rejection);
    return next;
  }

  /** The values of the attributes the mask names. */
  private checkValues(from: QpState, attr: QpAttr, mask: number): void {
    const has = (bit: number) => (mask & bit) !== 0;
    if (has(QpAttrMask.PKEY_INDEX)) requireInt('attr.pkeyIndex', attr.pkeyIndex, 0, 0);
    if (has(QpAttrMask.PORT)) requireInt('attr.portNum', attr.portNum, 1, 1);
    if (has(QpAttrMask.ACCESS_FLAGS)) requireFlags('attr.qpAccessFlags', attr.qpAccessFlags, KNOWN_ACCESS, 'LOCAL_WRITE|REMOTE_WRITE|REMOTE_READ|REMOTE_ATOMIC');
    if (has(QpAttrMask.PATH_MTU)) requireOneOf('attr.pathMtu', attr.pathMtu, PATH_MTUS);
    if (has(QpAttrMask.DEST_QPN)) requireInt('attr.destQpNum', attr.destQpNum, 0, U24);
    if (has(QpAttrMask.RQ_PSN)) requireInt('attr.rqPsn', attr.rqPsn, 0, U24);
    if (has(QpAttrMask.SQ_PSN)) requireInt('attr.sqPsn', attr.sqPsn, 0, U24);
    if (has(QpAttrMask.MAX_DEST_RD_ATOMIC)) requireInt('attr.maxDestRdAtomic', attr.maxDestRdAtomic, 0, DEVICE_LIMITS.maxQpRdAtom);
    if (has(QpAttrMask.MAX_QP_RD_ATOMIC)) requireInt('attr.maxRdAtomic', attr.maxRdAtomic, 0, DEVICE_LIMITS.maxQpInitRdAtom);
    if (has(QpAttrMask.MIN_RNR_TIMER)) requireInt('attr.minRnrTimer', attr.minRnrTimer, 0, 31);
    if (has(QpAttrMask.TIMEOUT)) requireInt('attr.timeout', attr.timeout, 0, 31);
    if (has(QpAttrMask.RETRY_CNT)) requireInt('attr.retryCnt', attr.retryCnt, 0, 7);
    if (has(QpAttrMask.RNR_RETRY)) requireInt('attr.rnrRetry', attr.rnrRetry, 0, 7);
    if (has(QpAttrMask.EN_SQD_ASYNC_NOTIFY) && typeof attr.enSqdAsyncNotify !== 'boolean') {
      throw einval(`attr.enSqdAsyncNotify must be a boolean, got ${describe(attr.enSqdAsyncNotify)}`);
    }
    if (has(QpAttrMask.AV)) {
      const ah = attr.ahAttr as { socket?: unknown; transport?: unknown } | undefined;
      const socket = ah?.socket;
      if (from === 'SQD') throw new VerbsError('EOPNOTSUPP', 'changing the address vector in SQD would move the connection; tcpverbs does not migrate sockets');
      if (isTransport(ah?.transport)) return;
      if (!isSocketLike(socket)) throw einval('attr.ahAttr.socket must be a connected net.Socket');
      if (socket.destroyed || socket.readyState !== 'open') throw einval(`attr.ahAttr.socket is not connected (readyState ${socket.readyState}${socket.destroyed ? ', destroyed' : ''})`);
    }
  }

  private applyModify(from: QpState, next: QpState, attr: QpAttr, mask: number): void {
    const engine = this.engine;
    const a = engine.attrs;
    const has = (bit: number) => (mask & bit) !== 0;
    if (next === 'RESET') {
      engine.reset();
      return;
    }
    // Take the socket first: if it cannot be taken over, nothing of the modify may have happened.
    const transport = next === 'RTR' && from !== 'RTR' ? this.transportFor(attr) : null;
    if (has(QpAttrMask.ACCESS_FLAGS)) a.accessFlags = attr.qpAccessFlags!;
    if (has(QpAttrMask.DEST_QPN)) a.destQpNum = attr.destQpNum!;
    if (has(QpAttrMask.RQ_PSN)) a.rqPsn = attr.rqPsn!;
    if (has(QpAttrMask.SQ_PSN)) a.sqPsn = attr.sqPsn!;
    if (has(QpAttrMask.TIMEOUT)) a.timeout = attr.timeout!;
    if (has(QpAttrMask.RETRY_CNT)) a.retryCnt = attr.retryCnt!;
    if (has(QpAttrMask.RNR_RETRY)) a.rnrRetry = attr.rnrRetry!;
    if (has(QpAttrMask.MIN_RNR_TIMER)) a.minRnrTimer = attr.minRnrTimer!;
    if (has(QpAttrMask.MAX_QP_RD_ATOMIC)) a.maxRdAtomic = attr.maxRdAtomic!;
    if (has(QpAttrMask.MAX_DEST_RD_ATOMIC)) a.maxDestRdAtomic = attr.maxDestRdAtomic!;
    if (has(QpAttrMask.PATH_MTU)) this.pathMtu = attr.pathMtu!;
    if (has(QpAttrMask.PKEY_INDEX)) this.pkeyIndex = attr.pkeyIndex!;
    if (has(QpAttrMask.PORT)) this.portNum = attr.portNum!;
    if (next === from) return;
    switch (next) {
      case 'INIT':
        engine.state = 'INIT';
        return;
      case 'RTR':
        engine.state = 'RTR';
        engine.attach(transport!);
        return;
      case 'RTS':
        engine.toRts(from);
        return;
      case 'SQD':
        engine.toSqd(has(QpAttrMask.EN_SQD_ASYNC_NOTIFY) && attr.enSqdAsyncNotify === true);
        return;
      case 'ERR':
        engine.enterErrByModify();
        return;
      default:
        throw new Error(`QueuePair invariant: ${from} -> ${next} passed the table but has no action`);
    }
  }

  private transportFor(attr: QpAttr): Transport {
    const ah = attr.ahAttr as { socket?: Socket; transport?: Transport };
    if (isTransport(ah.transport)) return ah.transport;
    try {
      return this.deps.takeSocket(ah.socket!);
    } catch (error) {
      throw einval(`attr.ahAttr.socket cannot be handed to the QP: ${error instanceof Error ? error.message : String(error)}; pass a connected TCP socket with no encoding set and nothing left to write`);
    }
  }

  private pathMtu = 4096;
  private pkeyIndex = 0;
  private portNum = 1;

  /** ibv_query_qp: the attributes as they are now. */
  query(): QpAttr & { qpState: QpState; sqDraining: boolean } {
    const engine = this.engine;
    const a = engine.attrs;
    return {
      qpState: engine.state, curQpState: engine.state, qpAccessFlags: a.accessFlags, pathMtu: this.pathMtu,
      destQpNum: a.destQpNum, rqPsn: a.rqPsn, sqPsn: a.sqPsn, timeout: a.timeout, retryCnt: a.retryCnt, rnrRetry: a.rnrRetry,
      minRnrTimer: a.minRnrTimer, maxRdAtomic: a.maxRdAtomic, maxDestRdAtomic: a.maxDestRdAtomic, pkeyIndex: this.pkeyIndex,
      portNum: this.portNum, cap: { ...this.cap }, enSqdAsyncNotify: a.sqdNotify,
      sqDraining: engine.state === 'SQD' && engine.requester.inFlight > 0,
    };
  }

  // ---- post -----------------------------------------------------------------------------------

  postSend(wrs: SendWr | readonly SendWr[]): void {
    const engine = this.engine;
    const list = Array.isArray(wrs) ? wrs : [wrs as SendWr];
    const state = engine.state;
    const outcome: PostOutcome = state === 'ERR' || state === 'SQE' ? 'flushed' : 'accepted';
    if (state === 'RESET' || state === 'INIT' || state === 'RTR') {
      for (const wr of list.slice(0, 1)) this.deps.observer?.post?.(this.qpNum, 'send', typeof wr?.wrId === 'bigint' ? wr.wrId : 0n, 'refused', false);
      throw einval(`postSend needs the QP in RTS or SQD (or ERR, to flush); it is in ${state}`, 0);
    }
    let accepted = 0;
    try {
      list.forEach((wr, index) => {
        const wqe = this.buildSendWqe(wr, index);
        if (engine.sq.length >= this.cap.maxSendWr) {
          throw new VerbsError('ENOMEM', `the send queue is full: ${this.cap.maxSendWr} WRs outstanding (cap.maxSendWr)`, index);
        }
        engine.sq.push(wqe);
        accepted++;
        this.deps.observer?.post?.(this.qpNum, 'send', wqe.wrId, outcome, wqe.signaled || this.sqSigAll);
      });
    } finally {
      // The WRs before a refused one stay posted and must run: the doorbell rings for them too.
      if (accepted > 0) engine.nic.ringDoorbell(engine);
    }
  }

  private buildSendWqe(wr: SendWr, index: number): SendWqe {
    if (typeof wr !== 'object' || wr === null) throw einval(`WR ${index} must be an object, got ${describe(wr)}`, index);
    const wrId = requireU64(`wr[${index}].wrId`, wr.wrId, index);
    const opcode = requireOneOf(`wr[${index}].opcode`, wr.opcode, OPCODES, index);
    if (this.qpType === 'STREAM' && opcode !== 'SEND') {
      throw einval(`a STREAM QP sends raw bytes: only SEND is supported, not ${opcode}`, index);
    }
    const flags = requireFlags(`wr[${index}].sendFlags`, wr.sendFlags ?? 0, KNOWN_SEND_FLAGS, SEND_FLAG_NAMES, index);
    const inline = (flags & SendFlags.INLINE) !== 0;
    const sgList = this.checkSgList(wr.sgList ?? [], this.cap.maxSendSge, `wr[${index}]`, index);
    const total = sgList.reduce((sum, sge) => sum + sge.length, 0);
    if (total > DEVICE_LIMITS.maxMsgSize) throw einval(`wr[${index}] is ${total} bytes; the largest message is ${DEVICE_LIMITS.maxMsgSize}`, index);
    let inlineCopy: Uint8Array | null = null;
    if (inline) {
      if (opcode !== 'SEND' && opcode !== 'SEND_WITH_IMM' && opcode !== 'RDMA_WRITE' && opcode !== 'RDMA_WRITE_WITH_IMM') {
        throw einval(`wr[${index}]: INLINE applies to SEND and RDMA_WRITE only, not ${opcode}`, index);
      }
      if (total > this.cap.maxInlineData) throw einval(`wr[${index}]: ${total} inline bytes exceed cap.maxInlineData (${this.cap.maxInlineData})`, index);
      inlineCopy = new Uint8Array(total);
      let at = 0;
      for (const sge of sgList) {
        const source = this.deps.findInline(sge.addr, sge.length);
        if (source === null) throw einval(`wr[${index}]: inline data at 0x${sge.addr.toString(16)} (+${sge.length}) is not inside any registered memory`, index);
        inlineCopy.set(source, at);
        at += sge.length;
      }
      this.deps.engine.nic.counters.txPayloadBytesCopied += total;
    }
    const immData = opcode === 'SEND_WITH_IMM' || opcode === 'RDMA_WRITE_WITH_IMM' ? requireInt(`wr[${index}].immData`, wr.immData, 0, U32, index) : undefined;
    let remote: SendWqe['remote'] = null;
    let atomic: SendWqe['atomic'] = null;
    let length = total;
    if (opcode.startsWith('RDMA_')) {
      if (typeof wr.rdma !== 'object' || wr.rdma === null) throw einval(`wr[${index}].rdma { remoteAddr, rkey } is required for ${opcode}`, index);
      remote = { addr: requireInt(`wr[${index}].rdma.remoteAddr`, wr.rdma.remoteAddr, 0, Number.MAX_SAFE_INTEGER, index), rkey: requireInt(`wr[${index}].rdma.rkey`, wr.rdma.rkey, 0, U32, index) };
    }
    if (opcode.startsWith('ATOMIC_')) {
      if (typeof wr.atomic !== 'object' || wr.atomic === null) throw einval(`wr[${index}].atomic { remoteAddr, rkey, compareAdd, swap } is required for ${opcode}`, index);
      remote = { addr: requireInt(`wr[${index}].atomic.remoteAddr`, wr.atomic.remoteAddr, 0, Number.MAX_SAFE_INTEGER, index), rkey: requireInt(`wr[${index}].atomic.rkey`, wr.atomic.rkey, 0, U32, index) };
      atomic = {
        compareAdd: requireU64(`wr[${index}].atomic.compareAdd`, wr.atomic.compareAdd, index),
        swap: opcode === 'ATOMIC_CMP_AND_SWP' ? requireU64(`wr[${index}].atomic.swap`, wr.atomic.swap, index) : 0n,
      };
      if (sgList.length !== 1 || sgList[0]!.length !== 8) throw einval(`wr[${index}]: an atomic needs exactly one 8-byte SGE for the original value`, index);
      length = 8;
    }
    return {
      wrId, opcode, signaled: (flags & SendFlags.SIGNALED) !== 0 || this.sqSigAll, solicited: (flags & SendFlags.SOLICITED) !== 0,
      fence: (flags & SendFlags.FENCE) !== 0, sgList, inline: inlineCopy, length, immData: immData ?? undefined, remote, atomic,
      phase: 'queued', psn: -1, status: null, errorCause: null, rnrRetriesLeft: 0, local: null,
    };
  }

  private checkSgList(sgList: unknown, maxSge: number, where: string, index: number): Sge[] {
    if (!Array.isArray(sgList)) throw einval(`${where}.sgList must be an array, got ${describe(sgList)}`, index);
    if (sgList.length > maxSge) throw einval(`${where}.sgList has ${sgList.length} entries; the QP allows ${maxSge}`, index);
    return sgList.map((sge: Sge, i: number) => {
      if (typeof sge !== 'object' || sge === null) throw einval(`${where}.sgList[${i}] must be { addr, length, lkey }`, index);
      return {
        addr: requireInt(`${where}.sgList[${i}].addr`, sge.addr, 0, Number.MAX_SAFE_INTEGER, index),
        length: requireInt(`${where}.sgList[${i}].length`, sge.length, 0, U32, index),
        lkey: requireInt(`${where}.sgList[${i}].lkey`, sge.lkey, 0, U32, index),
      };
    });
  }

  postRecv(wrs: RecvWr | readonly RecvWr[]): void {
    const engine = this.engine;
    const list = Array.isArray(wrs) ? wrs : [wrs as RecvWr];
    if (engine.state === 'RESET') {
      throw einval('postRecv needs the QP in INIT or later; it is in RESET', 0);
    }
    const outcome: PostOutcome = engine.state === 'ERR' ? 'flushed' : 'accepted';
    let accepted = 0;
    try {
      list.forEach((wr, index) => {
        if (typeof wr !== 'object' || wr === null) throw einval(`WR ${index} must be an object, got ${describe(wr)}`, index);
        const wrId = requireU64(`wr[${index}].wrId`, wr.wrId, index);
        const sgList = this.checkSgList(wr.sgList ?? [], this.cap.maxRecvSge, `wr[${index}]`, index);
        if (engine.rq.length >= this.cap.maxRecvWr) {
          throw new VerbsError('ENOMEM', `the receive queue is full: ${this.cap.maxRecvWr} WRs outstanding (cap.maxRecvWr)`, index);
        }
        const wqe: RecvWqe = { wrId, sgList, flushed: false };
        engine.rq.push(wqe);
        accepted++;
        this.deps.observer?.post?.(this.qpNum, 'recv', wrId, outcome, true);
      });
    } finally {
      if (accepted > 0 && engine.state === 'ERR') engine.nic.ringDoorbell(engine);
      else if (accepted > 0) engine.onRecvPosted();
    }
  }

  destroy(): void {
    const engine = this.engine;
    engine.reset();
    engine.destroyed = true;
    this.destroyed = true;
    this.deps.observer?.qpDestroyed?.(this.qpNum);
    this.deps.onDestroy();
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }
}

