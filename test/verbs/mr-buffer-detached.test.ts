import { describe, expect, it } from 'vitest';
import { SendFlags } from '../../src/index.js';
import { makeSide, pollUntil, sge, socketPair, toRtr, toRts } from '../support/verbs-harness.js';

/**
 * With no observer installed (as applications and `tcpverbs perf` run, unlike the harness's
 * default Monitor) SGEs are resolved through the SGE cache. An MR whose buffer the application
 * detaches (transfers away) must still be refused at use, exactly as without the cache.
 */
for (const qpType of ['RC', 'STREAM'] as const) {
  describe(`${qpType}: a SEND from an MR whose buffer was detached after earlier SENDs`, () => {
    it('completes LOC_PROT_ERR (not SUCCESS, not a flush after an internal error); the SENDs before it arrived', async () => {
      const [client, server, stop] = await socketPair();
      const a = makeSide({ qpType, mrBytes: 4096, context: { observer: undefined } });
      const b = makeSide({ qpType, mrBytes: 4096, context: { observer: undefined } });
      toRtr(a, b.qp.qpNum, { socket: client });
      toRtr(b, a.qp.qpNum, { socket: server });
      toRts(a);
      toRts(b);
      try {
        b.qp.postRecv([0, 1, 2].map((i) => ({ wrId: BigInt(i), sgList: [sge(b, i * 64, 64)] })));
        a.mr.buffer.fill(7, 0, 64);
        for (const wrId of [1n, 2n]) {
          a.qp.postSend({ wrId, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [sge(a, 0, 64)] });
          expect((await pollUntil(a.cq, 1)).map((wc) => wc.status)).toEqual(['SUCCESS']);
        }
        const received = await pollUntil(b.cq, 2);
        expect(received.map((wc) => [wc.status, wc.byteLen])).toEqual([['SUCCESS', 64], ['SUCCESS', 64]]);
        const arrayBuffer = a.mr.buffer.buffer;
        structuredClone(arrayBuffer, { transfer: [arrayBuffer] });
        a.qp.postSend({ wrId: 3n, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [sge(a, 0, 64)] });
        const [failed] = await pollUntil(a.cq, 1);
        expect(failed).toMatchObject({ wrId: 3n, status: 'LOC_PROT_ERR' });
      } finally {
        a.ctx.close();
        b.ctx.close();
        stop();
      }
    });
  });
}
