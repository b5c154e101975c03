/**
 * A broken implementation for the kit to catch: the NIC's CQ ring stores successful completions
 * pairwise swapped (each is held back until the next one is stored, or 20 ms pass), as a stack
 * that completes from two places without ordering them would.
 */
import type { WorkCompletion } from '../../../src/abi/types.js';
import { CqRing } from '../../../src/nic/cq-ring.js';
import { serveMutant } from './serve-mutant.js';

/** A completion held back with nothing after it is stored late, not lost: the bug is the order. */
const HOLD_MS = 20;
const held = new WeakMap<CqRing, { wc: WorkCompletion; solicited: boolean; timer: NodeJS.Timeout }>();
const push = CqRing.prototype.push;
CqRing.prototype.push = function (this: CqRing, wc: WorkCompletion, solicited: boolean): boolean {
  const waiting = held.get(this);
  if (waiting === undefined && wc.status === 'SUCCESS') {
    const timer = setTimeout(() => {
      held.delete(this);
      push.call(this, wc, solicited);
    }, HOLD_MS);
    held.set(this, { wc, solicited, timer });
    return true;
  }
  held.delete(this);
  if (waiting !== undefined) clearTimeout(waiting.timer);
  const stored = push.call(this, wc, solicited);
  return waiting === undefined ? stored : push.call(this, waiting.wc, waiting.solicited) && stored;
};

await serveMutant();
