/**
 * A broken implementation for the kit to catch: every send WR is treated as signaled, so an
 * unsignaled success leaves a completion.
 */
import { ReferenceOps } from '../../../src/conformance/adapter/reference-ops.js';
import type { OpName } from '../../../src/conformance/protocol/messages.js';
import { serveMutant } from './serve-mutant.js';

const SIGNALED = 2;

class EverySendSignaled extends ReferenceOps {
  override run(op: OpName, args: Record<string, unknown>): Promise<unknown> {
    if (op !== 'postSend') return super.run(op, args);
    const wrs = (args.wrs as Record<string, unknown>[]).map((wr) => ({ ...wr, sendFlags: (wr.sendFlags as number) | SIGNALED }));
    return super.run(op, { ...args, wrs });
  }
}

await serveMutant((emit) => new EverySendSignaled(emit));
