import { AdapterRefused, type AdapterClient } from './adapter-client.js';
import type { CaseResult, Capabilities, Coverage } from './cases.js';
import { ACCESS, SEND_FLAGS, runPairCases, wcsText, type PairCase } from './pair-cases.js';
import { PairFixture } from './pair-fixture.js';

export const RETRIES_GROUP = 'retries';

type R = Record<string, unknown>;
const RNR_RULE = 'IB RC (ibv_modify_qp(3) rnr_retry; rxe rnr_nak_timer): a SEND that finds no receive is RNR NAKed and retried after min_rnr_timer, rnr_retry times (7: forever); when they run out the WR completes RNR_RETRY_EXC_ERR, the QP goes to ERR and the WRs after it flush';
const RETRY_RULE = 'IB RC (ibv_modify_qp(3) timeout, retry_cnt; rxe retransmit_timer): a request left unanswered for the local ACK timeout is resent, retry_cnt times; then the WR completes RETRY_EXC_ERR, the QP goes to ERR and the WRs after it flush';
const LOSS_RULE = 'IB RC over a reliable connection (siw, iWARP RFC 5040 §6): when the connection is lost the QP goes to ERR, raises an async event and every outstanding WR completes WR_FLUSH_ERR, in posting order';

/** The local ACK timeout at timeout 14: 4.096 µs × 2^14. */
const ACK_TIMEOUT_14_MS = 4.096e-3 * 2 ** 14;
/** IB min_rnr_timer encodings used here (IB spec table 45): 26 = 81.92 ms, 29 = 245.76 ms. */
const RNR_TIMER_MS: Record<number, number> = { 26: 81.92, 29: 245.76 };
/** An idle wait longer than (retryCnt 7 + 1) ACK timeouts at timeout 14. */
const IDLE_AFTER_MS = 700;
/** How long after a receive is posted a retried SEND may take at min_rnr_timer 1 (a loaded machine's slack). */
const RNR_SLACK_MS = 500;

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
    expected: `no send completion before the receive is posted; then, within ${RNR_SLACK_MS} ms, SEND 1 SUCCESS and RECV 100 SUCCESS with the 8 bytes; and ${IDLE_AFTER_MS} ms later, idle, the QP still in RTS`,
    rule: RNR_RULE,
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      await t.a.iut.request('writeMr', { mr: local.mr, offset: 0, data: Buffer.from('patience').toString('base64') });
      const pair = await t.connect(ACCESS.ALL_REMOTE, { rnrRetry: 7, minRnrTimer: 1 });
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [send('1', local.addr, local.lkey)] });
      const early = await t.wcs(t.a, 1, 300);
      const problems = early.length > 0 ? [`the SEND completed ${wcsText(early)} before the peer had a receive`] : [];
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: [{ wrId: '100', sgList: [{ addr: remote.addr, length: 64, lkey: remote.lkey }] }] });
      const receivePosted = performance.now();
      const [sent, received] = [early.length > 0 ? early : await t.wcs(t.a, 1), await t.wcs(t.b, 1)];
      // The RNR NAK carries the responder's min_rnr_timer (0.01 ms), not 655 ms (timer 0): generous, still far below.
      const waited = performance.now() - receivePosted;
      if (waited > RNR_SLACK_MS) problems.push(`the SEND completed ${waited.toFixed(0)} ms after the receive was posted (min_rnr_timer 0.01 ms)`);
      if (wcsText(sent) !== '1:SUCCESS') problems.push(`requester WCs ${wcsText(sent)}`);
      if (wcsText(received) !== '100:SUCCESS' || received[0]!.byteLen !== 8) problems.push(`responder WCs ${wcsText(received)}${received[0] === undefined ? '' : ` of ${received[0].byteLen} bytes`}`);
      const data = (await t.read(t.b, remote.mr, 0, 8)).toString();
      if (data !== 'patience') problems.push(`the receive buffer holds ${JSON.stringify(data)}`);
      // Retried and acknowledged, nothing is outstanding: the idle QP outlives its ACK timeouts (8 × 67 ms).
      await new Promise((resolve) => setTimeout(resolve, IDLE_AFTER_MS));
      const state = await t.state(t.a, pair.qpA);
      if (state !== 'RTS') problems.push(`${IDLE_AFTER_MS} ms later, idle, the requester's QP is in ${state}`);
      return problems;
    },
  },
  {
    name: 'silent peer: RETRY_EXC_ERR after retryCnt retries, then flush', needs: ['SEND'],
    did: 'SENDs 1 and 2 (timeout 14 = 67 ms, retryCnt 3) on a connection whose far end has no QP and never answers',
    expected: 'WC 1 RETRY_EXC_ERR no sooner than (retryCnt + 1) local ACK timeouts (268 ms), WC 2 WR_FLUSH_ERR, QP in ERR, a QP_FATAL async event',
    rule: RETRY_RULE,
    async run(t) {
      const local = await t.mr(t.a);
      const { qp, qpNum } = await t.silent({ timeout: 14, retryCnt: 3 });
      const posted = performance.now();
      await t.a.iut.request('postSend', { qp, wrs: [send('1', local.addr, local.lkey), send('2', local.addr, local.lkey)] });
      const wcs = await t.wcs(t.a, 2, 5000);
      const elapsed = performance.now() - posted;
      const problems: string[] = [];
      if (wcsText(wcs) !== '1:RETRY_EXC_ERR 2:WR_FLUSH_ERR') problems.push(`WCs ${wcsText(wcs)}`);
      // A lower bound only: a loaded machine makes retries later, never sooner.
      else if (elapsed < 0.9 * 4 * ACK_TIMEOUT_14_MS) problems.push(`RETRY_EXC_ERR after ${elapsed.toFixed(0)} ms, fewer than 4 timeouts of ${ACK_TIMEOUT_14_MS.toFixed(0)} ms`);
      const state = await t.state(t.a, qp);
      if (state !== 'ERR') problems.push(`QP in ${state}`);
      if ((await t.events(t.a, (e) => e.type === 'asyncEvent' && e.qpNum === qpNum && e.event === 'QP_FATAL', 1000)).length === 0) problems.push('no QP_FATAL event');
      return problems;
    },
  },
  {
    name: 'RNR waits min_rnr_timer between retries', needs: ['SEND'],
    did: 'SEND 1 with rnrRetry 2 to a peer without receives whose min_rnr_timer is 26 (81.92 ms); the requester\'s own is 1 (0.01 ms)',
    expected: 'WC 1 RNR_RETRY_EXC_ERR no sooner than 2 × 81.92 ms after the post (the wait is the timer the RNR NAK carries)',
    rule: RNR_RULE,
    async run(t) {
      const local = await t.mr(t.a);
      const pair = await t.connect(ACCESS.ALL_REMOTE, { rnrRetry: 2, minRnrTimer: 26, minRnrTimerForA: 1 });
      const posted = performance.now();
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [send('1', local.addr, local.lkey)] });
      const wcs = await t.wcs(t.a, 1, 5000);
      const elapsed = performance.now() - posted;
      if (wcsText(wcs) !== '1:RNR_RETRY_EXC_ERR') return [`WCs ${wcsText(wcs)}`];
      return elapsed >= 0.9 * 2 * RNR_TIMER_MS[26]! ? [] : [`RNR_RETRY_EXC_ERR after ${elapsed.toFixed(0)} ms`];
    },
  },
  {
    name: 'rnrRetry 1: a receive posted after the last retry comes too late', needs: ['SEND'],
    did: 'SEND 1 with rnrRetry 1 to a peer without receives (min_rnr_timer 29 = 245.76 ms); the peer posts receive 100 at 1.5 × 245.76 ms, after the one retry',
    expected: 'WC 1 RNR_RETRY_EXC_ERR (one retry, not two); receive 100 is not consumed by it',
    rule: RNR_RULE,
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      const pair = await t.connect(ACCESS.ALL_REMOTE, { rnrRetry: 1, minRnrTimer: 29 });
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [send('1', local.addr, local.lkey)] });
      await new Promise((resolve) => setTimeout(resolve, 1.5 * RNR_TIMER_MS[29]!));
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: [{ wrId: '100', sgList: [{ addr: remote.addr, length: 64, lkey: remote.lkey }] }] });
      const wcs = await t.wcs(t.a, 1, 5000);
      const problems = wcsText(wcs) === '1:RNR_RETRY_EXC_ERR' ? [] : [`WCs ${wcsText(wcs)}`];
      if ((await t.wcs(t.b, 1, 100)).some((wc) => wc.status === 'SUCCESS')) problems.push('the peer received the SEND');
      return problems;
    },
  },
  {
    name: 'RNR, rnrRetry 7: an RDMA_WRITE_WITH_IMM waits for a receive too', needs: ['RDMA_WRITE_WITH_IMM'],
    did: 'RDMA_WRITE_WITH_IMM 1 (imm 9) with rnrRetry 7 to a peer without receives; 200 ms later the peer posts receive 100',
    expected: 'no completion before; then WRITE 1 SUCCESS, RECV_RDMA_WITH_IMM 100 SUCCESS with imm 9, and the bytes written',
    rule: RNR_RULE,
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      await t.a.iut.request('writeMr', { mr: local.mr, offset: 0, data: Buffer.from('imm-rnr!').toString('base64') });
      const pair = await t.connect(ACCESS.ALL_REMOTE, { rnrRetry: 7, minRnrTimer: 1 });
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [{ wrId: '1', opcode: 'RDMA_WRITE_WITH_IMM', sendFlags: SEND_FLAGS.SIGNALED, immData: 9, sgList: [{ addr: local.addr, length: 8, lkey: local.lkey }], rdma: { remoteAddr: remote.addr + 512, rkey: remote.rkey } }] });
      const early = [...await t.wcs(t.a, 1, 200), ...await t.wcs(t.b, 1, 1)];
      const problems = early.length > 0 ? [`before the receive: ${wcsText(early)}`] : [];
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: [{ wrId: '100', sgList: [] }] });
      const [sent, received] = early.length > 0 ? [[], []] : [await t.wcs(t.a, 1), await t.wcs(t.b, 1)];
      if (early.length === 0 && (wcsText(sent) !== '1:SUCCESS' || wcsText(received) !== '100:SUCCESS' || received[0]!.opcode !== 'RECV_RDMA_WITH_IMM' || received[0]!.immData !== 9)) {
        problems.push(`requester ${wcsText(sent)}, responder ${wcsText(received)}${received[0] === undefined ? '' : ` (${received[0].opcode}, imm ${String(received[0].immData)})`}`);
      }
      const data = (await t.read(t.b, remote.mr, 512, 8)).toString();
      if (early.length === 0 && data !== 'imm-rnr!') problems.push(`the peer's region holds ${JSON.stringify(data)}`);
      return problems;
    },
  },
  {
    name: 'timeout 0 waits forever: a silent peer ends nothing', needs: ['SEND'],
    did: 'SEND 1 with timeout 0 and retryCnt 0 on a connection whose far end never answers; 1 s',
    expected: 'no completion (ibv_modify_qp(3): timeout 0 is an infinite local ACK timeout)',
    rule: RETRY_RULE,
    async run(t) {
      const local = await t.mr(t.a);
      const { qp } = await t.silent({ timeout: 0, retryCnt: 0 });
      await t.a.iut.request('postSend', { qp, wrs: [send('1', local.addr, local.lkey)] });
      const wcs = await t.wcs(t.a, 1, 1000);
      return wcs.length === 0 ? [] : [`WCs ${wcsText(wcs)}`];
    },
  },
  {
    name: 'the peer closes its device: the outstanding receives flush', needs: ['SEND'],
    did: 'receives 100 and 101 posted on A; the peer closes the context its QP belongs to',
    expected: 'A\'s QP in ERR; WCs 100 and 101 WR_FLUSH_ERR in order',
    rule: LOSS_RULE,
    async run(t) {
      // A second pair of contexts, so that closing B's leaves the group's own endpoint.
      const other = await PairFixture.open(t.a.iut, t.b.iut);
      const pair = await other.connect(ACCESS.ALL_REMOTE);
      const mr = await t.a.iut.request('regMr', { pd: other.a.pd, length: 4096, access: ACCESS.LOCAL_WRITE }) as R;
      await t.a.iut.request('postRecv', { qp: pair.qpA, wrs: ['100', '101'].map((id, i) => ({ wrId: id, sgList: [{ addr: (mr.addr as number) + 64 * i, length: 64, lkey: mr.lkey }] })) });
      await t.b.iut.request('closeDevice', { context: other.b.context });
      const wcs = await other.poll(other.a, 2, 5000);
      const problems = wcsText(wcs) === '100:WR_FLUSH_ERR 101:WR_FLUSH_ERR' ? [] : [`WCs ${wcsText(wcs)}`];
      const state = ((await t.a.iut.request('queryQp', { qp: pair.qpA })) as R).qpState;
      if (state !== 'ERR') problems.push(`A's QP in ${String(state)}`);
      // B's context is gone already: only that part of the clean-up is refused.
      await other.close().catch((error: unknown) => { if (!(error instanceof AdapterRefused)) throw error; });
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
