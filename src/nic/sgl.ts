import type { Sge } from '../abi/types.js';
import type { MemoryTable, Registration } from './memory.js';

export type SglResolution = { readonly ok: true; readonly views: Uint8Array[]; readonly regions: Registration[] } | { readonly ok: false; readonly reason: string };

/**
 * The one place an SGE list becomes memory: each SGE is checked against the MR table (live key,
 * same PD, inside the region, LOCAL_WRITE when the NIC writes) at the moment the NIC uses it, as
 * hardware does, and cut so that the views cover exactly `length` bytes (all of them by default).
 * Empty SGEs contribute nothing. The caller has checked that the list holds `length` bytes.
 */
export function resolveSgl(memory: MemoryTable, pdHandle: number, sgList: readonly Sge[], access: 'read' | 'write', length = Infinity): SglResolution {
  const views: Uint8Array[] = [];
  const regions: Registration[] = [];
  let left = length;
  for (const sge of sgList) {
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

/** Bytes an SGE list can hold. */
export function sglCapacity(sgList: readonly Sge[]): number {
  let capacity = 0;
  for (const sge of sgList) capacity += sge.length;
  return capacity;
}
