/**
 * A broken implementation for the kit to catch: the reference, except that a post_send the QP's
 * state refuses is reported as accepted (nothing is queued), as a stack without the state check
 * at post time would look from outside.
 */
import { ReferenceOps } from '../../../src/conformance/adapter/reference-ops.js';
import type { OpName } from '../../../src/conformance/protocol/messages.js';
import { serveMutant } from './serve-mutant.js';

class PostSendInRtr extends ReferenceOps {
  override async run(op: OpName, args: Record<string, unknown>): Promise<unknown> {
    try {
      return await super.run(op, args);
    } catch (error) {
      if (op === 'postSend' && error instanceof Error && /it is in RTR/.test(error.message)) return {};
      throw error;
    }
  }
}

await serveMutant((emit) => new PostSendInRtr(emit));
