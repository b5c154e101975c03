import type { QpState } from './qp-modify-table.js';

/**
 * What a post does in each QP state (DESIGN.md §3, libibverbs ibv_post_send(3)/ibv_post_recv(3),
 * rxe's post checks):
 * - `accepted`: queued; executed when the state allows (a send posted in SQD starts after SQD -> RTS,
 *   receives posted in INIT wait for RTR);
 * - `refused`: the call fails with EINVAL and nothing is queued;
 * - `flushed`: queued and completed with WR_FLUSH_ERR, in posting order.
 */
export type PostVerdict = 'accepted' | 'refused' | 'flushed';

export interface PostAdmission {
  readonly postSend: PostVerdict;
  readonly postRecv: PostVerdict;
}

export const QP_POST_ADMISSION: Readonly<Record<QpState, PostAdmission>> = {
  RESET: { postSend: 'refused', postRecv: 'refused' },
  INIT: { postSend: 'refused', postRecv: 'accepted' },
  RTR: { postSend: 'refused', postRecv: 'accepted' },
  RTS: { postSend: 'accepted', postRecv: 'accepted' },
  SQD: { postSend: 'accepted', postRecv: 'accepted' },
  // IB spec 10.3.1: in SQE the send queue completes new WRs in error; receives go on.
  SQE: { postSend: 'flushed', postRecv: 'accepted' },
  ERR: { postSend: 'flushed', postRecv: 'flushed' },
};
