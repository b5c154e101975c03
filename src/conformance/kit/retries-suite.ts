import type { AdapterClient } from './adapter-client.js';
import type { CaseResult, Capabilities, Coverage } from './cases.js';
import { ACCESS, SEND_FLAGS, runPairCases, wcsText, type PairCase } from './pair-cases.js';

export const RETRIES_GROUP = 'retries';

type R = Record<string, unknown>;
const RNR_RULE = 'IB RC (ibv_modify_qp(3) rnr_retry; rxe rnr_nak_timer): a SEND that finds no receive is RNR NAKed and retried after min_rnr_timer, rnr_retry times (7: forever); when they run out the WR completes RNR_RETRY_EXC_ERR, the QP goes to ERR and the WRs after it flush';
const RETRY_RULE = 'IB RC (ibv_modify_qp(3) timeout, retry_cnt; rxe retransmit_timer): a request left unanswered for the local ACK timeout is resent, retry_cnt times; then the WR completes RETRY_EXC_ERR, the QP goes to ERR and the WRs after it flush';
const LOSS_RULE = 'IB RC over a reliable connection (siw, iWARP RFC 5040 §6): when the connection is lost the QP goes to ERR, raises an async event and every outstanding WR completes WR_FLUSH_ERR, in posting order';

const send = (wrId: string, addr: number, lkey: number, flags = SEND_FLAGS.SIGNALED): R => ({ wrId, opcode: 'SEND', sendFlags: flags, sgList: [{ addr, length: 8, lkey }] });

/** A SEND to a peer without receives, rnr_retry `rnrRetry`: the first WR fails RNR_RETRY_EXC_ERR and the second flushes. */
const rnrExhausted = (rnrRetry: number): PairCase => ({
  name: `RNR, rnrRetry ${rnrRetry}: RNR_RETRY_EXC_ERR, then flush`, needs: ['SEND'],
  did: `SENDs 1 and 2 with rnrRetry ${rnrRetry} to a peer that posted no receive`,
  expected: 'WC 1 RNR_RETRY_EXC_ERR, WC 2 WR_FLUSH_ERR, requester QP in ERR, no completion at the peer',
  rule: RNR_RULE,
  async run(t) {
    const local = await t.mr(t.a);
    const pair = await t.connect(ACCESS.ALL_REMOTE, { rnrRetry, minRnrTimer: 1 });
    await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [send('1', local.addr, local.lkey), send('2', local.addr, local.lkey)] });
    const wcs = await t.wcs(t.a, 2, 5000);
    const problems: string[] = [];
    if (wcsText(wcs) !== '1:RNR_RETRY_EXC_ERR 2:WR_FLUSH_ERR') problems.push(`requester WCs ${wcsText(wcs)}`);
    const state = await t.state(t.a, pair.qpA);
    if (state !== 'ERR') problems.push(`requester QP in ${state}`);
    const peer = await t.wcs(t.b, 1, 50);
    if (peer.length > 0) problems.push(`the peer completed ${wcsText(peer)}`);
    return problems;
  },
});

const CASES: readonly PairCase[] = [
  rnrExhausted(0),
  rnrExhausted(2),
  {
    name: 'RNR, rnrRetry 7: the SEND waits for a receive posted late, then succeeds', needs: ['SEND'],
    did: 'SEND 1 with rnrRetry 7 to a peer without receives; 300 ms later the peer posts receive 100',
    expected: 'no send completion before the receive is posted; then SEND 1 SUCCESS and RECV 100 SUCCESS with the 8 bytes',
    rule: RNR_RULE,
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      await t.a.iut.request('writeMr', { mr: local.mr, offset: 0, data: Buffer.from('patience').toString('base64') });
      const pair = await t.connect(ACCESS.ALL_REMOTE, { rnrRetry: 7, minRnrTimer: 1 });
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [send('1', local.addr, local.lkey)] });
      const early = await t.wcs(t.a, 1, 300);
      const problems = early.length > 0 ? [`the SEND completed ${wcsText(early)} before the peer had a receive`] : [];
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: [{ wrId: '100', sgList: [{ addr: remote.addr, length: 64, lkey: remote.lkey }] }] });
      const [sent, received] = [early.length > 0 ? early : await t.wcs(t.a, 1), await t.wcs(t.b, 1)];
      if (wcsText(sent) !== '1:SUCCESS') problems.push(`requester WCs ${wcsText(sent)}`);
      if (wcsText(received) !== '100:SUCCESS' || received[0]!.byteLen !== 8) problems.push(`responder WCs ${wcsText(received)}${received[0] === undefined ? '' : ` of ${received[0].byteLen} bytes`}`);
      const data = Buffer.from((await t.b.iut.request('readMr', { mr: remote.mr, offset: 0, length: 8 }) as R).data as string, 'base64').toString();
      if (data !== 'patience') problems.push(`the receive buffer holds ${JSON.stringify(data)}`);
      return problems;
    },
  },
  {
    name: 'silent peer: RETRY_EXC_ERR after retryCnt retries, then flush', needs: ['SEND'],
    did: 'SENDs 1 and 2 (timeout 10, retryCnt 2) on a connection whose far end has no QP and never answers',
    expected: 'WC 1 RETRY_EXC_ERR, WC 2 WR_FLUSH_ERR, QP in ERR, a QP_FATAL async event',
    rule: RETRY_RULE,
    async run(t) {
      const local = await t.mr(t.a);
      const { qp, qpNum } = await t.silent({ timeout: 10, retryCnt: 2 });
      await t.a.iut.request('postSend', { qp, wrs: [send('1', local.addr, local.lkey), send('2', local.addr, local.lkey)] });
      const wcs = await t.wcs(t.a, 2, 5000);
      const problems: string[] = [];
      if (wcsText(wcs) !== '1:RETRY_EXC_ERR 2:WR_FLUSH_ERR') problems.push(`WCs ${wcsText(wcs)}`);
      const state = await t.state(t.a, qp);
      if (state !== 'ERR') problems.push(`QP in ${state}`);
      if ((await t.events(t.a, (e) => e.type === 'asyncEvent' && e.qpNum === qpNum && e.event === 'QP_FATAL', 1000)).length === 0) problems.push('no QP_FATAL event');
      return problems;
    },
  },
  {
    name: 'connection loss: the outstanding receives flush in order', needs: ['SEND'],
    did: 'receives 100, 101, 102 posted on A; the peer destroys its QP (its end of the connection closes)',
    expected: 'A\'s QP in ERR with a QP_FATAL event; WCs 100, 101, 102 WR_FLUSH_ERR in that order; a SEND posted afterwards flushes',
    rule: LOSS_RULE,
    async run(t) {
      const local = await t.mr(t.a);
      const pair = await t.connect();
      await t.a.iut.request('postRecv', { qp: pair.qpA, wrs: [100, 101, 102].map((id) => ({ wrId: String(id), sgList: [{ addr: local.addr + id, length: 16, lkey: local.lkey }] })) });
      await t.b.iut.request('destroyQp', { qp: pair.qpB });
      const wcs = await t.wcs(t.a, 3, 5000);
      const problems: string[] = [];
      if (wcsText(wcs) !== '100:WR_FLUSH_ERR 101:WR_FLUSH_ERR 102:WR_FLUSH_ERR') problems.push(`WCs ${wcsText(wcs)}`);
      const state = await t.state(t.a, pair.qpA);
      if (state !== 'ERR') problems.push(`QP in ${state}`);
      if ((await t.events(t.a, (e) => e.type === 'asyncEvent' && e.qpNum === pair.qpNumA && e.event === 'QP_FATAL', 1000)).length === 0) problems.push('no QP_FATAL event');
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [send('3', local.addr, local.lkey)] });
      const after = await t.wcs(t.a, 1);
      if (wcsText(after) !== '3:WR_FLUSH_ERR') problems.push(`the SEND posted afterwards completed ${wcsText(after)}`);
      return problems;
    },
  },
];

/** Retries and lost peers: RNR with rnr_retry 0, 2 and 7, a silent peer, a lost connection. */
export function runRetriesSuite(iut: AdapterClient, peer: AdapterClient, capabilities: Capabilities, coverage: Coverage, record: (result: CaseResult) => void): Promise<void> {
  return runPairCases(RETRIES_GROUP, CASES, iut, peer, capabilities, coverage, record);
}
