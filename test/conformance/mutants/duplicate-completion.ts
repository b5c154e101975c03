/**
 * A broken implementation for the kit to catch: every successful send completion is stored twice,
 * as a completer that retires a WQE from both the ACK and the timer path would.
 */
import type { WorkCompletion } from '../../../src/abi/types.js';
import { CqRing } from '../../../src/nic/cq-ring.js';
import { serveMutant } from './serve-mutant.js';

const SEND_OPCODES = new Set(['SEND', 'RDMA_WRITE', 'RDMA_READ', 'COMP_SWAP', 'FETCH_ADD']);
const push = CqRing.prototype.push;
CqRing.prototype.push = function (this: CqRing, wc: WorkCompletion, solicited: boolean): boolean {
  const stored = push.call(this, wc, solicited);
  if (stored && wc.status === 'SUCCESS' && SEND_OPCODES.has(wc.opcode)) push.call(this, { ...wc }, solicited);
  return stored;
};

await serveMutant();
