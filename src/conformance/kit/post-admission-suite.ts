import { QP_POST_ADMISSION, type PostVerdict } from '../../../machines/qp-post-admission.js';
import type { QpState } from '../../../machines/qp-modify-table.js';
import { AdapterRefused, type AdapterClient } from './adapter-client.js';
import { failure, type CaseResult, type Coverage } from './cases.js';
import { IutFixture } from './iut-fixture.js';
import { pollCqUntil } from './poll-cq.js';

export const POST_ADMISSION_GROUP = 'post-admission';

const STATES: readonly QpState[] = ['RESET', 'INIT', 'RTR', 'RTS', 'SQD', 'ERR'];
/** How long a flushed WR may take to show up in the CQ. */
const FLUSH_WAIT_MS = 2000;

const RULE: Record<PostVerdict, string> = {
  refused: 'ibv_post_send(3)/ibv_post_recv(3), rxe: a post in this state fails with EINVAL and queues nothing',
  accepted: 'ibv_post_send(3)/ibv_post_recv(3): a post in this state is queued',
  flushed: 'IB RC (rxe): a WR posted in ERR is accepted and completes with WR_FLUSH_ERR, in posting order',
};

/**
 * What post_send and post_recv do in every state (machines/qp-post-admission.ts): refused with
 * EINVAL (badWr 0, nothing queued), accepted, or accepted and flushed. Two WRs per post, so that
 * flushed ones must also come back in posting order.
 */
export async function runPostAdmissionSuite(iut: AdapterClient, coverage: Coverage, record: (result: CaseResult) => void): Promise<void> {
  const fx = await IutFixture.open(iut);
  let wrId = 1000;
  for (const state of STATES) {
    for (const queue of ['send', 'recv'] as const) {
      const verdict = QP_POST_ADMISSION[state][queue === 'send' ? 'postSend' : 'postRecv'];
      const name = `post_${queue} in ${state}`;
      const { qp } = await fx.qpIn(state);
      const ids = [String(wrId++), String(wrId++)];
      const wrs = queue === 'send' ? ids.map((id) => ({ wrId: id, opcode: 'SEND', sendFlags: 2, sgList: [] })) : ids.map((id) => ({ wrId: id, sgList: [] }));
      const did = `post_${queue} of WRs ${ids.join(', ')} on a QP in ${state}`;
      const expected = verdict === 'refused' ? 'refused with EINVAL and badWr 0' : verdict === 'accepted' ? 'accepted' : `accepted, then WRs ${ids.join(', ')} complete with WR_FLUSH_ERR in that order`;
      let got: string;
      let ok: boolean;
      try {
        await iut.request(queue === 'send' ? 'postSend' : 'postRecv', { qp, wrs });
        got = 'accepted';
        ok = verdict !== 'refused';
        if (ok && verdict === 'flushed') {
          const overflows: string[] = [];
          const wcs = await pollCqUntil(iut, fx.cq, ids.length, FLUSH_WAIT_MS, (problem) => overflows.push(problem));
          for (const wc of wcs) coverage.wcStatuses.add(wc.status as string);
          got = `accepted, then ${wcs.map((wc) => `${wc.wrId}:${wc.status}`).join(', ') || 'no completion'}`;
          ok = overflows.length === 0 && wcs.length === ids.length && wcs.every((wc, i) => wc.wrId === ids[i] && wc.status === 'WR_FLUSH_ERR');
          if (overflows.length > 0) got += `; ${overflows.join('; ')}`;
        }
      } catch (error) {
        if (!(error instanceof AdapterRefused)) throw error;
        got = `refused with ${error.errno} (badWr ${error.badWr ?? 'none'}): ${error.message}`;
        ok = verdict === 'refused' && error.errno === 'EINVAL' && error.badWr === 0;
      }
      record(ok ? { name, group: POST_ADMISSION_GROUP, status: 'passed' } : { name, group: POST_ADMISSION_GROUP, status: 'failed', message: failure(did, expected, got, RULE[verdict]) });
      await iut.request('destroyQp', { qp });
    }
  }
  await fx.close();
}

