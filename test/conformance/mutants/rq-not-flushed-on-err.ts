/**
 * A broken implementation for the kit to catch: in ERR the receive queue is emptied without
 * completions (send WRs still flush), as a stack that forgets the receive side of the flush would.
 */
import type { WcStatus } from '../../../src/abi/types.js';
import { Completer } from '../../../src/nic/completer.js';
import { serveMutant } from './serve-mutant.js';

type Internals = { qp: { rq: { shift(): unknown } } };
const completeRecv = Completer.prototype.completeRecv;
Completer.prototype.completeRecv = function (this: Completer, status: WcStatus, ...rest: [number, never, number | undefined, boolean]): void {
  if (status === 'WR_FLUSH_ERR') {
    (this as unknown as Internals).qp.rq.shift();
    return;
  }
  completeRecv.call(this, status, ...rest);
};

await serveMutant();
