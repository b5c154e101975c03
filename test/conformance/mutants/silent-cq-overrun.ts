/**
 * A broken implementation for the kit to catch: a full CQ drops its oldest completion to make
 * room, silently (no CQ_ERR, the CQ keeps working), as a ring without an overrun check would.
 */
import type { WorkCompletion } from '../../../src/abi/types.js';
import { CqRing } from '../../../src/nic/cq-ring.js';
import { serveMutant } from './serve-mutant.js';

const push = CqRing.prototype.push;
CqRing.prototype.push = function (this: CqRing, wc: WorkCompletion, solicited: boolean): boolean {
  if (this.depth === this.capacity) this.poll(1);
  return push.call(this, wc, solicited);
};

await serveMutant();
