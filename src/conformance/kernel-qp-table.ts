/**
 * Test oracle: an independent transcription of the Linux kernel's QP state
 * transition table, restricted to QP type RC (IB_QPT_RC).
 *
 * Source (read through the stored public GitHub index, not the project's model):
 *   - drivers/infiniband/core/verbs.c, `qp_state_table` and `ib_modify_qp_is_ok()`
 *       repo gregkh/linux, commit 253c2ed71a532c70fa0e64317ceb02bb1a50c84c (6.x era:
 *       `bool ib_modify_qp_is_ok(cur, next, type, mask)`, no link-layer argument).
 *       Cross-checked against torvalds/linux @ 009f773836513960d3982e80c86e266d25528563
 *       (~v4.4: `int ib_modify_qp_is_ok(..., ll)` plus a cur/next range check) and a
 *       ~v3.14 copy with `req_param_add_eth`/`opt_param_add_eth`; the IB_QPT_RC
 *       req/opt entries are identical in all three (RoCE add_eth extras aside).
 *   - include/rdma/ib_verbs.h, `enum ib_qp_attr_mask`, `enum ib_qp_state`
 *       repo gregkh/linux, commit 00d2e313a0255c65088f12da2fd8bae1619d2654
 *   - libibverbs/verbs.h, `enum ibv_qp_attr_mask`
 *       repo linux-rdma/rdma-core, commit 00b335ca30c62282efda76304630a06397642d0f
 *       (bit values equal the kernel's; bits 21..24 are kernel IB_QP_RESERVED1..4 /
 *       old SMAC/ALT_SMAC/VID/ALT_VID, never exposed by libibverbs).
 */

/** `enum ib_qp_state` order (IB_QPS_RESET = 0 ... IB_QPS_ERR = 6). */
export const KERNEL_QP_STATES = ['RESET', 'INIT', 'RTR', 'RTS', 'SQD', 'SQE', 'ERR'] as const;
export type KernelQpState = (typeof KERNEL_QP_STATES)[number];

/** `enum ibv_qp_attr_mask` (== `enum ib_qp_attr_mask`) without the IBV_QP_ prefix. */
export const KERNEL_MASK_BITS = {
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
export type KernelMaskBit = keyof typeof KERNEL_MASK_BITS;

const B = KERNEL_MASK_BITS;

export interface KernelTransition {
  readonly req: number;
  readonly opt: number;
}

/**
 * `qp_state_table[cur][next]` for IB_QPT_RC. A pair is present iff the kernel
 * sets `.valid = 1`; req/opt are the `[IB_QPT_RC]` entries (0 where the kernel
 * lists none). Note SQE->RTS is valid but has no RC entry (req = opt = 0), and
 * RESET->ERR is NOT in the table. IB_QP_RATE_LIMIT appears only for
 * IB_QPT_RAW_PACKET (RTR->RTS, RTS->RTS), never for RC.
 */
export const KERNEL_RC_TABLE: {
  readonly [C in KernelQpState]: { readonly [N in KernelQpState]?: KernelTransition };
} = {
  RESET: {
    RESET: { req: 0, opt: 0 },
    INIT: { req: B.PKEY_INDEX | B.PORT | B.ACCESS_FLAGS, opt: 0 },
  },
  INIT: {
    RESET: { req: 0, opt: 0 },
    ERR: { req: 0, opt: 0 },
    INIT: { req: 0, opt: B.PKEY_INDEX | B.PORT | B.ACCESS_FLAGS },
    RTR: {
      req: B.AV | B.PATH_MTU | B.DEST_QPN | B.RQ_PSN | B.MAX_DEST_RD_ATOMIC | B.MIN_RNR_TIMER,
      opt: B.ALT_PATH | B.ACCESS_FLAGS | B.PKEY_INDEX,
    },
  },
  RTR: {
    RESET: { req: 0, opt: 0 },
    ERR: { req: 0, opt: 0 },
    RTS: {
      req: B.TIMEOUT | B.RETRY_CNT | B.RNR_RETRY | B.SQ_PSN | B.MAX_QP_RD_ATOMIC,
      opt: B.CUR_STATE | B.ALT_PATH | B.ACCESS_FLAGS | B.MIN_RNR_TIMER | B.PATH_MIG_STATE,
    },
  },
  RTS: {
    RESET: { req: 0, opt: 0 },
    ERR: { req: 0, opt: 0 },
    RTS: {
      req: 0,
      opt: B.CUR_STATE | B.ACCESS_FLAGS | B.ALT_PATH | B.PATH_MIG_STATE | B.MIN_RNR_TIMER,
    },
    SQD: { req: 0, opt: B.EN_SQD_ASYNC_NOTIFY },
  },
  SQD: {
    RESET: { req: 0, opt: 0 },
    ERR: { req: 0, opt: 0 },
    RTS: {
      req: 0,
      opt: B.CUR_STATE | B.ALT_PATH | B.ACCESS_FLAGS | B.MIN_RNR_TIMER | B.PATH_MIG_STATE,
    },
    SQD: {
      req: 0,
      opt:
        B.PORT | B.AV | B.TIMEOUT | B.RETRY_CNT | B.RNR_RETRY | B.MAX_QP_RD_ATOMIC |
        B.MAX_DEST_RD_ATOMIC | B.ALT_PATH | B.ACCESS_FLAGS | B.PKEY_INDEX |
        B.MIN_RNR_TIMER | B.PATH_MIG_STATE,
    },
  },
  SQE: {
    RESET: { req: 0, opt: 0 },
    ERR: { req: 0, opt: 0 },
    RTS: { req: 0, opt: 0 },
  },
  ERR: {
    RESET: { req: 0, opt: 0 },
    ERR: { req: 0, opt: 0 },
  },
};

/**
 * ib_modify_qp_is_ok(cur, next, IB_QPT_RC, mask), step for step:
 *  1. if CUR_STATE is in mask, `cur` must be RTR, RTS, SQD or SQE;
 *  2. the pair must be valid in the table;
 *  3. every required bit must be in mask;
 *  4. mask must not contain bits outside req | opt | STATE.
 * `cur` is whatever the caller chose (drivers pass the user's claimed
 * cur_qp_state when CUR_STATE is set); `next` is the requested qp_state, or
 * `cur` when STATE is not in mask. Unknown state strings give false (the ~v4.4
 * range check; the 6.x code has no such check and relies on its callers).
 */
export function kernelModifyQpIsOk(cur: KernelQpState, next: KernelQpState, mask: number): boolean {
  if (!KERNEL_QP_STATES.includes(cur) || !KERNEL_QP_STATES.includes(next)) return false;
  if ((mask & B.CUR_STATE) !== 0 && cur !== 'RTR' && cur !== 'RTS' && cur !== 'SQD' && cur !== 'SQE') {
    return false;
  }
  const t = KERNEL_RC_TABLE[cur][next];
  if (t === undefined) return false;
  if ((mask & t.req) !== t.req) return false;
  if ((mask & ~(t.req | t.opt | B.STATE)) !== 0) return false;
  return true;
}
