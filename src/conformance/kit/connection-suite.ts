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
      const data = Buffer.from((await t.b.iut.request('readMr', { mr: remote.mr, offset: 0, length: 8 }) as R).data as string, 'base64');
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
          const got = Buffer.from((await to.iut.request('readMr', { mr: mTo.mr, offset: 1024 + 16 * i, length: 2 }) as R).data as string, 'base64').toString();
          if (got !== `${tag}${i}`) problems.push(`receive ${100 + i} holds ${JSON.stringify(got)} (wanted ${tag}${i})`);
        }
      }
      return problems;
    },
  },
  refusedSend('A\'s sq_psn is not B\'s rq_psn: the SEND is not taken', 'A starts at sq_psn 0x100 while B expects rq_psn 0x1100; SEND 1 into B\'s receive 100', { psnAToB: 0x100, rqPsnForB: 0x1100 }),
  refusedSend('A is given the wrong dest_qp_num: the SEND is not taken', 'A\'s QP connected with dest_qp_num one above B\'s QP number (B is told A\'s rightly); SEND 1 into B\'s receive 100', { wrongDestQpNumForA: true }),
];

/** Connection attributes that must agree between the two ends: PSNs (with wrap-around), QP numbers. */
export function runConnectionSuite(iut: AdapterClient, peer: AdapterClient, capabilities: Capabilities, coverage: Coverage, record: (result: CaseResult) => void): Promise<void> {
  return runPairCases(CONNECTION_GROUP, CASES, iut, peer, capabilities, coverage, record);
}
