/**
 * A broken implementation for the kit to catch: a local SGE's lkey is accepted from any PD of the
 * device, as a stack that looks the key up without comparing its PD would.
 */
import { MemoryTable } from '../../../src/nic/memory.js';
import { serveMutant } from './serve-mutant.js';

type Internals = { byLkey: Map<number, { pdHandle: number }> };
const checkLocal = MemoryTable.prototype.checkLocal;
MemoryTable.prototype.checkLocal = function (this: MemoryTable, pdHandle: number, lkey: number, addr: number, length: number, write: boolean) {
  const region = (this as unknown as Internals).byLkey.get(lkey);
  return checkLocal.call(this, region?.pdHandle ?? pdHandle, lkey, addr, length, write);
};

await serveMutant();
