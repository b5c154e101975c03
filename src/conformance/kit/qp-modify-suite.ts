import { QpAttrMask, maskToString } from '../../../machines/qp-attr-mask.js';
import { QP_STATES, type QpState } from '../../../machines/qp-modify-table.js';
import { KERNEL_RC_TABLE, kernelModifyQpIsOk } from '../kernel-qp-table.js';
import { decisiveMasks } from '../qp-guard-check.js';
import { AdapterRefused, type AdapterClient } from './adapter-client.js';
import { failure, type CaseResult, type Capabilities, type Coverage } from './cases.js';
import { IutFixture } from './iut-fixture.js';

export const QP_MODIFY_GROUP = 'qp-modify';

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
  const fx = await IutFixture.open(iut);

  for (const current of START_STATES) {
    let shared = await fx.qpIn(current);
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
        const target = accept ? await fx.qpIn(current) : shared;
        const did = `modifyQp(${current}→${next}, mask ${maskToString(mask)})`;
        let outcome: string;
        let ok: boolean;
        try {
          await iut.request('modifyQp', { qp: target.qp, attr: await fx.attrFor(current, next, mask), mask });
          const state = await fx.state(target.qp);
          outcome = `accepted, QP now ${state}`;
          ok = accept && state === asked;
          coverage.transitions.add(`${current}→${state}`);
          coverage.qpStates.add(state);
        } catch (error) {
          if (!(error instanceof AdapterRefused)) throw error;
          const state = await fx.state(target.qp);
          outcome = `refused with ${error.errno} (${error.message}), QP now ${state}`;
          ok = !accept && error.errno === 'EINVAL' && state === current;
          if (state !== current) shared = await fx.qpIn(current);
        }
        const expected = accept ? `accepted, QP now ${asked}` : `refused with EINVAL, QP still ${current}`;
        record(ok ? { name, group: QP_MODIFY_GROUP, status: 'passed' } : { name, group: QP_MODIFY_GROUP, status: 'failed', message: failure(did, expected, outcome, rule) });
        if (accept) await iut.request('destroyQp', { qp: target.qp });
      }
    }
    await iut.request('destroyQp', { qp: shared.qp });
  }
  await fx.close();
  return results;
}
