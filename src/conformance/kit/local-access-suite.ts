import type { AdapterClient } from './adapter-client.js';
import type { CaseResult, Capabilities, Coverage } from './cases.js';
import { ACCESS, MR_BYTES, SEND_FLAGS, runPairCases, wcsText, type PairCase, type PairCaseContext } from './pair-cases.js';

export const LOCAL_ACCESS_GROUP = 'local-access';

type R = Record<string, unknown>;
const LKEY_RULE = 'IB RC (rxe copy_data, lookup_mr): an SGE must name a live MR of the QP\'s own PD, and the NIC writes (a receive, a READ response, an atomic\'s original) only into memory registered with LOCAL_WRITE; otherwise the WR completes LOC_PROT_ERR';
const CAPACITY_RULE = 'ibv_post_send(3)/ibv_post_recv(3) (rxe post_one_send, queue_full): a WR beyond the queue\'s max_send_wr/max_recv_wr is refused with ENOMEM, one with more than max_send_sge SGEs or more inline data than max_inline_data with EINVAL; bad_wr names the first refused WR and the ones before it stay posted';
const RD_ATOMIC_RULE = 'IB RC (rxe check_resource): a responder whose max_dest_rd_atomic is 0 accepts no READ or atomic: the requester completes REM_INV_REQ_ERR';

const sendWr = (wrId: string, addr: number, lkey: number, length = 8, flags: number = SEND_FLAGS.SIGNALED): R => ({ wrId, opcode: 'SEND', sendFlags: flags, sgList: [{ addr, length, lkey }] });

/** Posts `wrs` in one call; returns 'ok' or `errno badWr N`. */
async function post(t: PairCaseContext, op: 'postSend' | 'postRecv', qp: string, wrs: R[]): Promise<string> {
  try {
    await t.a.iut.request(op, { qp, wrs });
    return 'ok';
  } catch (error) {
    const refused = error as { errno?: string; badWr?: number };
    if (refused.errno === undefined) throw error;
    return `${refused.errno} badWr ${refused.badWr ?? 'none'}`;
  }
}

/** The NIC writes into A's region registered without LOCAL_WRITE: a READ response or an atomic's original. */
function noLocalWrite(op: 'RDMA_READ' | 'ATOMIC_FETCH_AND_ADD'): PairCase {
  return {
    name: `${op} into a local MR without LOCAL_WRITE: LOC_PROT_ERR`, needs: op === 'RDMA_READ' ? ['RDMA_READ'] : ['ATOMIC_FETCH_AND_ADD', 'atomics'],
    did: `${op} of 8 bytes whose local SGE is in an MR registered with access 0`, expected: 'WC 1 LOC_PROT_ERR, nothing written locally', rule: LKEY_RULE,
    async run(t) {
      const [local, remote] = [await t.mr(t.a, 0), await t.mr(t.b)];
      await t.b.iut.request('writeMr', { mr: remote.mr, offset: 0, data: Buffer.from('peerdata').toString('base64') });
      const pair = await t.connect();
      const target = { remoteAddr: remote.addr, rkey: remote.rkey };
      const wr: R = op === 'RDMA_READ'
        ? { wrId: '1', opcode: op, sendFlags: SEND_FLAGS.SIGNALED, sgList: [{ addr: local.addr, length: 8, lkey: local.lkey }], rdma: target }
        : { wrId: '1', opcode: op, sendFlags: SEND_FLAGS.SIGNALED, sgList: [{ addr: local.addr, length: 8, lkey: local.lkey }], atomic: { ...target, compareAdd: '1', swap: '0' } };
      const posted = await post(t, 'postSend', pair.qpA, [wr]);
      // Refusing the WR at post (EINVAL) is the other way a stack may keep the rule.
      if (posted !== 'ok') return posted.startsWith('EINVAL') ? [] : [`post refused with ${posted}`];
      const wcs = await t.wcs(t.a, 1);
      const problems = wcsText(wcs) === '1:LOC_PROT_ERR' ? [] : [`WCs ${wcsText(wcs)}`];
      const data = await t.read(t.a, local.mr, 0, 8);
      if (data.some((b) => b !== 0)) problems.push(`the region now holds ${data.toString('hex')}`);
      return problems;
    },
  };
}

const CASES: readonly PairCase[] = [
  {
    name: 'an SGE whose lkey is of another PD: LOC_PROT_ERR', needs: ['SEND'],
    did: 'SEND 1 whose SGE uses the lkey of an MR registered in another PD of the same context', expected: 'WC 1 LOC_PROT_ERR, nothing received by the peer', rule: LKEY_RULE,
    async run(t) {
      const { pd } = await t.a.iut.request('allocPd', { context: t.a.context }) as R;
      const other = await t.a.iut.request('regMr', { pd, length: MR_BYTES, access: ACCESS.LOCAL_WRITE }) as R;
      const remote = await t.mr(t.b);
      const pair = await t.connect();
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: [{ wrId: '100', sgList: [{ addr: remote.addr, length: 64, lkey: remote.lkey }] }] });
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [sendWr('1', other.addr as number, other.lkey as number)] });
      const wcs = await t.wcs(t.a, 1);
      const problems = wcsText(wcs) === '1:LOC_PROT_ERR' ? [] : [`WCs ${wcsText(wcs)}`];
      if ((await t.wcs(t.b, 1, 200)).some((wc) => wc.status === 'SUCCESS')) problems.push('the peer received the SEND');
      await t.a.iut.request('destroyQp', { qp: pair.qpA });
      await t.a.iut.request('deregMr', { mr: other.mr });
      await t.a.iut.request('deallocPd', { pd });
      return problems;
    },
  },
  {
    name: 'a receive into an MR without LOCAL_WRITE: the SEND is not placed', needs: ['SEND'],
    did: 'the peer posts receive 100 into an MR registered with access 0; SEND 1 of 8 bytes',
    expected: 'receive 100 completes in error (LOC_PROT_ERR), SEND 1 does not succeed, the receive buffer unchanged', rule: LKEY_RULE,
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b, 0)];
      await t.a.iut.request('writeMr', { mr: local.mr, offset: 0, data: Buffer.from('11111111').toString('base64') });
      const pair = await t.connect();
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: [{ wrId: '100', sgList: [{ addr: remote.addr, length: 64, lkey: remote.lkey }] }] });
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [sendWr('1', local.addr, local.lkey)] });
      const [sent, received] = [await t.wcs(t.a, 1), await t.wcs(t.b, 1)];
      const problems: string[] = [];
      if (wcsText(received) !== '100:LOC_PROT_ERR') problems.push(`responder WCs ${wcsText(received)}`);
      if (sent.length !== 1 || sent[0]!.status === 'SUCCESS') problems.push(`requester WCs ${wcsText(sent)}`);
      const data = await t.read(t.b, remote.mr, 0, 8);
      if (data.some((b) => b !== 0)) problems.push(`the receive buffer now holds ${data.toString('hex')}`);
      return problems;
    },
  },
  noLocalWrite('RDMA_READ'),
  noLocalWrite('ATOMIC_FETCH_AND_ADD'),
  {
    name: 'max_dest_rd_atomic 0: an RDMA_READ to it is REM_INV_REQ_ERR', needs: ['RDMA_READ'],
    did: 'RDMA_READ 1 to a peer QP whose max_dest_rd_atomic is 0', expected: 'WC 1 REM_INV_REQ_ERR', rule: RD_ATOMIC_RULE,
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      const pair = await t.connect(ACCESS.ALL_REMOTE, { maxDestRdAtomic: 0 });
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [{ wrId: '1', opcode: 'RDMA_READ', sendFlags: SEND_FLAGS.SIGNALED, sgList: [{ addr: local.addr, length: 8, lkey: local.lkey }], rdma: { remoteAddr: remote.addr, rkey: remote.rkey } }] });
      const wcs = await t.wcs(t.a, 1);
      return wcsText(wcs) === '1:REM_INV_REQ_ERR' ? [] : [`WCs ${wcsText(wcs)}`];
    },
  },
  {
    name: 'post_send beyond max_send_wr: ENOMEM at the first WR that does not fit', needs: ['SEND'],
    did: 'one post_send of max_send_wr + 1 SENDs on a QP whose peer never answers', expected: 'ENOMEM with badWr = max_send_wr', rule: CAPACITY_RULE,
    async run(t) {
      const local = await t.mr(t.a);
      const { qp, cap } = await t.silent({ timeout: 20 });
      const n = Number(cap.maxSendWr);
      const got = await post(t, 'postSend', qp, Array.from({ length: n + 1 }, (_, i) => sendWr(String(i + 1), local.addr, local.lkey)));
      return got === `ENOMEM badWr ${n}` ? [] : [`post_send of ${n + 1} answered ${got}`];
    },
  },
  {
    name: 'post_recv beyond max_recv_wr: ENOMEM at the first WR that does not fit', needs: [],
    did: 'one post_recv of max_recv_wr + 1 receives', expected: 'ENOMEM with badWr = max_recv_wr', rule: CAPACITY_RULE,
    async run(t) {
      const local = await t.mr(t.a);
      const { qp, cap } = await t.silent({ timeout: 20 });
      const n = Number(cap.maxRecvWr);
      const got = await post(t, 'postRecv', qp, Array.from({ length: n + 1 }, (_, i) => ({ wrId: String(i + 1), sgList: [{ addr: local.addr, length: 8, lkey: local.lkey }] })));
      return got === `ENOMEM badWr ${n}` ? [] : [`post_recv of ${n + 1} answered ${got}`];
    },
  },
  {
    name: 'a WR with more SGEs than max_send_sge: EINVAL', needs: ['SEND'],
    did: 'post_send of SEND 1 (one SGE) and SEND 2 with max_send_sge + 1 SGEs', expected: 'EINVAL with badWr 1', rule: CAPACITY_RULE,
    async run(t) {
      const local = await t.mr(t.a);
      const { qp, cap } = await t.silent({ timeout: 20 });
      const n = Number(cap.maxSendSge);
      const wide = { wrId: '2', opcode: 'SEND', sendFlags: SEND_FLAGS.SIGNALED, sgList: Array.from({ length: n + 1 }, (_, i) => ({ addr: local.addr + 8 * i, length: 8, lkey: local.lkey })) };
      const got = await post(t, 'postSend', qp, [sendWr('1', local.addr, local.lkey), wide]);
      return got === 'EINVAL badWr 1' ? [] : [`post_send answered ${got}`];
    },
  },
  {
    name: 'INLINE of exactly max_inline_data is sent; one byte more is EINVAL', needs: ['SEND', 'inline'],
    did: 'INLINE SEND 1 of max_inline_data bytes into receive 100, then INLINE SEND 2 of max_inline_data + 1', expected: 'SEND 1 SUCCESS with the bytes placed; SEND 2 refused with EINVAL, badWr 0', rule: CAPACITY_RULE,
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      const pair = await t.connect(ACCESS.ALL_REMOTE, {}, { maxSendWr: 8, maxRecvWr: 8, maxSendSge: 1, maxRecvSge: 1, maxInlineData: 64 });
      const n = Number(pair.capA.maxInlineData);
      if (!(n >= 1 && n < MR_BYTES)) return [`createQp gave maxInlineData ${n} for 64 asked`];
      const pattern = Buffer.alloc(n, 0x5c);
      await t.a.iut.request('writeMr', { mr: local.mr, offset: 0, data: pattern.toString('base64') });
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: [{ wrId: '100', sgList: [{ addr: remote.addr, length: MR_BYTES, lkey: remote.lkey }] }] });
      const problems: string[] = [];
      const first = await post(t, 'postSend', pair.qpA, [sendWr('1', local.addr, local.lkey, n, SEND_FLAGS.SIGNALED | SEND_FLAGS.INLINE)]);
      if (first !== 'ok') problems.push(`INLINE of ${n} bytes refused: ${first}`);
      const [sent, received] = first === 'ok' ? [await t.wcs(t.a, 1), await t.wcs(t.b, 1)] : [[], []];
      if (first === 'ok' && (wcsText(sent) !== '1:SUCCESS' || wcsText(received) !== '100:SUCCESS' || received[0]!.byteLen !== n)) problems.push(`requester ${wcsText(sent)}, responder ${wcsText(received)}`);
      const second = await post(t, 'postSend', pair.qpA, [sendWr('2', local.addr, local.lkey, n + 1, SEND_FLAGS.SIGNALED | SEND_FLAGS.INLINE)]);
      if (second !== 'EINVAL badWr 0') problems.push(`INLINE of ${n + 1} bytes answered ${second}`);
      return problems;
    },
  },
  {
    name: 'dereg of an MR an outstanding SEND uses: EBUSY, the MR stays usable', needs: ['SEND', 'dereg-busy'],
    did: 'SEND 1 from MR X to a peer that never answers (timeout 20), then deregMr X, readMr X; destroyQp, deregMr X',
    expected: 'the first deregMr refused with EBUSY and X still readable; after the QP is gone, deregMr succeeds',
    rule: 'docs/semantics.md (the buffer machine: memory lent to the hardware is not freed under it), claimed as dereg-busy; IB leaves it undefined',
    async run(t) {
      const x = await t.a.iut.request('regMr', { pd: t.a.pd, length: MR_BYTES, access: ACCESS.LOCAL_WRITE }) as R;
      const { qp } = await t.silent({ timeout: 20 });
      await t.a.iut.request('postSend', { qp, wrs: [sendWr('1', x.addr as number, x.lkey as number)] });
      const problems: string[] = [];
      const first = await t.outcome(t.a.iut.request('deregMr', { mr: x.mr }));
      if (first !== 'EBUSY') problems.push(`the first deregMr answered ${first}`);
      if (first !== 'ok' && await t.outcome(t.a.iut.request('readMr', { mr: x.mr, offset: 0, length: 8 })) !== 'ok') problems.push('the MR is no longer readable');
      await t.a.iut.request('destroyQp', { qp });
      if (first !== 'ok') {
        const second = await t.outcome(t.a.iut.request('deregMr', { mr: x.mr }));
        if (second !== 'ok') problems.push(`after destroyQp, deregMr answered ${second}`);
      }
      return problems;
    },
  },
  {
    name: 'post_recv takes max_recv_sge SGEs (not max_send_sge); one more is EINVAL', needs: [],
    did: 'a QP created with max_send_sge 1 and max_recv_sge 3: post_recv of receive 1 with max_recv_sge SGEs, then receive 2 with one more',
    expected: 'receive 1 accepted; receive 2 refused with EINVAL, badWr 0', rule: CAPACITY_RULE,
    async run(t) {
      const local = await t.mr(t.a);
      const { qp, cap } = await t.silent({ timeout: 20 }, { maxSendWr: 4, maxRecvWr: 4, maxSendSge: 1, maxRecvSge: 3 });
      const n = Number(cap.maxRecvSge);
      const sges = (count: number) => Array.from({ length: count }, (_, i) => ({ addr: local.addr + 16 * i, length: 16, lkey: local.lkey }));
      const problems: string[] = [];
      const first = await post(t, 'postRecv', qp, [{ wrId: '1', sgList: sges(n) }]);
      if (first !== 'ok') problems.push(`a receive of ${n} SGEs answered ${first}`);
      const second = await post(t, 'postRecv', qp, [{ wrId: '2', sgList: sges(n + 1) }]);
      if (second !== 'EINVAL badWr 0') problems.push(`a receive of ${n + 1} SGEs answered ${second}`);
      return problems;
    },
  },
  {
    name: 'WRs the opcode does not allow are refused: INLINE on an RDMA_READ, an atomic of 16 bytes', needs: ['RDMA_READ', 'ATOMIC_FETCH_AND_ADD', 'atomics', 'inline'],
    did: 'post_send of an RDMA_READ with IBV_SEND_INLINE; then of an ATOMIC_FETCH_AND_ADD whose SGE is 16 bytes',
    expected: 'each refused with EINVAL and badWr 0, or (for the atomic) completed in error — never SUCCESS',
    rule: 'ibv_post_send(3): IBV_SEND_INLINE is valid only for SEND and RDMA_WRITE; an atomic operates on exactly 8 bytes',
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      // Room for inline data, so that a refusal can only be for the opcode.
      const pair = await t.connect(ACCESS.ALL_REMOTE, {}, { maxSendWr: 8, maxRecvWr: 8, maxSendSge: 1, maxRecvSge: 1, maxInlineData: 64 });
      const problems: string[] = [];
      const read = await post(t, 'postSend', pair.qpA, [{ wrId: '1', opcode: 'RDMA_READ', sendFlags: SEND_FLAGS.SIGNALED | SEND_FLAGS.INLINE, sgList: [{ addr: local.addr, length: 8, lkey: local.lkey }], rdma: { remoteAddr: remote.addr, rkey: remote.rkey } }]);
      if (read !== 'EINVAL badWr 0') problems.push(`the INLINE RDMA_READ answered ${read}`);
      const atomic = await post(t, 'postSend', pair.qpA, [{ wrId: '2', opcode: 'ATOMIC_FETCH_AND_ADD', sendFlags: SEND_FLAGS.SIGNALED, sgList: [{ addr: local.addr, length: 16, lkey: local.lkey }], atomic: { remoteAddr: remote.addr, rkey: remote.rkey, compareAdd: '1', swap: '0' } }]);
      if (atomic === 'ok') {
        const wcs = await t.wcs(t.a, read === 'ok' ? 2 : 1);
        if (wcs.some((wc) => wc.wrId === '2' && wc.status === 'SUCCESS')) problems.push('the 16-byte atomic completed SUCCESS');
      } else if (!atomic.startsWith('EINVAL')) problems.push(`the 16-byte atomic answered ${atomic}`);
      return problems;
    },
  },
];

/** Local protection and queue limits: lkeys of another PD, LOCAL_WRITE for every NIC write, WR, SGE and inline limits, max_dest_rd_atomic 0. */
export function runLocalAccessSuite(iut: AdapterClient, peer: AdapterClient, capabilities: Capabilities, coverage: Coverage, record: (result: CaseResult) => void): Promise<void> {
  return runPairCases(LOCAL_ACCESS_GROUP, CASES, iut, peer, capabilities, coverage, record);
}
