/**
 * A broken implementation for the kit to catch: the reference, except that every memory region
 * is registered with REMOTE_WRITE (and the LOCAL_WRITE it needs), whatever was asked: a stack that
 * does not check a region's remote-write right.
 */
import { ReferenceOps } from '../../../src/conformance/adapter/reference-ops.js';
import type { OpName } from '../../../src/conformance/protocol/messages.js';
import { serveMutant } from './serve-mutant.js';

class GrantsRemoteWrite extends ReferenceOps {
  override run(op: OpName, args: Record<string, unknown>): Promise<unknown> {
    if (op === 'regMr') return super.run(op, { ...args, access: (args.access as number) | 1 | 2 });
    return super.run(op, args);
  }
}

await serveMutant((emit) => new GrantsRemoteWrite(emit));
