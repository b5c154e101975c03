/**
 * A broken implementation for the kit to catch: the NIC's CQ ring stores successful completions
 * pairwise swapped (each is held back until the next one is stored), as a stack that completes
 * from two places without ordering them would.
 */
import type { WorkCompletion } from '../../../src/abi/types.js';
import { CqRing } from '../../../src/nic/cq-ring.js';
import { serveMutant } from './serve-mutant.js';

const held = new WeakMap<CqRing, { wc: WorkCompletion; solicited: boolean }>();
const push = CqRing.prototype.push;
CqRing.prototype.push = function (this: CqRing, wc: WorkCompletion, solicited: boolean): boolean {
  const waiting = held.get(this);
  if (waiting === undefined && wc.status === 'SUCCESS') {
    held.set(this, { wc, solicited });
    return true;
  }
  held.delete(this);
  const stored = push.call(this, wc, solicited);
  return waiting === undefined ? stored : push.call(this, waiting.wc, waiting.solicited) && stored;
};

await serveMutant();
