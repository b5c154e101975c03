/**
 * A broken implementation for the kit to catch: the reference, except that a modify to RTS that
 * lacks SQ_PSN is accepted (the adapter adds the missing bit), as a stack that forgot the
 * kernel's required-attribute check would.
 */
import { ReferenceOps } from '../../../src/conformance/adapter/reference-ops.js';
import type { OpName } from '../../../src/conformance/protocol/messages.js';
import { serveMutant } from './serve-mutant.js';

const SQ_PSN = 1 << 16;

class LaxRts extends ReferenceOps {
  override run(op: OpName, args: Record<string, unknown>): Promise<unknown> {
    const attr = args.attr as { qpState?: string } | undefined;
    if (op === 'modifyQp' && attr?.qpState === 'RTS' && ((args.mask as number) & SQ_PSN) === 0) {
      return super.run(op, { ...args, attr: { ...attr, sqPsn: 0 }, mask: (args.mask as number) | SQ_PSN });
    }
    return super.run(op, args);
  }
}

await serveMutant((emit) => new LaxRts(emit));
