import { QpAttrMask } from '../abi/constants.js';
import type { QpState } from '../abi/types.js';

type AttrName = keyof typeof QpAttrMask;

interface Transition {
  readonly required: readonly AttrName[];
  readonly optional: readonly AttrName[];
}

const TO_RTS_OPTIONAL: readonly AttrName[] = ['CUR_STATE', 'ALT_PATH', 'ACCESS_FLAGS', 'MIN_RNR_TIMER', 'PATH_MIG_STATE'];
const NOTHING: Transition = { required: [], optional: [] };

/**
 * ib_modify_qp_is_ok() for RC, written for the implementation from ibv_modify_qp(3) and the
 * kernel's qp_state_table (drivers/infiniband/core/verbs.c). The stack never consults machines/:
 * agreeing with the model is something the tests check, not something this file assumes.
 */
const TRANSITIONS: Readonly<Record<QpState, Partial<Record<QpState, Transition>>>> = {
  RESET: { RESET: NOTHING, INIT: { required: ['PKEY_INDEX', 'PORT', 'ACCESS_FLAGS'], optional: [] } },
  INIT: {
    RESET: NOTHING,
    ERR: NOTHING,
    INIT: { required: [], optional: ['PKEY_INDEX', 'PORT', 'ACCESS_FLAGS'] },
    RTR: {
      required: ['AV', 'PATH_MTU', 'DEST_QPN', 'RQ_PSN', 'MAX_DEST_RD_ATOMIC', 'MIN_RNR_TIMER'],
      optional: ['ALT_PATH', 'ACCESS_FLAGS', 'PKEY_INDEX'],
    },
  },
  RTR: {
    RESET: NOTHING,
    ERR: NOTHING,
    RTS: { required: ['TIMEOUT', 'RETRY_CNT', 'RNR_RETRY', 'SQ_PSN', 'MAX_QP_RD_ATOMIC'], optional: TO_RTS_OPTIONAL },
  },
  RTS: {
    RESET: NOTHING,
    ERR: NOTHING,
    RTS: { required: [], optional: TO_RTS_OPTIONAL },
    SQD: { required: [], optional: ['EN_SQD_ASYNC_NOTIFY'] },
  },
  SQD: {
    RESET: NOTHING,
    ERR: NOTHING,
    RTS: { required: [], optional: TO_RTS_OPTIONAL },
    SQD: {
      required: [],
      optional: ['PKEY_INDEX', 'PORT', 'AV', 'TIMEOUT', 'RETRY_CNT', 'RNR_RETRY', 'MAX_QP_RD_ATOMIC', 'MAX_DEST_RD_ATOMIC', 'ALT_PATH', 'ACCESS_FLAGS', 'MIN_RNR_TIMER', 'PATH_MIG_STATE'],
    },
  },
  SQE: { RESET: NOTHING, ERR: NOTHING, RTS: NOTHING },
  ERR: { RESET: NOTHING, ERR: NOTHING },
};

const bits = (names: readonly AttrName[]) => names.reduce((mask, name) => mask | QpAttrMask[name], 0);
const namesOf = (mask: number) => {
  const names = (Object.keys(QpAttrMask) as AttrName[]).filter((name) => (mask & QpAttrMask[name]) !== 0);
  const known = bits(Object.keys(QpAttrMask) as AttrName[]);
  if ((mask & ~known) !== 0) names.push(`0x${((mask & ~known) >>> 0).toString(16)}` as AttrName);
  return names.join('|') || 'nothing';
};

/** null when the kernel would accept the modify; otherwise what is wrong and what is allowed. */
export function modifyRejection(current: QpState, next: QpState, mask: number): string | null {
  if ((mask & QpAttrMask.CUR_STATE) !== 0 && !['RTR', 'RTS', 'SQD', 'SQE'].includes(current)) {
    return `IBV_QP_CUR_STATE is accepted only in RTR, RTS, SQD or SQE; the QP is in ${current}`;
  }
  const transition = TRANSITIONS[current][next];
  if (transition === undefined) {
    return `${current} -> ${next} is not a valid QP transition; from ${current} the QP may go to ${Object.keys(TRANSITIONS[current]).join(', ')}`;
  }
  const required = bits(transition.required);
  const allowed = required | bits(transition.optional) | QpAttrMask.STATE;
  if ((mask & required) !== required) {
    return `${current} -> ${next} requires ${namesOf(required)}; the mask lacks ${namesOf(required & ~mask)}`;
  }
  if ((mask & ~allowed) !== 0) {
    return `${current} -> ${next} does not take ${namesOf(mask & ~allowed)}; it takes ${namesOf(allowed)}`;
  }
  return null;
}
