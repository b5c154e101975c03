import { QpAttrMask as M } from '../../../machines/qp-attr-mask.js';
import type { QpState } from '../../../machines/qp-modify-table.js';

type R = Record<string, unknown>;

/** The masks an application gives the connection set-up, as rc_pingpong does. */
export const INIT_MASK = M.STATE | M.PKEY_INDEX | M.PORT | M.ACCESS_FLAGS;
export const RTR_MASK = M.STATE | M.AV | M.PATH_MTU | M.DEST_QPN | M.RQ_PSN | M.MAX_DEST_RD_ATOMIC | M.MIN_RNR_TIMER;
export const RTS_MASK = M.STATE | M.SQ_PSN | M.TIMEOUT | M.RETRY_CNT | M.RNR_RETRY | M.MAX_QP_RD_ATOMIC;

/**
 * Valid values for every attribute a mask names, except the address vector (the caller supplies
 * a connected socket): the one place the kit's cases choose attribute values.
 */
export function attrValues(current: QpState, next: QpState, mask: number, values: { destQpNum: number; accessFlags?: number }): R {
  const attr: R = {};
  if ((mask & M.STATE) !== 0) attr.qpState = next;
  if ((mask & M.CUR_STATE) !== 0) attr.curQpState = current;
  if ((mask & M.EN_SQD_ASYNC_NOTIFY) !== 0) attr.enSqdAsyncNotify = false;
  if ((mask & M.ACCESS_FLAGS) !== 0) attr.qpAccessFlags = values.accessFlags ?? 0;
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
  if ((mask & M.DEST_QPN) !== 0) attr.destQpNum = values.destQpNum;
  return attr;
}
