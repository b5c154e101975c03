import { QpAttrMask, maskOf, maskToString } from './qp-attr-mask.js';

/** QP states in the order of libibverbs' `enum ibv_qp_state` (IBV_QPS_RESET = 0 ... IBV_QPS_ERR = 6). */
export const QP_STATES = ['RESET', 'INIT', 'RTR', 'RTS', 'SQD', 'SQE', 'ERR'] as const;
export type QpState = (typeof QP_STATES)[number];

export function isQpState(value: unknown): value is QpState {
  return typeof value === 'string' && (QP_STATES as readonly string[]).includes(value);
}

/** One valid (current, next) pair of the kernel table with its RC attribute masks. */
export interface QpModifyRule {
  readonly from: QpState;
  readonly to: QpState;
  /** Attributes that must be in the mask (besides STATE when from !== to). */
  readonly required: number;
  /** Attributes that may be in the mask. */
  readonly optional: number;
}

const RTS_OPTIONAL = maskOf('CUR_STATE', 'ALT_PATH', 'ACCESS_FLAGS', 'MIN_RNR_TIMER', 'PATH_MIG_STATE');

/**
 * The RC column of the Linux kernel's `qp_state_table` (drivers/infiniband/core/verbs.c), the
 * table `ib_modify_qp_is_ok()` consults. Pairs that are absent are invalid. RC never enters SQE
 * (no row lists SQE as a target), but SQE's outgoing pairs are valid and are kept.
 */
export const QP_MODIFY_TABLE: readonly QpModifyRule[] = [
  { from: 'RESET', to: 'RESET', required: 0, optional: 0 },
  { from: 'RESET', to: 'INIT', required: maskOf('PKEY_INDEX', 'PORT', 'ACCESS_FLAGS'), optional: 0 },
  { from: 'INIT', to: 'RESET', required: 0, optional: 0 },
  { from: 'INIT', to: 'ERR', required: 0, optional: 0 },
  { from: 'INIT', to: 'INIT', required: 0, optional: maskOf('PKEY_INDEX', 'PORT', 'ACCESS_FLAGS') },
  {
    from: 'INIT', to: 'RTR',
    required: maskOf('AV', 'PATH_MTU', 'DEST_QPN', 'RQ_PSN', 'MAX_DEST_RD_ATOMIC', 'MIN_RNR_TIMER'),
    optional: maskOf('ALT_PATH', 'ACCESS_FLAGS', 'PKEY_INDEX'),
  },
  { from: 'RTR', to: 'RESET', required: 0, optional: 0 },
  { from: 'RTR', to: 'ERR', required: 0, optional: 0 },
  {
    from: 'RTR', to: 'RTS',
    required: maskOf('TIMEOUT', 'RETRY_CNT', 'RNR_RETRY', 'SQ_PSN', 'MAX_QP_RD_ATOMIC'),
    optional: RTS_OPTIONAL,
  },
  { from: 'RTS', to: 'RESET', required: 0, optional: 0 },
  { from: 'RTS', to: 'ERR', required: 0, optional: 0 },
  { from: 'RTS', to: 'RTS', required: 0, optional: RTS_OPTIONAL },
  { from: 'RTS', to: 'SQD', required: 0, optional: maskOf('EN_SQD_ASYNC_NOTIFY') },
  { from: 'SQD', to: 'RESET', required: 0, optional: 0 },
  { from: 'SQD', to: 'ERR', required: 0, optional: 0 },
  { from: 'SQD', to: 'RTS', required: 0, optional: RTS_OPTIONAL },
  {
    from: 'SQD', to: 'SQD', required: 0,
    optional: maskOf('PKEY_INDEX', 'PORT', 'AV', 'TIMEOUT', 'RETRY_CNT', 'RNR_RETRY', 'MAX_QP_RD_ATOMIC',
      'MAX_DEST_RD_ATOMIC', 'ALT_PATH', 'ACCESS_FLAGS', 'MIN_RNR_TIMER', 'PATH_MIG_STATE'),
  },
  { from: 'SQE', to: 'RESET', required: 0, optional: 0 },
  { from: 'SQE', to: 'ERR', required: 0, optional: 0 },
  { from: 'SQE', to: 'RTS', required: 0, optional: 0 },
  { from: 'ERR', to: 'RESET', required: 0, optional: 0 },
  { from: 'ERR', to: 'ERR', required: 0, optional: 0 },
];

/** States in which the consumer may assert the current state with IBV_QP_CUR_STATE. */
export const CUR_STATE_ALLOWED_IN: readonly QpState[] = ['RTR', 'RTS', 'SQD', 'SQE'];

export function findModifyRule(from: QpState, to: QpState): QpModifyRule | undefined {
  return QP_MODIFY_TABLE.find((rule) => rule.from === from && rule.to === to);
}

export type ModifyVerdict =
  | { readonly ok: true; readonly rule: QpModifyRule }
  | { readonly ok: false; readonly reason: string };

/**
 * `ib_modify_qp_is_ok()` for RC, with a reason a user can act on. `next` is the requested state,
 * or `current` when the mask has no STATE bit (as the kernel's callers compute it).
 */
export function checkModify(current: QpState, next: QpState, mask: number): ModifyVerdict {
  if ((mask & QpAttrMask.CUR_STATE) !== 0 && !CUR_STATE_ALLOWED_IN.includes(current)) {
    return { ok: false, reason: `IBV_QP_CUR_STATE is allowed only from ${CUR_STATE_ALLOWED_IN.join(', ')}, not from ${current}` };
  }
  const rule = findModifyRule(current, next);
  if (rule === undefined) {
    const targets = QP_MODIFY_TABLE.filter((r) => r.from === current).map((r) => r.to);
    return { ok: false, reason: `${current} -> ${next} is not a valid transition; from ${current} a QP may go to ${targets.join(', ')}` };
  }
  const missing = rule.required & ~mask;
  if (missing !== 0) {
    return { ok: false, reason: `${current} -> ${next} requires ${maskToString(rule.required)}; missing ${maskToString(missing)}` };
  }
  const allowed = rule.required | rule.optional | QpAttrMask.STATE;
  const extra = (mask & ~allowed) >>> 0;
  if (extra !== 0) {
    return {
      ok: false,
      reason: `${current} -> ${next} does not accept ${maskToString(extra)}; allowed: ${maskToString(allowed)}`,
    };
  }
  return { ok: true, rule };
}
