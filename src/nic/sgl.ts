import type { Sge } from '../abi/types.js';
import type { MemoryTable, Registration } from './memory.js';

export type SglResolution = { readonly ok: true; readonly views: readonly Uint8Array[]; readonly regions: readonly Registration[] } | { readonly ok: false; readonly reason: string };

// The arrays of a resolution are not frozen: optimized code sends a keyed load from a frozen
// array (its own elements kind) to V8's generic IC, measured at ~8 % of the receive path. A
// shared one is checked at every cache hit instead (see resolveOne).
const NOTHING: SglResolution = { ok: true, views: [], regions: [] };

/**
 * The one place an SGE list becomes memory: each SGE is checked against the MR table (live key,
 * same PD, inside the region, LOCAL_WRITE when the NIC writes) at the moment the NIC uses it, as
 * hardware does, and cut so that the views cover exactly `length` bytes (all of them by default).
 * Empty SGEs contribute nothing. The caller has checked that the list holds `length` bytes.
 * The result may be shared: callers read it and never change it.
 */
export function resolveSgl(memory: MemoryTable, pdHandle: number, sgList: readonly Sge[], access: 'read' | 'write', length = Infinity): SglResolution {
  if (sgList.length === 1) return resolveOne(memory, pdHandle, sgList[0]!, access === 'write', length);
  const views: Uint8Array[] = [];
  const regions: Registration[] = [];
  let left = length;
  for (let i = 0; i < sgList.length; i++) {
    const sge = sgList[i]!;
    if (left === 0) break;
    const take = Math.min(left, sge.length);
    if (take === 0) continue;
    const check = memory.checkLocal(pdHandle, sge.lkey, sge.addr, take, access === 'write');
    if (!check.ok) return { ok: false, reason: check.reason };
    views.push(check.view);
    regions.push(check.region);
    left -= take;
  }
  return { ok: true, views, regions };
}

/**
 * The one-SGE list a QP's requester resolved last, and the answer. The verbs layer hands equal
 * one-SGE lists over as one object (a checked list is a value), so a run of WRs on one buffer is
 * answered by identity, before the table's cache below is searched; every rule of that cache
 * holds here too (the same table, PD, generation of the table, access and length, the view
 * still whole, the grant reported to an observer as a looked-up one).
 */
export class LastResolution {
  memory: MemoryTable | null = null;
  pdHandle = -1;
  sgList: readonly Sge[] | null = null;
  write = false;
  length = -1;
  generation = -1;
  result: SglResolution = NOTHING;
  view: Uint8Array = EMPTY_VIEW;
  region: Registration | null = null;
  take = 0;

  /** Lets go of the answer (and the region and buffer it holds): the QP was reset. */
  clear(): void {
    this.memory = this.sgList = this.region = null;
    this.result = NOTHING;
    this.view = EMPTY_VIEW;
  }
}

/** The answer is still the one view and region it was made with, whole (a caller may not change it; a detached buffer reads 0 bytes). */
function intact(result: SglResolution, view: Uint8Array, region: Registration | null, take: number): boolean {
  return result.ok && result.views.length === 1 && result.views[0] === view && view.byteLength === take && result.regions.length === 1 && result.regions[0] === region;
}

/** resolveSgl, answered from `last` when it holds this very list. */
export function resolveSglAgain(last: LastResolution, memory: MemoryTable, pdHandle: number, sgList: readonly Sge[], access: 'read' | 'write', length = Infinity): SglResolution {
  const write = access === 'write';
  if (sgList === last.sgList && memory === last.memory && pdHandle === last.pdHandle && write === last.write && length === last.length && memory.generation === last.generation && intact(last.result, last.view, last.region, last.take)) {
    memory.reportCachedLocal(last.region!, sgList[0]!.addr, last.take, write);
    return last.result;
  }
  const result = resolveSgl(memory, pdHandle, sgList, access, length);
  if (result.ok && sgList.length === 1 && result.views.length === 1) {
    last.memory = memory;
    last.pdHandle = pdHandle;
    last.sgList = sgList;
    last.write = write;
    last.length = length;
    last.generation = memory.generation;
    last.result = result;
    last.view = result.views[0]!;
    last.region = result.regions[0]!;
    last.take = result.views[0]!.byteLength;
  } else {
    // Nothing of an answer not kept is held (a refused list's region may be deregistered next).
    last.clear();
  }
  return result;
}

/** A resolution of a one-SGE list, good for the generation of its table it was made under. */
interface CachedResolution {
  generation: number;
  pdHandle: number;
  lkey: number;
  addr: number;
  take: number;
  write: boolean;
  result: SglResolution;
  /** What the result held when it was made. */
  view: Uint8Array;
  region: Registration | null;
}

/**
 * Applications repost the same few SGEs (perftest posts one WR again and again), so a one-SGE
 * list resolved before is answered from here, as a NIC answers from its MTT cache: no table
 * lookup, and no view or arrays made per WR. A hit matches every input of the check exactly; a
 * deregistration (a new generation) invalidates every entry of its table; a buffer detached or
 * shrunk under its MR (its view then reads 0 bytes) is checked again, so refused; refusals are
 * never cached; an observer watching memory accesses is told of every cached grant as of a
 * looked-up one. Four entries per table (they go with it), fully associative, replaced round robin: a
 * send and a receive buffer never evict each other.
 */
const CACHE_ENTRIES = 4;
const EMPTY_VIEW = new Uint8Array(0);
interface SglCache { entries: CachedResolution[]; nextVictim: number }
const caches = new WeakMap<MemoryTable, SglCache>();

/**
 * The two tables asked last, and their caches (a WeakMap lookup per WR measured ~0.4 % of the
 * receive path): two, so that the two devices of a pair in one process (the conformance kit, the
 * tests) do not evict each other on every WR. A closed device lets go of its entry
 * (forgetSglCache), so its memory is not kept reachable.
 */
let lastMemory: MemoryTable | null = null;
let lastCache: SglCache | null = null;
let otherMemory: MemoryTable | null = null;
let otherCache: SglCache | null = null;

/** The device owning `memory` closed: its cache entries, and the views and regions they hold, go. */
export function forgetSglCache(memory: MemoryTable): void {
  caches.delete(memory);
  if (lastMemory === memory) lastMemory = lastCache = null;
  if (otherMemory === memory) otherMemory = otherCache = null;
}

function cacheOf(memory: MemoryTable): SglCache {
  if (memory === lastMemory) return lastCache!;
  let cache = memory === otherMemory ? otherCache : caches.get(memory);
  if (cache === undefined || cache === null) {
    cache = { entries: Array.from({ length: CACHE_ENTRIES }, () => ({ generation: -1, pdHandle: 0, lkey: 0, addr: 0, take: 0, write: false, result: NOTHING, view: EMPTY_VIEW, region: null })), nextVictim: 0 };
    caches.set(memory, cache);
  }
  otherMemory = lastMemory;
  otherCache = lastCache;
  lastMemory = memory;
  lastCache = cache;
  return cache;
}

function resolveOne(memory: MemoryTable, pdHandle: number, sge: Sge, write: boolean, length: number): SglResolution {
  const take = Math.min(length, sge.length);
  if (take === 0) return NOTHING;
  const { lkey, addr } = sge;
  const generation = memory.generation;
  const cache = cacheOf(memory);
  const { entries } = cache;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (entry.generation !== generation) {
      // Stale since a deregistration: let go of its region and buffer.
      entry.result = NOTHING;
      entry.view = EMPTY_VIEW;
      entry.region = null;
      continue;
    }
    if (entry.lkey === lkey && entry.addr === addr && entry.take === take && entry.write === write && entry.pdHandle === pdHandle) {
      // A hit is the one view and region it was made with, whole: a caller that changed a shared
      // answer (the type forbids it) or a buffer detached under its MR makes it a miss.
      if (intact(entry.result, entry.view, entry.region, take)) {
        memory.reportCachedLocal(entry.region!, addr, take, write);
        return entry.result;
      }
      break;
    }
  }
  const result = checkOne(memory, pdHandle, lkey, addr, take, write);
  if (!result.ok) return result;
  const entry = cache.entries[cache.nextVictim]!;
  cache.nextVictim = (cache.nextVictim + 1) % CACHE_ENTRIES;
  entry.generation = generation;
  entry.pdHandle = pdHandle;
  entry.lkey = lkey;
  entry.addr = addr;
  entry.take = take;
  entry.write = write;
  entry.result = result;
  entry.view = result.views[0]!;
  entry.region = result.regions[0]!;
  return result;
}

function checkOne(memory: MemoryTable, pdHandle: number, lkey: number, addr: number, take: number, write: boolean): SglResolution {
  const check = memory.checkLocal(pdHandle, lkey, addr, take, write);
  if (!check.ok) return { ok: false, reason: check.reason };
  return { ok: true, views: [check.view], regions: [check.region] };
}

/** Bytes an SGE list can hold. */
export function sglCapacity(sgList: readonly Sge[]): number {
  let capacity = 0;
  for (let i = 0; i < sgList.length; i++) capacity += sgList[i]!.length;
  return capacity;
}
