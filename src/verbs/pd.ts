import { Access, KNOWN_ACCESS } from '../abi/constants.js';
import { VerbsError, einval } from '../abi/errors.js';
import { DEVICE_LIMITS } from '../abi/limits.js';
import type { VerbsObserver } from '../abi/observer.js';
import type { QpCap, QpType } from '../abi/types.js';
import { isProviderError, type PdHandle, type ProviderOps } from '../provider/ops.js';
import { CompletionQueue } from './cq.js';
import { MemoryRegion } from './mr.js';
import { QueuePair, type TransportFactory } from './qp.js';
import { describe, requireFlags, requireInt, requireOneOf } from './validate.js';

export interface QpInitAttr {
  qpType: QpType;
  sendCq: CompletionQueue;
  recvCq: CompletionQueue;
  sqSigAll?: boolean;
  cap: Partial<QpCap> & { maxSendWr: number; maxRecvWr: number };
}

export interface PdDeps {
  readonly provider: ProviderOps;
  readonly observer: VerbsObserver | null;
  readonly takeSocket: TransportFactory;
  readonly contextClosed: () => boolean;
  readonly ownsCq: (cq: unknown) => boolean;
  readonly onDealloc: (pd: ProtectionDomain) => void;
}

/**
 * Why a buffer cannot be registered as it is: an MR covers a fixed range of memory for its whole
 * life, and a view over a resizable (or growable shared) buffer can change length under it.
 */
function unfixedBuffer(buffer: Uint8Array): string | null {
  const backing = buffer.buffer as ArrayBufferLike & { resizable?: boolean; growable?: boolean };
  if (backing.resizable === true) return 'the buffer is a view of a resizable ArrayBuffer, whose length can change under the MR; register a view of a fixed-length ArrayBuffer';
  if (backing.growable === true) return 'the buffer is a view of a growable SharedArrayBuffer, whose length can change under the MR; register a view of a fixed-length buffer';
  return null;
}

/** ibv_pd: the protection domain that MRs and QPs share; keys work only within it. */
export class ProtectionDomain {
  private readonly mrs = new Set<MemoryRegion>();
  private readonly qps = new Set<QueuePair>();
  private deallocated = false;

  constructor(readonly handle: PdHandle, private readonly deps: PdDeps) {}

  private live(): ProviderOps {
    if (this.deps.contextClosed()) throw new VerbsError('ENODEV', 'the device context of this protection domain was closed');
    if (this.deallocated) throw new VerbsError('EINVAL', 'the protection domain was deallocated');
    return this.deps.provider;
  }

  /** ibv_reg_mr: REMOTE_WRITE or REMOTE_ATOMIC require LOCAL_WRITE. */
  regMr(buffer: Uint8Array, access: number): MemoryRegion {
    const provider = this.live();
    if (!(buffer instanceof Uint8Array)) throw einval(`buffer must be a Uint8Array, got ${describe(buffer)}`);
    const unfixed = unfixedBuffer(buffer);
    if (unfixed !== null) throw einval(unfixed);
    if (buffer.byteLength > DEVICE_LIMITS.maxMrSize) throw einval(`the buffer is ${buffer.byteLength} bytes; the largest registration is ${DEVICE_LIMITS.maxMrSize}`);
    requireFlags('access', access, KNOWN_ACCESS, 'LOCAL_WRITE|REMOTE_WRITE|REMOTE_READ|REMOTE_ATOMIC');
    if ((access & (Access.REMOTE_WRITE | Access.REMOTE_ATOMIC)) !== 0 && (access & Access.LOCAL_WRITE) === 0) {
      throw einval('REMOTE_WRITE and REMOTE_ATOMIC need LOCAL_WRITE as well (ibv_reg_mr)');
    }
    const info = provider.regMr(this.handle, buffer, access);
    if (isProviderError(info)) throw new VerbsError(info.errno, info.message);
    const mr = new MemoryRegion(info, this.deps.contextClosed, (region, gone) => {
      const refusal = provider.deregMr(gone.handle);
      if (refusal !== null) throw new VerbsError(refusal.errno, refusal.message);
      this.mrs.delete(region);
    });
    this.mrs.add(mr);
    return mr;
  }

  createQp(init: QpInitAttr): QueuePair {
    const provider = this.live();
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
    const sqSigAll = init.sqSigAll === true;
    const created = provider.createQp(this.handle, { qpType, sendCq: init.sendCq.handle, recvCq: init.recvCq.handle, cap, sqSigAll });
    if (isProviderError(created)) throw new VerbsError(created.errno, created.message);
    const cqs = new Set([init.sendCq, init.recvCq]);
    for (const cq of cqs) cq.users++;
    const qp: QueuePair = new QueuePair(created.qpNum, qpType, cap, sqSigAll, {
      provider,
      handle: created.handle,
      observer: this.deps.observer,
      takeSocket: this.deps.takeSocket,
      contextClosed: this.deps.contextClosed,
      onDestroy: () => {
        for (const cq of cqs) cq.users--;
        this.qps.delete(qp);
      },
    });
    this.qps.add(qp);
    return qp;
  }

  dealloc(): void {
    const provider = this.live();
    if (this.mrs.size > 0 || this.qps.size > 0) {
      throw new VerbsError('EBUSY', `the protection domain still has ${this.mrs.size} memory region(s) and ${this.qps.size} QP(s); release them first`);
    }
    this.deallocated = true;
    provider.deallocPd(this.handle);
    this.deps.onDealloc(this);
  }
}
