/**
 * A broken implementation for the kit to catch: the reference, except that a post_send the QP's
 * state refuses is reported as accepted (nothing is queued), as a stack without the state check
 * at post time would look from outside.
 */
import { serveAdapter } from '../../../src/conformance/adapter/serve.js';
import { ReferenceOps } from '../../../src/conformance/adapter/reference-ops.js';
import type { OpName } from '../../../src/conformance/protocol/messages.js';

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

await serveAdapter(process.stdin, process.stdout, (emit) => new PostSendInRtr(emit));
process.stdout.write('', () => process.exit(0));
