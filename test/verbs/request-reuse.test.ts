import { describe, expect, it } from 'vitest';
import { SendFlags } from '../../src/index.js';
import type { SendWr } from '../../src/index.js';
import { blankSendRequest, checkSendWr } from '../../src/verbs/work-requests.js';
import { pollUntil, rcPair, sge } from '../support/verbs-harness.js';

const CAP = { maxSendWr: 16, maxRecvWr: 16, maxSendSge: 4, maxRecvSge: 4, maxInlineData: 64 };
const SGE = { addr: 4096, length: 8, lkey: 7 };
const REMOTE = { remoteAddr: 8192, rkey: 9 };

/** One WR of every opcode, with every optional field each may carry. */
const WRS: SendWr[] = [
  { wrId: 1n, opcode: 'SEND', sendFlags: 0, sgList: [SGE] },
  { wrId: 2n, opcode: 'SEND_WITH_IMM', sendFlags: SendFlags.SIGNALED | SendFlags.SOLICITED, sgList: [SGE, { ...SGE, addr: 9000 }], immData: 77 },
  { wrId: 3n, opcode: 'RDMA_WRITE', sendFlags: SendFlags.INLINE | SendFlags.FENCE, sgList: [SGE], rdma: REMOTE },
  { wrId: 4n, opcode: 'RDMA_WRITE_WITH_IMM', sendFlags: SendFlags.SIGNALED, sgList: [], rdma: REMOTE, immData: 5 },
  { wrId: 5n, opcode: 'RDMA_READ', sendFlags: SendFlags.FENCE, sgList: [SGE], rdma: REMOTE },
  { wrId: 6n, opcode: 'ATOMIC_CMP_AND_SWP', sendFlags: SendFlags.SIGNALED, sgList: [SGE], atomic: { ...REMOTE, compareAdd: 3n, swap: 4n } },
  { wrId: 7n, opcode: 'ATOMIC_FETCH_AND_ADD', sendFlags: 0, sgList: [SGE], atomic: { ...REMOTE, compareAdd: 1n, swap: 0n } },
];

describe('wrId: a bigint in 0..2^64-1, the bounds included', () => {
  it.each([0n, 1n, (1n << 63n) + 5n, (1n << 64n) - 1n])('%s is posted as it is', (wrId) => {
    expect(checkSendWr({ ...WRS[0]!, wrId }, 0, 'RC', CAP, blankSendRequest()).wrId).toBe(wrId);
  });
  it.each([-1n, 1n << 64n, -(1n << 64n) + 1n, 5, '5'])('%s is refused', (wrId) => {
    expect(() => checkSendWr({ ...WRS[0]!, wrId } as unknown as SendWr, 0, 'RC', CAP, blankSendRequest())).toThrow(/wr\[0\]\.wrId must be a bigint in 0\.\.2\^64-1/);
  });
});

describe('an SGE list is read once: what is checked is what is posted', () => {
  /** A list whose length says `first` to its first reader and `later` to every other. */
  const shifty = (first: number, later: number) => {
    let reads = 0;
    const list = new Proxy([SGE, SGE, SGE], { get: (target, key, receiver) => (key === 'length' ? (++reads === 1 ? first : later) : Reflect.get(target, key, receiver)) });
    return { list, reads: () => reads };
  };
  it('a length that grows after the check cannot pass more SGEs than the QP allows', () => {
    const { list, reads } = shifty(1, 3);
    const request = checkSendWr({ ...WRS[0]!, sgList: list }, 0, 'RC', { ...CAP, maxSendSge: 1 }, blankSendRequest());
    expect([request.sgList.length, request.totalLength, reads()]).toEqual([1, SGE.length, 1]);
  });
  it('a refusal names the length the check read', () => {
    const { list } = shifty(3, 1);
    expect(() => checkSendWr({ ...WRS[0]!, sgList: list }, 0, 'RC', { ...CAP, maxSendSge: 1 }, blankSendRequest())).toThrow(/wr\[0\]\.sgList has 3 entries; the QP allows 1/);
  });
});

describe('send requests: each post refills the objects of the one before', () => {
  it('a request refilled after any other WR equals one checked into a new object, for every pair of opcodes', () => {
    for (const before of WRS) {
      for (const wr of WRS) {
        const reused = checkSendWr(before, 0, 'RC', CAP, blankSendRequest());
        checkSendWr(wr, 0, 'RC', CAP, reused as ReturnType<typeof blankSendRequest>);
        expect(reused, `${wr.opcode} after ${before.opcode}`).toEqual(checkSendWr(wr, 0, 'RC', CAP, blankSendRequest()));
      }
    }
  });

  it('a post made from inside another (a WR field read by a getter) leaves the outer post\'s WRs as they were', async () => {
    const pair = await rcPair();
    try {
      for (let i = 0; i < 4; i++) pair.b.qp.postRecv({ wrId: BigInt(100 + i), sgList: [sge(pair.b, i * 64, 64)] });
      const send = (wrId: bigint): SendWr => ({ wrId, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [sge(pair.a, 0, 16)] });
      const nested: SendWr = { ...send(2n), get opcode() { pair.a.qp.postSend(send(99n)); return 'SEND' as const; } };
      pair.a.qp.postSend([send(1n), nested]);
      // WR 99 was posted while WR 2 was being checked, so before WRs 1 and 2 reached the provider.
      expect((await pollUntil(pair.a.cq, 3)).map((wc) => [wc.wrId, wc.status])).toEqual([[99n, 'SUCCESS'], [1n, 'SUCCESS'], [2n, 'SUCCESS']]);
      pair.a.monitor.assertAgreement();
    } finally {
      pair.close();
    }
  });
});
