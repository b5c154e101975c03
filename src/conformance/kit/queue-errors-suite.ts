import { QpAttrMask as M } from '../../../machines/qp-attr-mask.js';
import type { AdapterClient } from './adapter-client.js';
import type { CaseResult, Capabilities, Coverage } from './cases.js';
import { ACCESS, MR_BYTES, SEND_FLAGS, runPairCases, wcsText, type PairCase, type PairCaseContext } from './pair-cases.js';

export const QUEUE_ERRORS_GROUP = 'queue-errors';

type R = Record<string, unknown>;
const FLUSH_RULE = 'IB RC (ibv_modify_qp(3), rxe flush): in ERR every outstanding WR completes WR_FLUSH_ERR, in posting order';
const RESET_RULE = 'IB spec 10.3.1 (rxe_qp_reset): a move to RESET empties both work queues without completions; a RESET QP refuses posts (EINVAL)';
const SQD_RULE = 'ibv_modify_qp(3) SQD: the send queue drains and stops; SQ_DRAINED is raised when asked (en_sqd_async_notify); WRs posted in SQD wait for SQD→RTS';
const LENGTH_RULE = 'IB RC (rxe check_length; ibv_poll_cq(3)): a SEND longer than the receive completes LOC_LEN_ERR at the responder and REM_INV_REQ_ERR at the requester; both QPs go to ERR';
const LKEY_RULE = 'IB RC (rxe copy_data, mr_check_range): every SGE must lie inside a live MR of the QP\'s PD with its lkey; otherwise the WR completes LOC_PROT_ERR and nothing is sent';
const RECONNECT_RULE = 'kernel qp_state_table: ERR→RESET→INIT→RTR→RTS is a valid path; a QP so reset is a new connection endpoint';

/** How long an event that must not come is waited for. */
const QUIET_MS = 300;

const send = (wrId: string, addr: number, lkey: number, length = 8): R => ({ wrId, opcode: 'SEND', sendFlags: SEND_FLAGS.SIGNALED, sgList: [{ addr, length, lkey }] });
const recv = (wrId: string, addr: number, lkey: number, length = 64): R => ({ wrId, sgList: [{ addr, length, lkey }] });
const toState = (t: PairCaseContext, qp: string, qpState: string, extra: R = {}, mask = M.STATE) => t.a.iut.request('modifyQp', { qp, attr: { qpState, ...extra }, mask });

/** A SEND whose one SGE is `[offset, +length)` of A's region (deregistered first when `dead`). */
function lkeyCase(name: string, offset: number, length: number, dead: boolean, ok: boolean): PairCase {
  return {
    name, needs: ['SEND'],
    did: `SEND 1 with an SGE of ${length} bytes at offset ${offset} of a ${MR_BYTES}-byte MR${dead ? ' deregistered before the post' : ''}`,
    expected: ok ? 'SEND 1 SUCCESS and the peer\'s RECV 100 SUCCESS' : 'SEND 1 LOC_PROT_ERR, QP in ERR, nothing received by the peer',
    rule: LKEY_RULE,
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      const pair = await t.connect();
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: [recv('100', remote.addr, remote.lkey, 64)] });
      if (dead) await t.a.iut.request('deregMr', { mr: local.mr });
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [send('1', local.addr + offset, local.lkey, length)] });
      const wcs = await t.wcs(t.a, 1);
      const problems: string[] = [];
      if (wcsText(wcs) !== (ok ? '1:SUCCESS' : '1:LOC_PROT_ERR')) problems.push(`requester WCs ${wcsText(wcs)}`);
      const received = await t.wcs(t.b, 1, ok ? 3000 : 200);
      if (ok ? wcsText(received) !== '100:SUCCESS' : received.some((wc) => wc.status === 'SUCCESS')) problems.push(`the peer completed ${wcsText(received)}`);
      if (!ok && await t.state(t.a, pair.qpA) !== 'ERR') problems.push(`QP in ${await t.state(t.a, pair.qpA)}`);
      return problems;
    },
  };
}

const CASES: readonly PairCase[] = [
  {
    name: 'RTS→ERR flushes the outstanding receives in posting order', needs: [],
    did: 'receives 100, 101, 102 posted on a connected QP, then modify to ERR',
    expected: 'WCs 100, 101, 102 WR_FLUSH_ERR in that order, QP in ERR, no async error event for it (the application asked)',
    rule: FLUSH_RULE,
    async run(t) {
      const local = await t.mr(t.a);
      const pair = await t.connect();
      await t.a.iut.request('postRecv', { qp: pair.qpA, wrs: ['100', '101', '102'].map((id, i) => recv(id, local.addr + 64 * i, local.lkey)) });
      await toState(t, pair.qpA, 'ERR');
      const wcs = await t.wcs(t.a, 3);
      const problems = wcsText(wcs) === '100:WR_FLUSH_ERR 101:WR_FLUSH_ERR 102:WR_FLUSH_ERR' ? [] : [`WCs ${wcsText(wcs)}`];
      // The application asked for ERR: no error was found, so none is reported (rxe_qp_error raises no event).
      const fatal = await t.events(t.a, (e) => e.type === 'asyncEvent' && e.qpNum === pair.qpNumA && ['QP_FATAL', 'QP_REQ_ERR', 'QP_ACCESS_ERR'].includes(e.event as string), QUIET_MS);
      if (fatal.length > 0) problems.push(`the modify raised ${String(fatal[0]!.event)}`);
      const extra = await t.wcs(t.a, 1, 50);
      if (extra.length > 0) problems.push(`and then ${wcsText(extra)}`);
      if (await t.state(t.a, pair.qpA) !== 'ERR') problems.push(`QP in ${await t.state(t.a, pair.qpA)}`);
      return problems;
    },
  },
  {
    name: 'RTS→RESET discards the outstanding receives without completions; posts are then refused', needs: [],
    did: 'receives 100, 101 posted on a connected QP, modify to RESET, then post receive 102',
    expected: 'no completion for 100 or 101; receive 102 refused with EINVAL',
    rule: RESET_RULE,
    async run(t) {
      const local = await t.mr(t.a);
      const pair = await t.connect();
      await t.a.iut.request('postRecv', { qp: pair.qpA, wrs: [recv('100', local.addr, local.lkey), recv('101', local.addr + 64, local.lkey)] });
      await toState(t, pair.qpA, 'RESET');
      const problems: string[] = [];
      const wcs = await t.wcs(t.a, 1, 200);
      if (wcs.length > 0) problems.push(`completions ${wcsText(wcs)}`);
      const posted = await t.outcome(t.a.iut.request('postRecv', { qp: pair.qpA, wrs: [recv('102', local.addr, local.lkey)] }));
      if (posted !== 'EINVAL') problems.push(`receive 102 ${posted === 'ok' ? 'accepted' : `refused with ${posted}`}`);
      if (await t.state(t.a, pair.qpA) !== 'RESET') problems.push(`QP in ${await t.state(t.a, pair.qpA)}`);
      return problems;
    },
  },
  {
    name: 'SQD: SQ_DRAINED is raised, a SEND posted in SQD waits for SQD→RTS', needs: ['SEND', 'sqd'],
    did: 'RTS→SQD with en_sqd_async_notify, SQD→SQD, SEND 1 posted in SQD, 300 ms, then SQD→RTS',
    expected: 'one SQ_DRAINED event for the QP (none more for SQD→SQD); no completion on either side before SQD→RTS; then SEND 1 SUCCESS and RECV 100 SUCCESS',
    rule: SQD_RULE,
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      const pair = await t.connect();
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: [recv('100', remote.addr, remote.lkey)] });
      await toState(t, pair.qpA, 'SQD', { enSqdAsyncNotify: true }, M.STATE | M.EN_SQD_ASYNC_NOTIFY);
      const problems: string[] = [];
      const drained = (e: R) => e.type === 'asyncEvent' && e.event === 'SQ_DRAINED' && e.qpNum === pair.qpNumA;
      if ((await t.events(t.a, drained, 2000)).length === 0) problems.push('no SQ_DRAINED event');
      // SQD→SQD changes nothing: drained once, announced once.
      await toState(t, pair.qpA, 'SQD');
      await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
      if ((await t.events(t.a, drained, 0)).length > 1) problems.push('a second SQ_DRAINED after SQD→SQD');
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [send('1', local.addr, local.lkey)] });
      const early = [...await t.wcs(t.a, 1, 300), ...await t.wcs(t.b, 1, 1)];
      if (early.length > 0) problems.push(`in SQD: ${wcsText(early)}`);
      await toState(t, pair.qpA, 'RTS');
      const [sent, received] = [early.length > 0 ? [] : await t.wcs(t.a, 1), early.length > 0 ? [] : await t.wcs(t.b, 1)];
      if (early.length === 0 && (wcsText(sent) !== '1:SUCCESS' || wcsText(received) !== '100:SUCCESS')) problems.push(`after SQD→RTS: requester ${wcsText(sent)}, responder ${wcsText(received)}`);
      return problems;
    },
  },
  {
    name: 'SQD without en_sqd_async_notify raises no SQ_DRAINED', needs: ['sqd'],
    did: 'RTS→SQD with the STATE bit only, on a connected QP with nothing outstanding',
    expected: `no SQ_DRAINED event within ${QUIET_MS} ms`,
    rule: SQD_RULE,
    async run(t) {
      const pair = await t.connect();
      await toState(t, pair.qpA, 'SQD');
      const events = await t.events(t.a, (e) => e.type === 'asyncEvent' && e.event === 'SQ_DRAINED' && e.qpNum === pair.qpNumA, QUIET_MS);
      return events.length === 0 ? [] : ['an SQ_DRAINED event'];
    },
  },
  {
    name: 'SQD with en_sqd_async_notify false raises no SQ_DRAINED', needs: ['sqd'],
    did: 'RTS→SQD with the EN_SQD_ASYNC_NOTIFY bit set and the value false',
    expected: `no SQ_DRAINED event within ${QUIET_MS} ms (the value asks for none)`,
    rule: SQD_RULE,
    async run(t) {
      const pair = await t.connect();
      await toState(t, pair.qpA, 'SQD', { enSqdAsyncNotify: false }, M.STATE | M.EN_SQD_ASYNC_NOTIFY);
      const events = await t.events(t.a, (e) => e.type === 'asyncEvent' && e.event === 'SQ_DRAINED' && e.qpNum === pair.qpNumA, QUIET_MS);
      return events.length === 0 ? [] : ['an SQ_DRAINED event'];
    },
  },
  {
    name: 'SQD is not drained while a SEND is outstanding', needs: ['SEND', 'sqd'],
    did: 'SEND 1 to a peer that never answers (timeout 20, about 4 s), then RTS→SQD with en_sqd_async_notify',
    expected: `no SQ_DRAINED event within ${QUIET_MS} ms (SEND 1 is still unacknowledged)`,
    rule: SQD_RULE,
    async run(t) {
      const local = await t.mr(t.a);
      const { qp, qpNum } = await t.silent({ timeout: 20 });
      await t.a.iut.request('postSend', { qp, wrs: [send('1', local.addr, local.lkey)] });
      await t.a.iut.request('modifyQp', { qp, attr: { qpState: 'SQD', enSqdAsyncNotify: true }, mask: M.STATE | M.EN_SQD_ASYNC_NOTIFY });
      const events = await t.events(t.a, (e) => e.type === 'asyncEvent' && e.event === 'SQ_DRAINED' && e.qpNum === qpNum, QUIET_MS);
      const wcs = await t.wcs(t.a, 1, 1);
      const problems = events.length === 0 ? [] : [`an SQ_DRAINED event with ${wcs.length === 0 ? 'SEND 1 not completed' : `WCs ${wcsText(wcs)}`}`];
      const queried = await t.a.iut.request('queryQp', { qp }) as R;
      if (queried.sqDraining !== undefined && queried.sqDraining !== true) problems.push(`queryQp says sqDraining ${String(queried.sqDraining)} with SEND 1 outstanding`);
      return problems;
    },
  },
  {
    name: 'SQD→ERR flushes the SENDs held in SQD, in posting order', needs: ['SEND', 'sqd'],
    did: 'RTS→SQD, SEND 1 and SEND 2 (unsignaled) posted, then SQD→ERR',
    expected: 'WCs 1 and 2 WR_FLUSH_ERR, in that order (a flushed WR completes, signaled or not); nothing received by the peer',
    rule: FLUSH_RULE,
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      const pair = await t.connect();
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: [recv('100', remote.addr, remote.lkey)] });
      await toState(t, pair.qpA, 'SQD');
      await t.events(t.a, (e) => e.type === 'asyncEvent' && e.event === 'SQ_DRAINED', 200);
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [send('1', local.addr, local.lkey), { ...send('2', local.addr, local.lkey), sendFlags: 0 }] });
      await toState(t, pair.qpA, 'ERR');
      const wcs = await t.wcs(t.a, 2);
      const problems = wcsText(wcs) === '1:WR_FLUSH_ERR 2:WR_FLUSH_ERR' ? [] : [`requester WCs ${wcsText(wcs)}`];
      if ((await t.wcs(t.b, 1, 200)).some((wc) => wc.status === 'SUCCESS')) problems.push('the peer received a SEND');
      return problems;
    },
  },
  {
    name: 'ERR→RESET→INIT→RTR→RTS: the same QPs carry a SEND again', needs: ['SEND'],
    did: 'B\'s QP, with receive 99 posted, straight to RESET; A\'s to ERR then RESET; both INIT, RTR (a new connection), RTS; SEND 1 into receive 100',
    expected: 'every modify accepted; no completion for receive 99 (RESET discards it); SEND 1 SUCCESS and RECV 100 SUCCESS',
    rule: RECONNECT_RULE,
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      const pair = await t.connect();
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: [recv('99', remote.addr + 1024, remote.lkey)] });
      // B first: A's move to ERR would reach B (TERMINATE) and flush receive 99 before B's RESET.
      await t.b.iut.request('modifyQp', { qp: pair.qpB, attr: { qpState: 'RESET' }, mask: M.STATE });
      await t.a.iut.request('modifyQp', { qp: pair.qpA, attr: { qpState: 'ERR' }, mask: M.STATE });
      await t.a.iut.request('modifyQp', { qp: pair.qpA, attr: { qpState: 'RESET' }, mask: M.STATE });
      for (const [e, qp] of [[t.a, pair.qpA], [t.b, pair.qpB]] as const) await t.fx.init(e, qp, ACCESS.ALL_REMOTE);
      const leftover = await t.wcs(t.b, 1, 100);
      await t.fx.drain();
      await t.fx.join(pair);
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: [recv('100', remote.addr, remote.lkey)] });
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [send('1', local.addr, local.lkey)] });
      const [sent, received] = [await t.wcs(t.a, 1), await t.wcs(t.b, 1)];
      const problems = leftover.length === 0 ? [] : [`after RESET the peer completed ${wcsText(leftover)}`];
      if (wcsText(sent) !== '1:SUCCESS' || wcsText(received) !== '100:SUCCESS') problems.push(`requester ${wcsText(sent)}, responder ${wcsText(received)}`);
      return problems;
    },
  },
  {
    name: 'a SEND longer than the receive: LOC_LEN_ERR there, REM_INV_REQ_ERR here', needs: ['SEND'],
    did: 'receive 100 of 8 bytes posted at the peer; SEND 1 of 16 bytes',
    expected: 'responder WC 100 LOC_LEN_ERR, requester WC 1 REM_INV_REQ_ERR, both QPs in ERR',
    rule: LENGTH_RULE,
    async run(t) {
      const [local, remote] = [await t.mr(t.a), await t.mr(t.b)];
      const pair = await t.connect();
      await t.b.iut.request('postRecv', { qp: pair.qpB, wrs: [recv('100', remote.addr, remote.lkey, 8)] });
      await t.a.iut.request('postSend', { qp: pair.qpA, wrs: [send('1', local.addr, local.lkey, 16)] });
      const [sent, received] = [await t.wcs(t.a, 1), await t.wcs(t.b, 1)];
      const problems: string[] = [];
      if (wcsText(sent) !== '1:REM_INV_REQ_ERR') problems.push(`requester WCs ${wcsText(sent)}`);
      if (wcsText(received) !== '100:LOC_LEN_ERR') problems.push(`responder WCs ${wcsText(received)}`);
      const states = [await t.state(t.a, pair.qpA), await t.state(t.b, pair.qpB)];
      if (states.some((s) => s !== 'ERR')) problems.push(`QPs in ${states.join(' and ')}`);
      return problems;
    },
  },
  lkeyCase('an SGE that ends at the last byte of its MR is sent', MR_BYTES - 8, 8, false, true),
  lkeyCase('an SGE one byte past the end of its MR: LOC_PROT_ERR', MR_BYTES - 7, 8, false, false),
  lkeyCase('an SGE of a deregistered MR: LOC_PROT_ERR', 0, 8, true, false),
];

/** What errors do to the work queues: flush on ERR, discard on RESET, SQD, length and lkey errors, reconnection. */
export function runQueueErrorsSuite(iut: AdapterClient, peer: AdapterClient, capabilities: Capabilities, coverage: Coverage, record: (result: CaseResult) => void): Promise<void> {
  return runPairCases(QUEUE_ERRORS_GROUP, CASES, iut, peer, capabilities, coverage, record);
}
