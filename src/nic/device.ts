import { randomInt } from 'node:crypto';
import { DEVICE_LIMITS } from '../abi/limits.js';
import type { VerbsObserver } from '../abi/observer.js';
import type { AsyncEventType, Counters, DeviceAttr, PortAttr, QpState, WorkCompletion } from '../abi/types.js';
import type {
  CqEvents, CqHandle, MrHandle, MrInfo, PdHandle, PostResult, ProviderError, ProviderOpenOptions, ProviderOps,
  QpCreateAttr, QpHandle, QpModifyAttr, QpQueryAttr, RecvRequest, SendRequest,
} from '../provider/ops.js';
import type { Clock, Transport, TransportCounters } from '../transport/types.js';
import { CqRing } from './cq-ring.js';
import { MemoryTable, type Registration } from './memory.js';
import { NicQp, type NicServices } from './qp.js';
import { RcPath } from './rc-path.js';
import { forgetSglCache } from './sgl.js';
import { StreamPath } from './stream-path.js';
import { fillSendWqe } from './wqe-builder.js';

const TRANSPORT_COUNTERS: readonly (keyof TransportCounters)[] = ['writeBatches', 'readCallbacks', 'bytesWritten', 'bytesRead', 'bytesCopied'];

const enomem = (message: string): ProviderError => ({ errno: 'ENOMEM', message });

/**
 * The reference "hardware" of one device context, behind the provider table: the QPs, the memory
 * table, the CQ rings and the doorbell. Doorbells are coalesced per QP and run when the current
 * synchronous stretch of the program ends, so everything posted together leaves in one writev.
 */
export class ReferenceDevice implements ProviderOps, NicServices {
  readonly memory: MemoryTable;
  readonly clock: Clock;
  readonly observer: VerbsObserver | null;
  readonly maxMessage = DEVICE_LIMITS.maxMsgSize;
  readonly counters = { framesSent: 0, bytesSent: 0, framesReceived: 0, bytesReceived: 0, bytesDiscarded: 0, rxPayloadBytesCopied: 0, txPayloadBytesCopied: 0, doorbells: 0 };
  private readonly qps = new Map<QpHandle, NicQp>();
  private readonly cqs = new Map<CqHandle, CqRing>();
  private readonly mrs = new Map<MrHandle, Registration>();
  private readonly pds = new Set<PdHandle>();
  private readonly liveTransports = new Set<Transport>();
  private readonly retired: TransportCounters = { writeBatches: 0, readCallbacks: 0, bytesWritten: 0, bytesRead: 0, bytesCopied: 0 };
  private nextHandle = 1;

  constructor(private readonly options: ProviderOpenOptions) {
    this.clock = options.clock;
    this.observer = options.observer;
    this.memory = new MemoryTable(DEVICE_LIMITS.maxMr, options.observer);
  }

  // ---- device -------------------------------------------------------------------------------

  queryDevice(): DeviceAttr {
    return {
      fwVer: '0.1.0', nodeGuid: 0x7463_7076_6572_6273n, vendorId: 0, vendorPartId: 0, hwVer: 1,
      maxQp: DEVICE_LIMITS.maxQp, maxQpWr: DEVICE_LIMITS.maxQpWr, maxSge: DEVICE_LIMITS.maxSge, maxCq: DEVICE_LIMITS.maxCq,
      maxCqe: DEVICE_LIMITS.maxCqe, maxMr: DEVICE_LIMITS.maxMr, maxMrSize: DEVICE_LIMITS.maxMrSize, maxPd: DEVICE_LIMITS.maxPd,
      maxQpRdAtom: DEVICE_LIMITS.maxQpRdAtom, maxQpInitRdAtom: DEVICE_LIMITS.maxQpInitRdAtom,
      // Atomics run on the event loop: atomic with respect to every QP of the process (HCA).
      atomicCap: 'HCA', maxInlineData: DEVICE_LIMITS.maxInlineData, maxMsgSize: DEVICE_LIMITS.maxMsgSize, physPortCnt: 1,
    };
  }

  queryPort(): PortAttr {
    return { state: 'ACTIVE', maxMtu: 4096, activeMtu: 4096, gidTblLen: 1, pkeyTblLen: 1, linkLayer: 'ETHERNET', maxMsgSz: DEVICE_LIMITS.maxMsgSize };
  }

  queryCounters(): Counters {
    const total = { ...this.retired };
    for (const transport of this.liveTransports) for (const key of TRANSPORT_COUNTERS) total[key] += transport.counters[key];
    return {
      rxPayloadBytesCopied: this.counters.rxPayloadBytesCopied + total.bytesCopied,
      txPayloadBytesCopied: this.counters.txPayloadBytesCopied,
      writeSyscalls: total.writeBatches,
      readCallbacks: total.readCallbacks,
      framesSent: this.counters.framesSent,
      framesReceived: this.counters.framesReceived,
      bytesSent: total.bytesWritten,
      bytesReceived: total.bytesRead,
      bytesDiscarded: this.counters.bytesDiscarded,
      doorbells: this.counters.doorbells,
    };
  }

  // ---- PD and MR ------------------------------------------------------------------------------

  allocPd(): PdHandle | ProviderError {
    if (this.pds.size >= DEVICE_LIMITS.maxPd) return enomem(`the device holds at most ${DEVICE_LIMITS.maxPd} protection domains`);
    const handle = this.nextHandle++;
    this.pds.add(handle);
    return handle;
  }

  deallocPd(pd: PdHandle): void {
    this.pds.delete(pd);
  }

  regMr(pd: PdHandle, buffer: Uint8Array, access: number): MrInfo | ProviderError {
    const registration = this.memory.register(pd, buffer, access);
    if (registration === null) return enomem(`the device holds at most ${DEVICE_LIMITS.maxMr} memory regions`);
    // lkeys are never reused for the life of the device: the lkey is the handle.
    this.mrs.set(registration.lkey, registration);
    return { handle: registration.lkey, lkey: registration.lkey, rkey: registration.rkey, addr: registration.addr, buffer: registration.buffer, access };
  }

  deregMr(mr: MrHandle): ProviderError | null {
    const registration = this.mrs.get(mr);
    if (registration === undefined) return null;
    if (registration.inUse > 0) {
      return { errno: 'EBUSY', message: `the memory region is in use by ${registration.inUse} work request(s) or transfer(s) in progress; deregister it once they have completed (the hardware may still write it)` };
    }
    this.mrs.delete(mr);
    this.memory.deregister(registration);
    return null;
  }

  // ---- CQ -------------------------------------------------------------------------------------------

  createCq(cqe: number, events: CqEvents): CqHandle | ProviderError {
    if (this.cqs.size >= DEVICE_LIMITS.maxCq) return enomem(`the device holds at most ${DEVICE_LIMITS.maxCq} CQs`);
    const handle = this.nextHandle++;
    const ring: CqRing = new CqRing(handle, cqe, { onNotify: () => events.onNotify(), onOverrun: () => this.cqOverrun(ring) });
    this.cqs.set(handle, ring);
    this.observer?.cqCreated?.(handle, cqe);
    return handle;
  }

  pollCq(cq: CqHandle, maxEntries: number): WorkCompletion[] {
    const wcs = this.ring(cq).poll(maxEntries);
    if (wcs.length > 0) this.observer?.cqPolled?.(cq, wcs.length);
    return wcs;
  }

  reqNotifyCq(cq: CqHandle, solicitedOnly: boolean): void {
    this.ring(cq).arm(solicitedOnly);
  }

  queryCq(cq: CqHandle): { depth: number; inError: boolean } {
    const ring = this.ring(cq);
    return { depth: ring.depth, inError: ring.inError };
  }

  destroyCq(cq: CqHandle): void {
    if (this.cqs.delete(cq)) this.observer?.cqDestroyed?.(cq);
  }

  private ring(cq: CqHandle): CqRing {
    const ring = this.cqs.get(cq);
    if (ring === undefined) throw new Error(`ReferenceDevice invariant: no CQ ${cq}`);
    return ring;
  }

  /** CQ overrun: CQ_ERR, then every QP that completes into that CQ fails (after the current turn). */
  private cqOverrun(ring: CqRing): void {
    this.observer?.cqOverrun?.(ring.id);
    this.options.onAsyncEvent({ type: 'CQ_ERR', cq: ring.id, reason: `CQ overrun: more than ${ring.capacity} completions were not polled` });
    this.clock.defer(() => {
      for (const qp of this.qps.values()) {
        if (qp.init.sendCq === ring || qp.init.recvCq === ring) {
          qp.fail({ kind: 'CQ_OVERRUN', reason: `completion queue overrun (capacity ${ring.capacity})` });
        }
      }
    });
  }

  // ---- QP -------------------------------------------------------------------------------------------

  createQp(pd: PdHandle, attr: QpCreateAttr): { handle: QpHandle; qpNum: number } | ProviderError {
    if (this.qps.size >= DEVICE_LIMITS.maxQp) return enomem(`the device holds at most ${DEVICE_LIMITS.maxQp} QPs`);
    const qpNum = this.freshQpNum();
    const pathFor = attr.qpType === 'STREAM' ? (qp: NicQp) => new StreamPath(qp) : (qp: NicQp) => new RcPath(qp);
    const qp = new NicQp({ qpNum, qpType: attr.qpType, pdHandle: pd, sendCq: this.ring(attr.sendCq), recvCq: this.ring(attr.recvCq), cap: attr.cap, sqSigAll: attr.sqSigAll }, this, pathFor);
    // The QP number is the handle: unique among the device's live QPs.
    this.qps.set(qpNum, qp);
    this.observer?.qpCreated?.(qpNum, attr.qpType);
    return { handle: qpNum, qpNum };
  }

  /** A fresh, unused 24-bit QP number (0 and 1 are special in IB). */
  private freshQpNum(): number {
    for (;;) {
      const qpNum = randomInt(2, 0x1000000);
      if (!this.qps.has(qpNum)) return qpNum;
    }
  }

  modifyQp(qp: QpHandle, next: QpState, attr: QpModifyAttr): ProviderError | null {
    const refusal = this.qp(qp).modify(next, attr);
    return refusal === null ? null : { errno: 'EINVAL', message: refusal };
  }

  queryQp(qp: QpHandle): QpQueryAttr {
    return this.qp(qp).query();
  }

  destroyQp(handle: QpHandle): void {
    const qp = this.qps.get(handle);
    if (qp === undefined) return;
    qp.reset();
    this.qps.delete(handle);
    qp.doorbellPending = false;
    this.observer?.qpDestroyed?.(qp.qpNum);
  }

  postSend(handle: QpHandle, wrs: readonly SendRequest[]): PostResult {
    const qp = this.qp(handle);
    return qp.postSend(wrs, (request, wqe) => fillSendWqe(wqe, request, qp.init, this));
  }

  postRecv(handle: QpHandle, wrs: readonly RecvRequest[]): PostResult {
    return this.qp(handle).postRecv(wrs);
  }

  private qp(handle: QpHandle): NicQp {
    const qp = this.qps.get(handle);
    if (qp === undefined) throw new Error(`ReferenceDevice invariant: no QP ${handle}`);
    return qp;
  }

  // ---- NicServices ---------------------------------------------------------------------------------

  ringDoorbell(qp: NicQp): void {
    this.counters.doorbells++;
    if (qp.doorbellPending) return;
    qp.doorbellPending = true;
    // One task per QP, made once: a Set of pending QPs allocated (it shrank) at every doorbell.
    this.clock.defer((qp.doorbellTask ??= () => this.answerDoorbell(qp)));
  }

  private answerDoorbell(qp: NicQp): void {
    if (!qp.doorbellPending) return; // destroyed, or the device closed, since it rang
    qp.doorbellPending = false;
    try {
      qp.onDoorbell();
    } catch (error) {
      // A bug of ours must fail this QP, never escape from a microtask and end the process.
      qp.fail({ kind: 'LOCAL_ERROR', fault: 'fatal', reason: `internal error: ${error instanceof Error ? error.message : String(error)}` });
    }
  }

  raiseAsync(type: AsyncEventType, qpNum: number, reason: string): void {
    this.options.onAsyncEvent({ type, qpNum, reason });
  }

  trackTransport(transport: Transport): void {
    this.liveTransports.add(transport);
  }

  /** Keeps a closed transport's counts in the device totals. */
  retireTransport(transport: Transport): void {
    if (!this.liveTransports.delete(transport)) return;
    for (const key of TRANSPORT_COUNTERS) this.retired[key] += transport.counters[key];
  }

  close(): void {
    for (const qp of [...this.qps.values()]) {
      qp.reset();
      qp.doorbellPending = false;
    }
    this.qps.clear();
    forgetSglCache(this.memory);
  }
}
