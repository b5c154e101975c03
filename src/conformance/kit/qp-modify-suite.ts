import { QpAttrMask, maskToString } from '../../../machines/qp-attr-mask.js';
import { QP_STATES, type QpState } from '../../../machines/qp-modify-table.js';
import { KERNEL_RC_TABLE, kernelModifyQpIsOk } from '../kernel-qp-table.js';
import { decisiveMasks } from '../qp-guard-check.js';
import { AdapterRefused, type AdapterClient } from './adapter-client.js';
import { failure, type CaseResult, type Capabilities, type Coverage } from './cases.js';

export const QP_MODIFY_GROUP = 'qp-modify';

type R = Record<string, unknown>;
const M = QpAttrMask;
/** RC never enters SQE (only UD send errors do): the suite starts from every other state. */
const START_STATES: readonly QpState[] = ['RESET', 'INIT', 'RTR', 'RTS', 'SQD', 'ERR'];

/** Why the kernel refuses (or accepts) a modify, in the words of its qp_state_table. */
export function kernelRule(current: QpState, next: QpState, mask: number): string {
  const asked = (mask & M.STATE) !== 0 ? next : current;
  const entry = KERNEL_RC_TABLE[current][asked];
  const pair = `${current}→${asked}`;
  if ((mask & M.CUR_STATE) !== 0 && !['RTR', 'RTS', 'SQD', 'SQE'].includes(current)) return `ib_modify_qp_is_ok: IB_QP_CUR_STATE only in RTR, RTS, SQD, SQE (the QP is in ${current})`;
  if (entry === undefined) return `kernel qp_state_table: ${pair} is not a valid transition`;
  const missing = entry.req & ~mask;
  if (missing !== 0) return `kernel qp_state_table: ${pair} requires ${maskToString(missing)}`;
  const extra = mask & ~(entry.req | entry.opt | M.STATE);
  if (extra !== 0) return `kernel qp_state_table: ${pair} does not take ${maskToString(extra >>> 0)}`;
  return `kernel qp_state_table: ${pair} with ${maskToString(mask)} is valid`;
}

/** Features a case needs beyond the table: what an implementation may leave unclaimed. */
function featuresNeeded(current: QpState, mask: number): string[] {
  const needed: string[] = [];
  if ((mask & (M.ALT_PATH | M.PATH_MIG_STATE)) !== 0) needed.push('alt-path');
  if (current === 'SQD' && (mask & M.AV) !== 0) needed.push('sqd-av');
  return needed;
}

/**
 * Every (state, next state, decisive mask) of ib_modify_qp_is_ok for RC, on the IUT: a QP is put
 * in the state, the modify is sent with valid values for every attribute the mask names, and the
 * outcome (accepted and in the target state, or refused with EINVAL and unchanged) must be the
 * kernel's. A refused modify leaves the QP where it was, so one QP serves a state's refusals; an
 * accepted one takes a fresh QP.
 */
export async function runQpModifySuite(iut: AdapterClient, capabilities: Capabilities, coverage: Coverage, onCase?: (result: CaseResult) => void): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  const record = (result: CaseResult) => {
    results.push(result);
    onCase?.(result);
  };
  const { context } = await iut.request('openDevice', {}) as R;
  const { pd } = await iut.request('allocPd', { context }) as R;
  const { cq } = await iut.request('createCq', { context, cqe: 64 }) as R;
  const { listener, port } = await iut.request('listen', {}) as R;

  /** A connected socket whose other end the IUT keeps and never reads (the peer of a lone QP). */
  const socket = async () => {
    const [connected] = await Promise.all([iut.request('connect', { host: '127.0.0.1', port }) as Promise<R>, iut.request('accept', { listener })]);
    return connected.socket as string;
  };
  const attrFor = async (current: QpState, next: QpState, mask: number, destQpNum: number): Promise<R> => {
    const attr: R = {};
    if ((mask & M.STATE) !== 0) attr.qpState = next;
    if ((mask & M.CUR_STATE) !== 0) attr.curQpState = current;
    if ((mask & M.EN_SQD_ASYNC_NOTIFY) !== 0) attr.enSqdAsyncNotify = false;
    if ((mask & M.ACCESS_FLAGS) !== 0) attr.qpAccessFlags = 0;
    if ((mask & M.PKEY_INDEX) !== 0) attr.pkeyIndex = 0;
    if ((mask & M.PORT) !== 0) attr.portNum = 1;
    if ((mask & M.QKEY) !== 0) attr.qkey = 0;
    if ((mask & M.PATH_MTU) !== 0) attr.pathMtu = 4096;
    if ((mask & M.TIMEOUT) !== 0) attr.timeout = 14;
    if ((mask & M.RETRY_CNT) !== 0) attr.retryCnt = 7;
    if ((mask & M.RNR_RETRY) !== 0) attr.rnrRetry = 7;
    if ((mask & M.RQ_PSN) !== 0) attr.rqPsn = 0;
    if ((mask & M.SQ_PSN) !== 0) attr.sqPsn = 0;
    if ((mask & M.MAX_QP_RD_ATOMIC) !== 0) attr.maxRdAtomic = 1;
    if ((mask & M.MAX_DEST_RD_ATOMIC) !== 0) attr.maxDestRdAtomic = 1;
    if ((mask & M.MIN_RNR_TIMER) !== 0) attr.minRnrTimer = 12;
    if ((mask & M.DEST_QPN) !== 0) attr.destQpNum = destQpNum;
    // Always a real, connected socket: a refusal must come from the table, not from a bad value.
    if ((mask & M.AV) !== 0) attr.ahAttr = { socket: await socket() };
    return attr;
  };
  const PATH: Record<QpState, { to: QpState; mask: number }[]> = {
    RESET: [],
    INIT: [{ to: 'INIT', mask: M.STATE | M.PKEY_INDEX | M.PORT | M.ACCESS_FLAGS }],
    RTR: [{ to: 'INIT', mask: M.STATE | M.PKEY_INDEX | M.PORT | M.ACCESS_FLAGS }, { to: 'RTR', mask: M.STATE | M.AV | M.PATH_MTU | M.DEST_QPN | M.RQ_PSN | M.MAX_DEST_RD_ATOMIC | M.MIN_RNR_TIMER }],
    RTS: [], SQD: [], SQE: [], ERR: [{ to: 'INIT', mask: M.STATE | M.PKEY_INDEX | M.PORT | M.ACCESS_FLAGS }, { to: 'ERR', mask: M.STATE }],
  };
  PATH.RTS = [...PATH.RTR, { to: 'RTS', mask: M.STATE | M.SQ_PSN | M.TIMEOUT | M.RETRY_CNT | M.RNR_RETRY | M.MAX_QP_RD_ATOMIC }];
  PATH.SQD = [...PATH.RTS, { to: 'SQD', mask: M.STATE }];
  /** A new QP, moved to `state` by the standard path (itself checked: the path must be accepted). */
  const qpIn = async (state: QpState): Promise<{ qp: string; qpNum: number }> => {
    const created = await iut.request('createQp', { pd, qpType: 'RC', sendCq: cq, recvCq: cq, cap: { maxSendWr: 4, maxRecvWr: 4, maxSendSge: 1, maxRecvSge: 1 } }) as R;
    const qp = created.qp as string;
    let at: QpState = 'RESET';
    for (const step of PATH[state]) {
      await iut.request('modifyQp', { qp, attr: await attrFor(at, step.to, step.mask, 0x123), mask: step.mask });
      at = step.to;
    }
    return { qp, qpNum: created.qpNum as number };
  };

  for (const current of START_STATES) {
    let shared = await qpIn(current);
    for (const next of QP_STATES) {
      for (const mask of decisiveMasks(current, next)) {
        const asked = (mask & M.STATE) !== 0 ? next : current;
        const accept = kernelModifyQpIsOk(current, asked, mask);
        const name = `${current}→${next} ${maskToString(mask)}`;
        const rule = kernelRule(current, next, mask);
        const missing = featuresNeeded(current, mask).filter((f) => !capabilities.features.includes(f));
        if (accept && missing.length > 0) {
          record({ name, group: QP_MODIFY_GROUP, status: 'not claimed', message: `needs ${missing.join(', ')}` });
          continue;
        }
        const target = accept ? await qpIn(current) : shared;
        const did = `modifyQp(${current}→${next}, mask ${maskToString(mask)})`;
        let outcome: string;
        let ok: boolean;
        try {
          await iut.request('modifyQp', { qp: target.qp, attr: await attrFor(current, next, mask, 0x123), mask });
          const state = ((await iut.request('queryQp', { qp: target.qp })) as R).qpState as string;
          outcome = `accepted, QP now ${state}`;
          ok = accept && state === asked;
          coverage.transitions.add(`${current}→${state}`);
          coverage.qpStates.add(state);
        } catch (error) {
          if (!(error instanceof AdapterRefused)) throw error;
          const state = ((await iut.request('queryQp', { qp: target.qp })) as R).qpState as string;
          outcome = `refused with ${error.errno} (${error.message}), QP now ${state}`;
          ok = !accept && error.errno === 'EINVAL' && state === current;
          if (state !== current) shared = await qpIn(current);
        }
        const expected = accept ? `accepted, QP now ${asked}` : `refused with EINVAL, QP still ${current}`;
        record(ok ? { name, group: QP_MODIFY_GROUP, status: 'passed' } : { name, group: QP_MODIFY_GROUP, status: 'failed', message: failure(did, expected, outcome, rule) });
        if (accept) await iut.request('destroyQp', { qp: target.qp });
      }
    }
    await iut.request('destroyQp', { qp: shared.qp });
  }
  await iut.request('closeListener', { listener });
  await iut.request('closeDevice', { context });
  return results;
}
