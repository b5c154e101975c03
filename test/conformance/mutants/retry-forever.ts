/**
 * A broken implementation for the kit to catch: the local ACK timeout is ignored (every QP waits
 * for an answer forever, as timeout 0 asks), so a silent peer never ends a WR with RETRY_EXC_ERR.
 */
import { ReferenceOps } from '../../../src/conformance/adapter/reference-ops.js';
import type { OpName } from '../../../src/conformance/protocol/messages.js';
import { serveMutant } from './serve-mutant.js';

class NoAckTimeout extends ReferenceOps {
  override run(op: OpName, args: Record<string, unknown>): Promise<unknown> {
    const attr = args.attr as Record<string, unknown> | undefined;
    if (op === 'modifyQp' && attr?.timeout !== undefined) return super.run(op, { ...args, attr: { ...attr, timeout: 0 } });
    return super.run(op, args);
  }
}

await serveMutant((emit) => new NoAckTimeout(emit));
