/**
 * A broken implementation for the kit to catch: the MR range checks, local and remote, accept a
 * range that ends one byte past the region (`end > length + 1` for `end > length`); the view is cut
 * at the region's end, as a typed array would cut it.
 */
import { MemoryTable } from '../../../src/nic/memory.js';
import { serveMutant } from './serve-mutant.js';

type Check = { ok: boolean; view?: Uint8Array; region?: { addr: number; buffer: Uint8Array } };

function offByOne<A extends unknown[]>(check: (this: MemoryTable, pd: number, key: number, addr: number, length: number, ...rest: A) => Check) {
  return function (this: MemoryTable, pd: number, key: number, addr: number, length: number, ...rest: A): Check {
    const exact = check.call(this, pd, key, addr, length, ...rest);
    if (exact.ok || length === 0) return exact;
    const shorter = check.call(this, pd, key, addr, length - 1, ...rest);
    if (!shorter.ok) return exact;
    const offset = addr - shorter.region!.addr;
    return { ...shorter, view: shorter.region!.buffer.subarray(offset, offset + length) };
  };
}

MemoryTable.prototype.checkLocal = offByOne(MemoryTable.prototype.checkLocal as never) as never;
MemoryTable.prototype.checkRemote = offByOne(MemoryTable.prototype.checkRemote as never) as never;

await serveMutant();
