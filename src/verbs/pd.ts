import type { Nic } from '../nic/nic.js';
import { QpEngine } from '../nic/qp-engine.js';
import { StreamQpEngine } from '../nic/stream-engine.js';
import { KNOWN_ACCESS, Access } from '../abi/constants.js';
import { DEVICE_LIMITS } from '../abi/limits.js';
import { VerbsError, einval } from '../abi/errors.js';
import { CompletionQueue } from './cq.js';
import { MemoryRegion } from './mr.js';
import type { VerbsObserver } from '../abi/observer.js';
import { QueuePair, type TransportFactory } from './qp.js';
import type { QpCap, QpType } from '../abi/types.js';
import { describe, requireFlags, requireInt, requireOneOf } from './validate.js';

export interface QpInitAttr {
  qpType: QpType;
  sendCq: CompletionQueue;
  recvCq: CompletionQueue;
  sqSigAll?: boolean;
  cap: Partial<QpCap> & { maxSendWr: number; maxRecvWr: number };
}

export interface PdDeps {
  readonly nic: Nic;
  readonly observer: VerbsObserver | null;
  readonly takeSocket: TransportFactory;
  readonly ownsCq: (cq: unknown) => boolean;
  readonly onDealloc: (pd: ProtectionDomain) => void;
}

/** ibv_pd: the protection domain that MRs and QPs share; keys work only within it. */
export class ProtectionDomain {
  private readonly mrs = new Set<MemoryRegion>();
  private readonly qps = new Set<QueuePair>();
  private deallocated = false;

  constructor(readonly handle: number, private readonly deps: PdDeps) {}

  private live(): void {
    if (this.deps.nic.closed) throw new VerbsError('ENODEV', 'the device context of this protection domain was closed');
    if (this.deallocated) throw new VerbsError('EINVAL', 'the protection domain was deallocated');
  }

  /** ibv_reg_mr: REMOTE_WRITE or REMOTE_ATOMIC require LOCAL_WRITE. */
  regMr(buffer: Uint8Array, access: number): MemoryRegion {
    this.live();
    if (!(buffer instanceof Uint8Array)) throw einval(`buffer must be a Uint8Array, got ${describe(buffer)}`);
    if (buffer.byteLength > DEVICE_LIMITS.maxMrSize) throw einval(`the buffer is ${buffer.byteLength} bytes; the largest registration is ${DEVICE_LIMITS.maxMrSize}`);
    requireFlags('access', access, KNOWN_ACCESS, 'LOCAL_WRITE|REMOTE_WRITE|REMOTE_READ|REMOTE_ATOMIC');
    if ((access & (Access.REMOTE_WRITE | Access.REMOTE_ATOMIC)) !== 0 && (access & Access.LOCAL_WRITE) === 0) {
      throw einval('REMOTE_WRITE and REMOTE_ATOMIC need LOCAL_WRITE as well (ibv_reg_mr)');
    }
    const registration = this.deps.nic.memory.register(this.handle, buffer, access);
    if (registration === null) throw new VerbsError('ENOMEM', `the device holds at most ${DEVICE_LIMITS.maxMr} memory regions`);
    const mr = new MemoryRegion(registration, () => this.deps.nic.closed, (region, reg) => {
      this.deps.nic.memory.deregister(reg);
      this.mrs.delete(region);
    });
    this.mrs.add(mr);
    return mr;
  }

  createQp(init: QpInitAttr): QueuePair {
    this.live();
    if (typeof init !== 'object' || init === null) throw einval(`init must be an object, got ${describe(init)}`);
    const qpType = requireOneOf('qpType', init.qpType, ['RC', 'STREAM'] as const);
    for (const which of ['sendCq', 'recvCq'] as const) {
      const cq = init[which];
      if (!this.deps.ownsCq(cq) || !(cq instanceof CompletionQueue) || cq.isDestroyed) throw einval(`${which} must be a live CQ of this device context`);
    }
    if (init.sqSigAll !== undefined && typeof init.sqSigAll !== 'boolean') throw einval(`sqSigAll must be a boolean, got ${describe(init.sqSigAll)}`);
    if (typeof init.cap !== 'object' || init.cap === null) throw einval('cap { maxSendWr, maxRecvWr, maxSendSge, maxRecvSge, maxInlineData } is required');
    const cap: QpCap = {
      maxSendWr: requireInt('cap.maxSendWr', init.cap.maxSendWr, 1, DEVICE_LIMITS.maxQpWr),
      maxRecvWr: requireInt('cap.maxRecvWr', init.cap.maxRecvWr, 0, DEVICE_LIMITS.maxQpWr),
      maxSendSge: requireInt('cap.maxSendSge', init.cap.maxSendSge ?? 1, 0, DEVICE_LIMITS.maxSge),
      maxRecvSge: requireInt('cap.maxRecvSge', init.cap.maxRecvSge ?? 1, 0, DEVICE_LIMITS.maxSge),
      maxInlineData: requireInt('cap.maxInlineData', init.cap.maxInlineData ?? 0, 0, DEVICE_LIMITS.maxInlineData),
    };
    const nic = this.deps.nic;
    if (nic.engineCount >= DEVICE_LIMITS.maxQp) throw new VerbsError('ENOMEM', `the device holds at most ${DEVICE_LIMITS.maxQp} QPs`);
    const qpNum = nic.allocQpNum();
    const sqSigAll = init.sqSigAll === true;
    const Engine = qpType === 'STREAM' ? StreamQpEngine : QpEngine;
    const engine = new Engine({ qpNum, qpType, pdHandle: this.handle, sendCq: init.sendCq.ring, recvCq: init.recvCq.ring, cap, sqSigAll }, nic);
    nic.addEngine(engine);
    const cqs = new Set([init.sendCq, init.recvCq]);
    for (const cq of cqs) cq.users++;
    const qp: QueuePair = new QueuePair(qpNum, qpType, cap, sqSigAll, {
      engine,
      observer: this.deps.observer,
      takeSocket: this.deps.takeSocket,
      findInline: (addr, length) => nic.memory.findByAddress(this.handle, addr, length),
      onDestroy: () => {
        nic.removeEngine(engine);
        for (const cq of cqs) cq.users--;
        this.qps.delete(qp);
      },
    });
    this.qps.add(qp);
    this.deps.observer?.qpCreated?.(qpNum, qpType);
    return qp;
  }

  dealloc(): void {
    this.live();
    if (this.mrs.size > 0 || this.qps.size > 0) {
      throw new VerbsError('EBUSY', `the protection domain still has ${this.mrs.size} memory region(s) and ${this.qps.size} QP(s); release them first`);
    }
    this.deallocated = true;
    this.deps.onDealloc(this);
  }
}
