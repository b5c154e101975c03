import { QpAttrMask as M } from '../../../machines/qp-attr-mask.js';
import type { AdapterClient } from './adapter-client.js';
import type { CaseResult, Capabilities, Coverage } from './cases.js';
import { ACCESS, SEND_FLAGS, runPairCases, wcsText, type PairCase, type PairCaseContext } from './pair-cases.js';
import type { Endpoint } from './pair-fixture.js';

export const CQ_GROUP = 'cq';

type R = Record<string, unknown>;
const OVERRUN_RULE = 'IB (ibv_create_cq(3), rxe_cq_post): a CQ holds cqe completions; one more is an overrun: CQ_ERR is raised and the completion is lost; what was stored still polls, oldest first';
const NOTIFY_RULE = 'ibv_req_notify_cq(3): arming asks for one event on the CQ\'s channel at the next completion (solicited_only: the next solicited or unsuccessful one); without arming, or after the event until re-armed, no event';
/** Receives posted per request (the protocol's batch). */
const BATCH = 64;
/** How long an event that must not come is waited for. */
const QUIET_MS = 200;

/** A QP of A in ERR on `cq`: every receive posted to it completes WR_FLUSH_ERR at once. */
async function flushingQp(t: PairCaseContext, cq: string, maxRecvWr: number): Promise<string> {
  const { qp } = await t.a.iut.request('createQp', { pd: t.a.pd, qpType: 'RC', sendCq: cq, recvCq: cq, cap: { maxSendWr: 1, maxRecvWr } }) as R;
  await t.fx.init(t.a, qp as string, 0);
  await t.a.iut.request('modifyQp', { qp, attr: { qpState: 'ERR' }, mask: M.STATE });
  return qp as string;
}

/** Posts `wrs` on `e` in requests of at most BATCH WRs. */
async function postInBatches(e: Endpoint, op: 'postSend' | 'postRecv', qp: string, wrs: readonly R[]): Promise<void> {
  for (let i = 0; i < wrs.length; i += BATCH) await e.iut.request(op, { qp, wrs: wrs.slice(i, i + BATCH) });
}

/** Zero-length receives on A, one per id. */
const postRecvs = (t: PairCaseContext, qp: string, ids: readonly number[]) => postInBatches(t.a, 'postRecv', qp, ids.map((id) => ({ wrId: String(id), sgList: [] })));

const cqEventOn = (cq: string) => (e: R) => e.type === 'cqEvent' && e.cq === cq;

/** Arms A's CQ (or not) and flushes `count` receives through it: how many channel events came. */
function notifyCase(name: string, arm: boolean, count: number, wantEvents: number): PairCase {
  return {
    name, needs: ['completion-channel'],
    did: `${arm ? 'reqNotifyCq(solicitedOnly false)' : 'no reqNotifyCq'}, then ${count} completion(s) (receives flushed by a QP in ERR)`,
    expected: `${wantEvents} cqEvent(s)`,
    rule: NOTIFY_RULE,
    async run(t) {
      const qp = await flushingQp(t, t.a.cq, 8);
      if (arm) await t.a.iut.request('reqNotifyCq', { cq: t.a.cq, solicitedOnly: false });
      await postRecvs(t, qp, Array.from({ length: count }, (_, i) => 100 + i));
      const wcs = await t.wcs(t.a, count);
      // The first event is waited for; then a while for any that must not come.
      await t.events(t.a, cqEventOn(t.a.cq), wantEvents > 0 ? 2000 : QUIET_MS);
      await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
      const events = await t.events(t.a, cqEventOn(t.a.cq), 0);
      if (events.length > 0) await t.a.iut.request('ackCqEvents', { cq: t.a.cq, count: events.length });
      await t.a.iut.request('destroyQp', { qp });
      const problems = events.length === wantEvents ? [] : [`${events.length} cqEvent(s)`];
      if (wcs.length !== count) problems.push(`${wcs.length} of ${count} completions`);
      return problems;
    },
  };
}

const CASES: readonly PairCase[] = [
  {
    name: 'CQ overrun: CQ_ERR, the stored completions still poll in order', needs: [],
    did: 'a CQ created for 4 completions (cqe as the IUT rounded it: N); N + 2 receives flushed into it',
    expected: 'a CQ_ERR async event for the CQ; polling yields the first N completions, in posting order, and no more',
    rule: OVERRUN_RULE,
    async run(t) {
      const { cq, cqe } = await t.a.iut.request('createCq', { context: t.a.context, cqe: 4 }) as { cq: string; cqe: number };
      const ids = Array.from({ length: cqe + 2 }, (_, i) => 1000 + i);
      const qp = await flushingQp(t, cq, ids.length);
      await postRecvs(t, qp, ids);
      const problems: string[] = [];
      if ((await t.events(t.a, (e) => e.type === 'asyncEvent' && e.event === 'CQ_ERR' && e.cq === cq, 2000)).length === 0) problems.push('no CQ_ERR event');
      const polled: R[] = [];
      for (let n = 1; n > 0 && polled.length <= ids.length; ) {
        const { wcs } = await t.a.iut.request('pollCq', { cq, max: BATCH }) as { wcs: R[] };
        polled.push(...wcs);
        n = wcs.length;
      }
      const want = ids.slice(0, cqe).map((id) => `${id}:WR_FLUSH_ERR`).join(' ');
      if (wcsText(polled) !== want) problems.push(`polled ${polled.length} completion(s) of a CQ of ${cqe}: ${wcsText(polled).slice(0, 200)}`);
      await t.a.iut.request('destroyQp', { qp });
      await t.a.iut.request('destroyCq', { cq });
      return problems;
    },
  },
  notifyCase('notify armed: one event for the next completion, none after it until re-armed', true, 3, 1),
  notifyCase('notify not armed: no event', false, 2, 0),
  {
    name: 'notify solicited-only: an unsolicited receive does not fire it, a SOLICITED SEND or RDMA_WRITE_WITH_IMM does', needs: ['SEND', 'RDMA_WRITE_WITH_IMM', 'solicited', 'completion-channel'],
    did: 'the peer arms its CQ solicited-only; SEND 1 without SOLICITED, then SEND 2 with SOLICITED; re-armed, RDMA_WRITE_WITH_IMM 3 with SOLICITED',
    expected: 'no cqEvent after receive 100; one after receive 101; one after receive 102',
    rule: NOTIFY_RULE,
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      const pair = await t.connect(ACCESS.ALL_REMOTE);
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: ['100', '101'].map((id, i) => ({ wrId: id, sgList: [{ addr: remote.addr + 64 * i, length: 64, lkey: remote.lkey }] })) });
      await t.b.iut.request('reqNotifyCq', { cq: t.b.cq, solicitedOnly: true });
      const sendWr = (wrId: string, flags: number) => ({ wrId, opcode: 'SEND', sendFlags: SEND_FLAGS.SIGNALED | flags, sgList: [{ addr: local.addr, length: 8, lkey: local.lkey }] });
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [sendWr('1', 0)] });
      const first = await t.wcs(t.b, 1);
      await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
      const problems: string[] = [];
      const early = (await t.events(t.b, cqEventOn(t.b.cq), 0)).length;
      if (early > 0) problems.push(`${early} cqEvent(s) after the unsolicited receive ${wcsText(first)}`);
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [sendWr('2', SEND_FLAGS.SOLICITED)] });
      const second = await t.wcs(t.b, 1);
      const events = await t.events(t.b, cqEventOn(t.b.cq), 2000);
      if (events.length - early !== 1) problems.push(`${events.length - early} cqEvent(s) after the solicited receive ${wcsText(second)}`);
      // The same for the receive an RDMA_WRITE_WITH_IMM with SOLICITED consumes.
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: [{ wrId: '102', sgList: [] }] });
      await t.b.iut.request('reqNotifyCq', { cq: t.b.cq, solicitedOnly: true });
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [{ wrId: '3', opcode: 'RDMA_WRITE_WITH_IMM', sendFlags: SEND_FLAGS.SIGNALED | SEND_FLAGS.SOLICITED, immData: 1, sgList: [{ addr: local.addr, length: 8, lkey: local.lkey }], rdma: { remoteAddr: remote.addr + 512, rkey: remote.rkey } }] });
      const third = await t.wcs(t.b, 1);
      const after = await t.events(t.b, (e) => cqEventOn(t.b.cq)(e), 2000);
      if (after.length - events.length !== 1) problems.push(`${after.length - events.length} cqEvent(s) after the solicited RDMA_WRITE_WITH_IMM's receive ${wcsText(third)}`);
      if (after.length > 0) await t.b.iut.request('ackCqEvents', { cq: t.b.cq, count: after.length });
      await t.wcs(t.a, 3);
      return problems;
    },
  },
  {
    name: 'notify solicited-only fires on an unsuccessful completion', needs: ['completion-channel'],
    did: 'reqNotifyCq(solicitedOnly true), then a receive flushed by a QP in ERR (WR_FLUSH_ERR)',
    expected: 'one cqEvent (ibv_req_notify_cq(3): a completion whose status is not success is solicited)',
    rule: NOTIFY_RULE,
    async run(t) {
      const qp = await flushingQp(t, t.a.cq, 4);
      await t.a.iut.request('reqNotifyCq', { cq: t.a.cq, solicitedOnly: true });
      await postRecvs(t, qp, [100]);
      await t.wcs(t.a, 1);
      const events = await t.events(t.a, cqEventOn(t.a.cq), 2000);
      if (events.length > 0) await t.a.iut.request('ackCqEvents', { cq: t.a.cq, count: events.length });
      await t.a.iut.request('destroyQp', { qp });
      return events.length === 1 ? [] : [`${events.length} cqEvent(s)`];
    },
  },
  {
    name: 'a solicited-only request does not weaken a pending next-completion request', needs: ['completion-channel'],
    did: 'reqNotifyCq(solicitedOnly false), then reqNotifyCq(solicitedOnly true), then one successful unsolicited receive',
    expected: 'one cqEvent (rxe_req_notify_cq keeps IB_CQ_NEXT_COMP)',
    rule: NOTIFY_RULE,
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      const pair = await t.connect();
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: [{ wrId: '100', sgList: [{ addr: remote.addr, length: 64, lkey: remote.lkey }] }] });
      await t.b.iut.request('reqNotifyCq', { cq: t.b.cq, solicitedOnly: false });
      await t.b.iut.request('reqNotifyCq', { cq: t.b.cq, solicitedOnly: true });
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [{ wrId: '1', opcode: 'SEND', sendFlags: SEND_FLAGS.SIGNALED, sgList: [{ addr: local.addr, length: 8, lkey: local.lkey }] }] });
      const received = await t.wcs(t.b, 1);
      const events = await t.events(t.b, cqEventOn(t.b.cq), 2000);
      if (events.length > 0) await t.b.iut.request('ackCqEvents', { cq: t.b.cq, count: events.length });
      await t.wcs(t.a, 1);
      return events.length === 1 ? [] : [`${events.length} cqEvent(s) after ${wcsText(received)}`];
    },
  },
  {
    name: 'a receive CQ overrun puts the receiving QP in ERR', needs: ['SEND'],
    did: 'the peer\'s QP completes receives into a CQ created for 4 (N as rounded); N + 1 receives posted there, N + 1 SENDs',
    expected: 'CQ_ERR for that CQ and the receiving QP in ERR (rxe: RESPST_ERR_CQ_OVERFLOW)',
    rule: OVERRUN_RULE,
    async run(t) {
      const local = await t.mr(t.a);
      const remote = await t.mr(t.b);
      const { cq, cqe } = await t.b.iut.request('createCq', { context: t.b.context, cqe: 4 }) as { cq: string; cqe: number };
      const n = cqe + 1;
      const cap = { maxSendWr: n, maxRecvWr: n, maxSendSge: 1, maxRecvSge: 1 };
      const a = await t.fx.createQp(t.a, 0, cap);
      const created = await t.b.iut.request('createQp', { pd: t.b.pd, qpType: 'RC', sendCq: t.b.cq, recvCq: cq, cap }) as R;
      const b = { qp: created.qp as string, qpNum: created.qpNum as number };
      await t.fx.init(t.b, b.qp, ACCESS.ALL_REMOTE);
      const pair = { qpA: a.qp, qpB: b.qp, qpNumA: a.qpNum, qpNumB: b.qpNum, capA: a.cap };
      await t.fx.join(pair);
      await postInBatches(t.b, 'postRecv', b.qp, Array.from({ length: n }, (_, i) => ({ wrId: String(100 + i), sgList: [{ addr: remote.addr, length: 64, lkey: remote.lkey }] })));
      await postInBatches(t.a, 'postSend', a.qp, Array.from({ length: n }, (_, i) => ({ wrId: String(1 + i), opcode: 'SEND', sendFlags: 0, sgList: [{ addr: local.addr, length: 8, lkey: local.lkey }] })));
      const problems: string[] = [];
      if ((await t.events(t.b, (e) => e.type === 'asyncEvent' && e.event === 'CQ_ERR' && e.cq === cq, 3000)).length === 0) problems.push('no CQ_ERR event');
      const state = await t.state(t.b, b.qp);
      if (state !== 'ERR') problems.push(`the receiving QP in ${state}`);
      await t.a.iut.request('destroyQp', { qp: a.qp });
      await t.b.iut.request('destroyQp', { qp: b.qp });
      await t.b.iut.request('destroyCq', { cq });
      return problems;
    },
  },
  {
    name: 'pollCq returns at most max completions, oldest first', needs: [],
    did: '5 receives flushed by a QP in ERR into an empty CQ, then pollCq(max 2) three times',
    expected: '100, 101; then 102, 103; then 104',
    rule: 'ibv_poll_cq(3): at most num_entries completions, oldest first; the rest stay for the next poll',
    async run(t) {
      const qp = await flushingQp(t, t.a.cq, 8);
      await postRecvs(t, qp, [100, 101, 102, 103, 104]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const rounds: string[] = [];
      for (let i = 0; i < 3; i++) rounds.push(wcsText(((await t.a.iut.request('pollCq', { cq: t.a.cq, max: 2 })) as { wcs: R[] }).wcs).replace(/:WR_FLUSH_ERR/g, ''));
      await t.a.iut.request('destroyQp', { qp });
      const got = rounds.join('; ');
      return got === '100 101; 102 103; 104' ? [] : [`polled ${got}`];
    },
  },
];

/** Completion queues: overrun and notification arming. */
export function runCqSuite(iut: AdapterClient, peer: AdapterClient, capabilities: Capabilities, coverage: Coverage, record: (result: CaseResult) => void): Promise<void> {
  return runPairCases(CQ_GROUP, CASES, iut, peer, capabilities, coverage, record);
}
