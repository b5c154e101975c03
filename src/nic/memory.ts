import { randomInt } from 'node:crypto';
import { Access } from '../abi/constants.js';
import { ADDRESS_LIMITS } from '../abi/limits.js';
import type { VerbsObserver } from '../abi/observer.js';

/** One registration as the NIC's translation table sees it. */
export interface Registration {
  readonly pdHandle: number;
  readonly lkey: number;
  readonly rkey: number;
  /** Virtual address of buffer[0]. */
  readonly addr: number;
  readonly buffer: Uint8Array;
  readonly access: number;
  /**
   * Work requests and transfers that may still touch the region (a WQE's resolved SGEs, a payload
   * being read into it). Deregistration waits for none: IB forbids freeing memory the hardware may
   * access, so dereg refuses with EBUSY while this is above 0.
   */
  inUse: number;
}

/** Marks regions as touched by a WR or a transfer until `release`. */
export function pin(regions: readonly Registration[]): void {
  for (let i = 0; i < regions.length; i++) regions[i]!.inUse++;
}

export function release(regions: readonly Registration[]): void {
  for (let i = 0; i < regions.length; i++) {
    const region = regions[i]!;
    region.inUse--;
    if (region.inUse < 0) throw new Error('MemoryTable invariant: a region released more often than pinned');
  }
}

export type LocalCheck = { ok: true; view: Uint8Array; region: Registration } | { ok: false; reason: string };
export type RemoteOp = 'read' | 'write' | 'atomic';
export type RemoteCheck = { ok: true; view: Uint8Array; region: Registration } | { ok: false; status: 'REM_ACCESS_ERR' | 'REM_INV_REQ_ERR'; reason: string };

const KEY_SPACE = 0x1_0000_0000;
/** Virtual addresses start high and leave a random gap between regions, so a stale or guessed address rarely lands in another region. */
const { base: ADDRESS_BASE, align: ADDRESS_ALIGN, limit: ADDRESS_LIMIT } = ADDRESS_LIMITS;

/**
 * The NIC's memory translation and protection table. Keys are random 32-bit values, never reused
 * for the life of the device (a dead key stays dead), so a stale or guessed key fails the check.
 */
export class MemoryTable {
  private readonly byLkey = new Map<number, Registration>();
  private readonly byRkey = new Map<number, Registration>();
  private readonly usedKeys = new Set<number>();
  private nextAddress = ADDRESS_BASE + randomInt(1 << 20) * ADDRESS_ALIGN;
  /** Bumped by every deregistration: what was resolved under an older generation may be stale. */
  private deregistrations = 0;

  constructor(private readonly maxRegistrations: number, private readonly observer: VerbsObserver | null = null) {}

  get size(): number {
    return this.byLkey.size;
  }

  get generation(): number {
    return this.deregistrations;
  }

  /**
   * A local access granted from a cache of earlier checks (nic/sgl.ts): the observer sees it as
   * it sees every check, so a watcher cannot tell a cached grant from a looked-up one.
   */
  reportCachedLocal(region: Registration, addr: number, length: number, write: boolean): void {
    const observe = this.observer?.memoryAccess;
    if (observe !== undefined) observe.call(this.observer, { side: 'local', key: region.lkey, offset: addr - region.addr, length, op: write ? 'write' : 'read', granted: true });
  }

  private freshKey(): number {
    for (;;) {
      const key = randomInt(1, KEY_SPACE);
      if (!this.usedKeys.has(key)) {
        this.usedKeys.add(key);
        return key;
      }
    }
  }

  register(pdHandle: number, buffer: Uint8Array, access: number): Registration | null {
    if (this.byLkey.size >= this.maxRegistrations) return null;
    const addr = this.nextAddress;
    const span = Math.ceil(Math.max(buffer.byteLength, 1) / ADDRESS_ALIGN) * ADDRESS_ALIGN;
    this.nextAddress += span + (1 + randomInt(64)) * ADDRESS_ALIGN;
    if (this.nextAddress > ADDRESS_LIMIT) this.nextAddress = ADDRESS_BASE;
    const registration: Registration = { pdHandle, lkey: this.freshKey(), rkey: this.freshKey(), addr, buffer, access, inUse: 0 };
    this.byLkey.set(registration.lkey, registration);
    this.byRkey.set(registration.rkey, registration);
    this.observer?.mrRegistered?.(registration.lkey, registration.rkey, buffer.byteLength, access);
    return registration;
  }

  deregister(registration: Registration): void {
    this.deregistrations++;
    this.byLkey.delete(registration.lkey);
    this.byRkey.delete(registration.rkey);
    this.observer?.mrDeregistered?.(registration.lkey);
  }

  /** A WR's SGE: the key must be live, in the QP's PD, and cover [addr, addr+length). */
  checkLocal(pdHandle: number, lkey: number, addr: number, length: number, write: boolean): LocalCheck {
    const result = this.judgeLocal(pdHandle, lkey, addr, length, write);
    const observe = this.observer?.memoryAccess;
    if (observe !== undefined) {
      const r = this.byLkey.get(lkey);
      observe.call(this.observer, { side: 'local', key: lkey, offset: r === undefined ? null : addr - r.addr, length, op: write ? 'write' : 'read', granted: result.ok });
    }
    return result;
  }

  private judgeLocal(pdHandle: number, lkey: number, addr: number, length: number, write: boolean): LocalCheck {
    const r = this.byLkey.get(lkey);
    if (r === undefined) return { ok: false, reason: `lkey 0x${lkey.toString(16)} names no live memory region` };
    if (r.pdHandle !== pdHandle) return { ok: false, reason: `lkey 0x${lkey.toString(16)} belongs to another protection domain` };
    const offset = addr - r.addr;
    if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > r.buffer.byteLength) {
      return { ok: false, reason: `[0x${addr.toString(16)}, +${length}) is outside the region [0x${r.addr.toString(16)}, +${r.buffer.byteLength})` };
    }
    if (write && (r.access & Access.LOCAL_WRITE) === 0) return { ok: false, reason: 'the region was registered without LOCAL_WRITE' };
    return { ok: true, view: r.buffer.subarray(offset, offset + length), region: r };
  }

  /** Inline data names memory by address only (libibverbs ignores the lkey of inline SGEs). */
  findByAddress(pdHandle: number, addr: number, length: number): Uint8Array | null {
    for (const r of this.byLkey.values()) {
      const offset = addr - r.addr;
      if (r.pdHandle === pdHandle && offset >= 0 && offset + length <= r.buffer.byteLength) return r.buffer.subarray(offset, offset + length);
    }
    return null;
  }

  /** A peer's RDMA or atomic: the rkey must be live, in the QP's PD, allow `op`, and cover the range. */
  checkRemote(pdHandle: number, rkey: number, addr: number, length: number, op: RemoteOp): RemoteCheck {
    const result = this.judgeRemote(pdHandle, rkey, addr, length, op);
    const r = this.byRkey.get(rkey);
    this.observer?.memoryAccess?.({ side: 'remote', key: rkey, offset: r === undefined ? null : addr - r.addr, length, op, granted: result.ok });
    return result;
  }

  private judgeRemote(pdHandle: number, rkey: number, addr: number, length: number, op: RemoteOp): RemoteCheck {
    if (op === 'atomic' && addr % 8 !== 0) return { ok: false, status: 'REM_INV_REQ_ERR', reason: `atomic address 0x${addr.toString(16)} is not 8-byte aligned` };
    const r = this.byRkey.get(rkey);
    if (r === undefined) return { ok: false, status: 'REM_ACCESS_ERR', reason: `rkey 0x${rkey.toString(16)} names no live memory region` };
    if (r.pdHandle !== pdHandle) return { ok: false, status: 'REM_ACCESS_ERR', reason: `rkey 0x${rkey.toString(16)} belongs to another protection domain` };
    const needed = op === 'read' ? Access.REMOTE_READ : op === 'write' ? Access.REMOTE_WRITE : Access.REMOTE_ATOMIC;
    if ((r.access & needed) === 0) return { ok: false, status: 'REM_ACCESS_ERR', reason: `the region does not allow remote ${op}` };
    const offset = addr - r.addr;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > r.buffer.byteLength) {
      return { ok: false, status: 'REM_ACCESS_ERR', reason: `[0x${addr.toString(16)}, +${length}) is outside the region` };
    }
    return { ok: true, view: r.buffer.subarray(offset, offset + length), region: r };
  }
}
