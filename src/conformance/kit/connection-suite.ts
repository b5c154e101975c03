import type { AdapterClient } from './adapter-client.js';
import type { CaseResult, Capabilities, Coverage } from './cases.js';
import { ACCESS, SEND_FLAGS, runPairCases, wcsText, type PairCase } from './pair-cases.js';
import type { LinkAttrs } from './pair-fixture.js';

export const CONNECTION_GROUP = 'connection';

type R = Record<string, unknown>;
const PSN_RULE = 'IB spec 9.7 (rxe check_psn): PSNs are 24-bit and wrap from 0xffffff to 0; a responder expects rq_psn first and the requester starts at sq_psn, so the pair agree when each sq_psn is the other\'s rq_psn';
const MISMATCH_RULE = 'IB RC (rxe check_psn, check_qp): a request the responder does not expect — a PSN ahead of its rq_psn, or addressed to another QP number — is not placed; the requester never sees it acknowledged and fails it (RETRY_EXC_ERR after its retries, or a NAK), moving to ERR';
const MESSAGES = 8;

const send = (wrId: string, addr: number, lkey: number, length: number): R => ({ wrId, opcode: 'SEND', sendFlags: SEND_FLAGS.SIGNALED, sgList: [{ addr, length, lkey }] });

/** A SEND from A that the responder must not take: it ends in error and places nothing. */
function refusedSend(name: string, did: string, link: LinkAttrs): PairCase {
  return {
    name, needs: ['SEND'], did, rule: MISMATCH_RULE,
    expected: 'SEND 1 completes in error within 5 s (not SUCCESS), or the set-up or the post is refused; receive 100 is not completed successfully and its buffer is untouched',
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      await t.a.iut.request('writeMr', { mr: local.mr, offset: 0, data: Buffer.from('stranger').toString('base64') });
      const [qa, qb] = [await t.fx.createQp(t.a, 0), await t.fx.createQp(t.b, ACCESS.ALL_REMOTE)];
      t.adopt(t.a, qa.qp);
      t.adopt(t.b, qb.qp);
      // A stack may find the disagreement while connecting (the reference compares PSNs and QP
      // numbers in its handshake) and fail the QP there: the connection set-up is then refused.
      await t.outcome(t.fx.join({ qpA: qa.qp, qpB: qb.qp, qpNumA: qa.qpNum, qpNumB: qb.qpNum, capA: qa.cap }, { timeout: 14, retryCnt: 2, ...link }));
      await t.outcome(t.b.iut.request('postRecv', { qp: qb.qp, wrs: [{ wrId: '100', sgList: [{ addr: remote.addr, length: 64, lkey: remote.lkey }] }] }));
      const posted = await t.outcome(t.a.iut.request('postSend', { qp: qa.qp, wrs: [send('1', local.addr, local.lkey, 8)] }));
      const wcs = posted === 'ok' ? await t.wcs(t.a, 1, 5000) : [];
      const problems: string[] = [];
      if (posted === 'ok' && (wcs.length !== 1 || wcs[0]!.status === 'SUCCESS')) problems.push(`requester WCs ${wcsText(wcs)}`);
      if ((await t.wcs(t.b, 1, 100)).some((wc) => wc.status === 'SUCCESS')) problems.push('the responder completed receive 100');
      const data = await t.read(t.b, remote.mr, 0, 8);
      if (data.some((b) => b !== 0)) problems.push(`the receive buffer holds ${data.toString('hex')}`);
      return problems;
    },
  };
}

const CASES: readonly PairCase[] = [
  {
    name: 'PSNs that wrap past 0xffffff: 8 SENDs each way, in order', needs: ['SEND'],
    did: `A's sq_psn 0xfffffc and B's 0xfffffa (each the other's rq_psn); ${MESSAGES} SENDs from A to B and ${MESSAGES} from B to A, each into its own receive`,
    expected: 'every SEND and every receive SUCCESS, in posting order, each receive holding its own message',
    rule: PSN_RULE,
    async run(t) {
      const [ma, mb] = [await t.mr(t.a), await t.mr(t.b)];
      const pair = await t.connect(ACCESS.ALL_REMOTE, { psnAToB: 0xfffffc, psnBToA: 0xfffffa });
      const problems: string[] = [];
      for (const [from, to, qpFrom, qpTo, mFrom, mTo, tag] of [[t.a, t.b, pair.qpA, pair.qpB, ma, mb, 'a'], [t.b, t.a, pair.qpB, pair.qpA, mb, ma, 'b']] as const) {
        const text = Array.from({ length: MESSAGES }, (_, i) => `${tag}${i}`).join('');
        await from.iut.request('writeMr', { mr: mFrom.mr, offset: 0, data: Buffer.from(text).toString('base64') });
        await to.iut.request('postRecv', { qp: qpTo, wrs: Array.from({ length: MESSAGES }, (_, i) => ({ wrId: String(100 + i), sgList: [{ addr: mTo.addr + 1024 + 16 * i, length: 16, lkey: mTo.lkey }] })) });
        await from.iut.request('postSend', { qp: qpFrom, wrs: Array.from({ length: MESSAGES }, (_, i) => send(String(i + 1), mFrom.addr + 2 * i, mFrom.lkey, 2)) });
        const [sent, received] = [await t.wcs(from, MESSAGES), await t.wcs(to, MESSAGES)];
        const want = (base: number) => Array.from({ length: MESSAGES }, (_, i) => `${base + i}:SUCCESS`).join(' ');
        if (wcsText(sent) !== want(1) || wcsText(received) !== want(100)) problems.push(`${tag === 'a' ? 'A→B' : 'B→A'}: requester ${wcsText(sent)}, responder ${wcsText(received)}`);
        for (let i = 0; i < MESSAGES; i++) {
          const got = (await t.read(to, mTo.mr, 1024 + 16 * i, 2)).toString();
          if (got !== `${tag}${i}`) problems.push(`receive ${100 + i} holds ${JSON.stringify(got)} (wanted ${tag}${i})`);
        }
      }
      return problems;
    },
  },
  refusedSend('A\'s sq_psn is not B\'s rq_psn: the SEND is not taken', 'A starts at sq_psn 0x100 while B expects rq_psn 0x1100; SEND 1 into B\'s receive 100', { psnAToB: 0x100, rqPsnForB: 0x1100 }),
  refusedSend('A is given the wrong dest_qp_num: the SEND is not taken', 'A\'s QP connected with dest_qp_num one above B\'s QP number (B is told A\'s rightly); SEND 1 into B\'s receive 100', { wrongDestQpNumForA: true }),
  {
    name: '600 RDMA_WRITEs in one post, only the last signaled: every slot written', needs: ['RDMA_WRITE', 'unsignaled'],
    did: 'one post_send of 600 RDMA_WRITEs of 4 bytes each into consecutive slots of the peer\'s region, only the last signaled',
    expected: 'one WC, 600 SUCCESS; every slot holds its own 4 bytes',
    rule: 'IB RC (ibv_post_send(3)): every WR of a post is executed, in order; an unsignaled success leaves no WC',
    async run(t) {
      const count = 600;
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      const pattern = Buffer.from(Array.from({ length: count }, (_, i) => [i & 0xff, i >> 8, 0xa5, 0x5a]).flat());
      await t.a.iut.request('writeMr', { mr: local.mr, offset: 0, data: pattern.toString('base64') });
      const pair = await t.connect(ACCESS.ALL_REMOTE, {}, { maxSendWr: count, maxRecvWr: 4, maxSendSge: 1, maxRecvSge: 1 });
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: Array.from({ length: count }, (_, i) => ({ wrId: String(i + 1), opcode: 'RDMA_WRITE', sendFlags: i === count - 1 ? SEND_FLAGS.SIGNALED : 0, sgList: [{ addr: local.addr + 4 * i, length: 4, lkey: local.lkey }], rdma: { remoteAddr: remote.addr + 4 * i, rkey: remote.rkey } })) });
      const wcs = await t.wcs(t.a, 1, 5000);
      const problems = wcsText(wcs) === `${count}:SUCCESS` ? [] : [`WCs ${wcsText(wcs)}`];
      const got = await t.read(t.b, remote.mr, 0, 4 * count);
      const wrong = Array.from({ length: count }, (_, i) => i).filter((i) => !got.subarray(4 * i, 4 * i + 4).equals(pattern.subarray(4 * i, 4 * i + 4)));
      if (wrong.length > 0) problems.push(`${wrong.length} slots wrong, the first at WR ${wrong[0]! + 1}`);
      return problems;
    },
  },
  {
    name: 'a 16 MiB RDMA_READ, then an RDMA_WRITE the peer refuses: the READ completes, the WRITE is REM_ACCESS_ERR', needs: ['RDMA_READ', 'RDMA_WRITE'],
    did: 'RDMA_READ 1 of 16 MiB, then RDMA_WRITE 2 with an rkey the peer never issued, in one post',
    expected: 'WC 1 SUCCESS, WC 2 REM_ACCESS_ERR: the responder fails only after the READ response it owes has left, and its NAK reaches the requester',
    rule: 'IB RC (rxe responder, docs/wire.md §7): a responder that fails sends what it owes before the NAK, and the NAK is not lost to the connection closing',
    async run(t) {
      const size = 16 << 20;
      const local = await t.a.iut.request('regMr', { pd: t.a.pd, length: size, access: ACCESS.LOCAL_WRITE }) as R;
      const remote = await t.b.iut.request('regMr', { pd: t.b.pd, length: size, access: ACCESS.LOCAL_WRITE | ACCESS.ALL_REMOTE }) as R;
      const small = await t.mr(t.a);
      const pair = await t.connect();
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [
        { wrId: '1', opcode: 'RDMA_READ', sendFlags: SEND_FLAGS.SIGNALED, sgList: [{ addr: local.addr, length: size, lkey: local.lkey }], rdma: { remoteAddr: remote.addr, rkey: remote.rkey } },
        { wrId: '2', opcode: 'RDMA_WRITE', sendFlags: SEND_FLAGS.SIGNALED, sgList: [{ addr: small.addr, length: 8, lkey: small.lkey }], rdma: { remoteAddr: remote.addr, rkey: ((remote.rkey as number) ^ 0x77) >>> 0 } },
      ] });
      const wcs = await t.wcs(t.a, 2, 10_000);
      await t.a.iut.request('destroyQp', { qp: pair.qpA });
      await t.b.iut.request('destroyQp', { qp: pair.qpB });
      await t.a.iut.request('deregMr', { mr: local.mr });
      await t.b.iut.request('deregMr', { mr: remote.mr });
      return wcsText(wcs) === '1:SUCCESS 2:REM_ACCESS_ERR' ? [] : [`WCs ${wcsText(wcs)}`];
    },
  },
];

/** Connection attributes that must agree between the two ends (PSNs with wrap-around, QP numbers), and traffic that fills the pipe. */
export function runConnectionSuite(iut: AdapterClient, peer: AdapterClient, capabilities: Capabilities, coverage: Coverage, record: (result: CaseResult) => void): Promise<void> {
  return runPairCases(CONNECTION_GROUP, CASES, iut, peer, capabilities, coverage, record);
}
