/**
 * IBV_QP_* attribute-mask bits with libibverbs' numeric values (rdma-core libibverbs/verbs.h,
 * `enum ibv_qp_attr_mask`; identical to the kernel's `enum ib_qp_attr_mask`). The machines keep
 * their own copy so that they never import from `src/`.
 */
export const QpAttrMask = {
  STATE: 1 << 0,
  CUR_STATE: 1 << 1,
  EN_SQD_ASYNC_NOTIFY: 1 << 2,
  ACCESS_FLAGS: 1 << 3,
  PKEY_INDEX: 1 << 4,
  PORT: 1 << 5,
  QKEY: 1 << 6,
  AV: 1 << 7,
  PATH_MTU: 1 << 8,
  TIMEOUT: 1 << 9,
  RETRY_CNT: 1 << 10,
  RNR_RETRY: 1 << 11,
  RQ_PSN: 1 << 12,
  MAX_QP_RD_ATOMIC: 1 << 13,
  ALT_PATH: 1 << 14,
  MIN_RNR_TIMER: 1 << 15,
  SQ_PSN: 1 << 16,
  MAX_DEST_RD_ATOMIC: 1 << 17,
  PATH_MIG_STATE: 1 << 18,
  CAP: 1 << 19,
  DEST_QPN: 1 << 20,
  RATE_LIMIT: 1 << 25,
} as const;

export type QpAttrMaskName = keyof typeof QpAttrMask;

const MASK_NAMES = Object.keys(QpAttrMask) as QpAttrMaskName[];

/** Every bit libibverbs defines; anything else in a mask is unknown. */
export const KNOWN_MASK_BITS: number = MASK_NAMES.reduce((all, name) => all | QpAttrMask[name], 0);

/** `STATE|AV|...` for messages and diagrams; unknown bits are shown as `0x...`. */
export function maskToString(mask: number): string {
  const names = MASK_NAMES.filter((name) => (mask & QpAttrMask[name]) !== 0);
  const unknown = (mask & ~KNOWN_MASK_BITS) >>> 0;
  if (unknown !== 0) names.push(`0x${unknown.toString(16)}` as QpAttrMaskName);
  return names.length === 0 ? '0' : names.join('|');
}

export function maskOf(...names: QpAttrMaskName[]): number {
  return names.reduce((mask, name) => mask | QpAttrMask[name], 0);
}
