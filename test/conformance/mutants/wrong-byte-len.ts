/**
 * A broken implementation for the kit to catch: a successful receive completion reports the
 * length of the posted receive buffer instead of the bytes received.
 */
import { ReferenceOps } from '../../../src/conformance/adapter/reference-ops.js';
import type { OpName } from '../../../src/conformance/protocol/messages.js';
import { serveMutant } from './serve-mutant.js';

type R = Record<string, unknown>;

class PostedLength extends ReferenceOps {
  private readonly posted = new Map<string, number>();

  override async run(op: OpName, args: R): Promise<unknown> {
    if (op === 'postRecv') {
      for (const wr of args.wrs as R[]) this.posted.set(wr.wrId as string, (wr.sgList as { length: number }[]).reduce((sum, sge) => sum + sge.length, 0));
    }
    const result = await super.run(op, args);
    if (op !== 'pollCq') return result;
    const { wcs } = result as { wcs: R[] };
    return { wcs: wcs.map((wc) => (wc.status === 'SUCCESS' && String(wc.opcode).startsWith('RECV') ? { ...wc, byteLen: this.posted.get(wc.wrId as string) ?? wc.byteLen } : wc)) };
  }
}

await serveMutant((emit) => new PostedLength(emit));
