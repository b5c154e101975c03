/**
 * A broken implementation for the kit to catch: every move to SQD asks for SQ_DRAINED, whatever
 * en_sqd_async_notify says, as a stack that ignores the attribute (rxe raises it unconditionally).
 */
import { QpAttrMask } from '../../../machines/qp-attr-mask.js';
import { ReferenceOps } from '../../../src/conformance/adapter/reference-ops.js';
import type { OpName } from '../../../src/conformance/protocol/messages.js';
import { serveMutant } from './serve-mutant.js';

class AlwaysNotifies extends ReferenceOps {
  override run(op: OpName, args: Record<string, unknown>): Promise<unknown> {
    const attr = args.attr as Record<string, unknown> | undefined;
    if (op === 'modifyQp' && attr?.qpState === 'SQD') return super.run(op, { ...args, attr: { ...attr, enSqdAsyncNotify: true }, mask: (args.mask as number) | QpAttrMask.EN_SQD_ASYNC_NOTIFY });
    return super.run(op, args);
  }
}

await serveMutant((emit) => new AlwaysNotifies(emit));
