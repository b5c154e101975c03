/**
 * A broken implementation for the kit to catch: the reference, except that completions lose
 * their immediate data (and the WITH_IMM flag), as a stack that forgets to copy it would.
 */
import { ReferenceOps } from '../../../src/conformance/adapter/reference-ops.js';
import type { OpName } from '../../../src/conformance/protocol/messages.js';
import { serveMutant } from './serve-mutant.js';

class ImmDataLost extends ReferenceOps {
  override async run(op: OpName, args: Record<string, unknown>): Promise<unknown> {
    const result = await super.run(op, args);
    if (op !== 'pollCq') return result;
    const { wcs } = result as { wcs: Record<string, unknown>[] };
    return { wcs: wcs.map(({ immData: _lost, ...wc }) => ({ ...wc, wcFlags: (wc.wcFlags as number) & ~2 })) };
  }
}

await serveMutant((emit) => new ImmDataLost(emit));
