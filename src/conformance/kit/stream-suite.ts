import type { AdapterClient } from './adapter-client.js';
import type { CaseResult, Capabilities, Coverage } from './cases.js';
import { ACCESS, SEND_FLAGS, runPairCases, wcsText, type PairCase, type PairCaseContext } from './pair-cases.js';
import { DEFAULT_CAP } from './pair-fixture.js';

export const STREAM_GROUP = 'stream';

type R = Record<string, unknown>;
const STREAM_RULE = 'DESIGN.md §3, the STREAM QP type (an extension beyond IB): a SEND writes its bytes raw, no framing; arriving bytes fill the posted receives in order, recv(2)-like (a receive completes after a short read or when full); bytes that arrive before a receive wait for it; no one-sided operations';

const send = (wrId: string, addr: number, lkey: number, length: number): R => ({ wrId, opcode: 'SEND', sendFlags: SEND_FLAGS.SIGNALED, sgList: [{ addr, length, lkey }] });

/** The bytes the receives `wcs` brought, in order, from their buffers (receive i at offset 64 × i). */
async function received(t: PairCaseContext, mr: string, wcs: readonly R[]): Promise<string> {
  let text = '';
  for (const wc of wcs) {
    const slot = Number(wc.wrId) - 100;
    text += (await t.read(t.b, mr, 64 * slot, Number(wc.byteLen))).toString();
  }
  return text;
}

/** Receives on B until `bytes` arrived or 3 s passed (a byte stream: how many WCs is the stack's business). */
async function receiveAll(t: PairCaseContext, bytes: number): Promise<R[]> {
  const wcs: R[] = [];
  const deadline = Date.now() + 3000;
  while (wcs.reduce((n, wc) => n + Number(wc.byteLen), 0) < bytes && Date.now() < deadline) wcs.push(...await t.wcs(t.b, 1, 200));
  return wcs;
}

const CASES: readonly PairCase[] = [
  {
    name: 'STREAM: three SENDs arrive as one byte stream, in order', needs: ['STREAM'],
    did: 'SENDs of "abc", "defgh" and "ij" from A; B has 8 receives of 64 bytes posted',
    expected: 'the three SENDs SUCCESS in order; B\'s receives SUCCESS in order, their bytes (byte_len each) concatenated are "abcdefghij"',
    rule: STREAM_RULE,
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      await t.a.iut.request('writeMr', { mr: local.mr, offset: 0, data: Buffer.from('abcdefghij').toString('base64') });
      const pair = await t.connect(ACCESS.ALL_REMOTE, {}, DEFAULT_CAP, 'STREAM');
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: Array.from({ length: 8 }, (_, i) => ({ wrId: String(100 + i), sgList: [{ addr: remote.addr + 64 * i, length: 64, lkey: remote.lkey }] })) });
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [send('1', local.addr, local.lkey, 3), send('2', local.addr + 3, local.lkey, 5), send('3', local.addr + 8, local.lkey, 2)] });
      const sent = await t.wcs(t.a, 3);
      const wcs = await receiveAll(t, 10);
      const problems = wcsText(sent) === '1:SUCCESS 2:SUCCESS 3:SUCCESS' ? [] : [`requester WCs ${wcsText(sent)}`];
      const order = wcs.map((wc) => Number(wc.wrId));
      if (wcs.some((wc) => wc.status !== 'SUCCESS') || order.some((id, i) => id !== 100 + i)) problems.push(`receive WCs ${wcsText(wcs)}`);
      const text = await received(t, remote.mr, wcs);
      if (text !== 'abcdefghij') problems.push(`the receives hold ${JSON.stringify(text)}`);
      return problems;
    },
  },
  {
    name: 'STREAM: bytes sent before any receive wait for it', needs: ['STREAM'],
    did: 'A SENDs "early bytes" to B, which has no receive posted; 200 ms later B posts one receive of 64 bytes',
    expected: 'the SEND SUCCESS; the receive SUCCESS with the 11 bytes',
    rule: STREAM_RULE,
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      await t.a.iut.request('writeMr', { mr: local.mr, offset: 0, data: Buffer.from('early bytes').toString('base64') });
      const pair = await t.connect(ACCESS.ALL_REMOTE, {}, DEFAULT_CAP, 'STREAM');
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [send('1', local.addr, local.lkey, 11)] });
      const sent = await t.wcs(t.a, 1);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: [{ wrId: '100', sgList: [{ addr: remote.addr, length: 64, lkey: remote.lkey }] }] });
      const wcs = await receiveAll(t, 11);
      const problems = wcsText(sent) === '1:SUCCESS' ? [] : [`requester WCs ${wcsText(sent)}`];
      const text = await received(t, remote.mr, wcs);
      if (wcs.some((wc) => wc.status !== 'SUCCESS') || text !== 'early bytes') problems.push(`receive WCs ${wcsText(wcs)} holding ${JSON.stringify(text)}`);
      return problems;
    },
  },
  {
    name: 'STREAM: a receive fills to its length, the rest goes to the next', needs: ['STREAM'],
    did: 'B posts receives of 4 and 64 bytes; A SENDs 10 bytes "0123456789"',
    expected: 'receive 100 SUCCESS with "0123" (full), receive 101 SUCCESS with "456789"',
    rule: STREAM_RULE,
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      await t.a.iut.request('writeMr', { mr: local.mr, offset: 0, data: Buffer.from('0123456789').toString('base64') });
      const pair = await t.connect(ACCESS.ALL_REMOTE, {}, DEFAULT_CAP, 'STREAM');
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: [{ wrId: '100', sgList: [{ addr: remote.addr, length: 4, lkey: remote.lkey }] }, { wrId: '101', sgList: [{ addr: remote.addr + 64, length: 64, lkey: remote.lkey }] }] });
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [send('1', local.addr, local.lkey, 10)] });
      await t.wcs(t.a, 1);
      const wcs = await receiveAll(t, 10);
      const text = await received(t, remote.mr, wcs);
      const first = wcs[0];
      const problems = first !== undefined && first.wrId === '100' && first.byteLen === 4 && first.status === 'SUCCESS' ? [] : [`the first receive WC ${first === undefined ? 'none' : `${wcsText([first])} of ${String(first.byteLen)} bytes`}`];
      if (text !== '0123456789') problems.push(`the receives hold ${JSON.stringify(text)}`);
      return problems;
    },
  },
  {
    name: 'STREAM: no one-sided operations', needs: ['STREAM', 'RDMA_WRITE'],
    did: 'post_send of an RDMA_WRITE on a STREAM QP',
    expected: 'refused with EINVAL (or EOPNOTSUPP), badWr 0; nothing written',
    rule: STREAM_RULE,
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      const pair = await t.connect(ACCESS.ALL_REMOTE, {}, DEFAULT_CAP, 'STREAM');
      const got = await t.outcome(t.a.iut.request('postSend', { qp: pair.qpA, wrs: [{ wrId: '1', opcode: 'RDMA_WRITE', sendFlags: SEND_FLAGS.SIGNALED, sgList: [{ addr: local.addr, length: 8, lkey: local.lkey }], rdma: { remoteAddr: remote.addr, rkey: remote.rkey } }] }));
      return got === 'EINVAL' || got === 'EOPNOTSUPP' ? [] : [`the RDMA_WRITE answered ${got}`];
    },
  },
  {
    name: 'STREAM: held bytes are delivered once each, in order, across receives', needs: ['STREAM'],
    did: 'A SENDs "0123456789" before B posts anything; then B posts two receives of 5 bytes',
    expected: 'receive 100 holds "01234", receive 101 "56789"',
    rule: STREAM_RULE,
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      await t.a.iut.request('writeMr', { mr: local.mr, offset: 0, data: Buffer.from('0123456789').toString('base64') });
      const pair = await t.connect(ACCESS.ALL_REMOTE, {}, DEFAULT_CAP, 'STREAM');
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [send('1', local.addr, local.lkey, 10)] });
      await t.wcs(t.a, 1);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: [0, 1].map((i) => ({ wrId: String(100 + i), sgList: [{ addr: remote.addr + 64 * i, length: 5, lkey: remote.lkey }] })) });
      const wcs = await receiveAll(t, 10);
      const text = await received(t, remote.mr, wcs);
      return text === '0123456789' && wcs.length === 2 ? [] : [`receive WCs ${wcsText(wcs)} holding ${JSON.stringify(text)}`];
    },
  },
  {
    name: 'STREAM: a receive of several SGEs fills them in turn', needs: ['STREAM', 'sge:2'],
    did: 'B posts receive 100 with SGEs of 1 and 4095 bytes; A SENDs 4096 bytes',
    expected: 'receive 100 takes more than its first SGE (byte_len ≥ 2, the second SGE written); all 4096 bytes arrive in order',
    rule: STREAM_RULE,
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      const pattern = Buffer.from(Array.from({ length: 4096 }, (_, i) => 0x30 + (i % 64)));
      await t.a.iut.request('writeMr', { mr: local.mr, offset: 0, data: pattern.toString('base64') });
      const pair = await t.connect(ACCESS.ALL_REMOTE, {}, { ...DEFAULT_CAP, maxRecvSge: 2 }, 'STREAM');
      const second = await t.mr(t.b);
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: [{ wrId: '100', sgList: [{ addr: remote.addr, length: 1, lkey: remote.lkey }, { addr: second.addr, length: 4095, lkey: second.lkey }] }, ...Array.from({ length: 4 }, (_, i) => ({ wrId: String(101 + i), sgList: [{ addr: remote.addr + 64 * (i + 1), length: 4096 - 64 * (i + 1), lkey: remote.lkey }] }))] });
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [send('1', local.addr, local.lkey, 4096)] });
      await t.wcs(t.a, 1);
      const wcs = await receiveAll(t, 4096);
      const first = wcs[0];
      const problems = first !== undefined && first.wrId === '100' && Number(first.byteLen) >= 2 ? [] : [`receive 100 completed ${first === undefined ? 'not at all' : `with byte_len ${String(first.byteLen)}`}`];
      if (first !== undefined && Number(first.byteLen) >= 2) {
        const got = Buffer.concat([await t.read(t.b, remote.mr, 0, 1), await t.read(t.b, second.mr, 0, Number(first.byteLen) - 1)]);
        if (!got.equals(pattern.subarray(0, Number(first.byteLen)))) problems.push('receive 100 holds the wrong bytes');
      }
      return problems;
    },
  },
  {
    name: 'STREAM: the peer going away flushes the outstanding receives', needs: ['STREAM'],
    did: 'B posts receive 100 on its STREAM QP; A destroys its QP (its end of the connection closes)',
    expected: 'B\'s QP in ERR, receive 100 WR_FLUSH_ERR',
    rule: STREAM_RULE,
    async run(t) {
      const remote = await t.mr(t.b);
      const pair = await t.connect(ACCESS.ALL_REMOTE, {}, DEFAULT_CAP, 'STREAM');
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: [{ wrId: '100', sgList: [{ addr: remote.addr, length: 64, lkey: remote.lkey }] }] });
      await t.a.iut.request('destroyQp', { qp: pair.qpA });
      const wcs = await t.wcs(t.b, 1, 3000);
      const problems = wcsText(wcs) === '100:WR_FLUSH_ERR' ? [] : [`receive WCs ${wcsText(wcs)}`];
      const state = await t.state(t.b, pair.qpB);
      if (state !== 'ERR') problems.push(`B's QP in ${state}`);
      return problems;
    },
  },
];

/** The STREAM QP type (DESIGN.md §3): raw bytes between two STREAM QPs, in order, held until received. */
export function runStreamSuite(iut: AdapterClient, peer: AdapterClient, capabilities: Capabilities, coverage: Coverage, record: (result: CaseResult) => void): Promise<void> {
  return runPairCases(STREAM_GROUP, CASES, iut, peer, capabilities, coverage, record);
}
