/**
 * A broken implementation for the kit to catch: deregMr answers success but leaves the region
 * registered, so its keys stay alive, as a stack that frees its handle but not the NIC's entry would.
 */
import { ReferenceOps } from '../../../src/conformance/adapter/reference-ops.js';
import type { OpName } from '../../../src/conformance/protocol/messages.js';
import { serveMutant } from './serve-mutant.js';

class KeysOutliveDereg extends ReferenceOps {
  override run(op: OpName, args: Record<string, unknown>): Promise<unknown> {
    return op === 'deregMr' ? Promise.resolve({}) : super.run(op, args);
  }
}

await serveMutant((emit) => new KeysOutliveDereg(emit));
