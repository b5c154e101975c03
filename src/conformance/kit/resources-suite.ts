import { outcomeOf as outcome, type AdapterClient } from './adapter-client.js';
import { failure, type CaseResult } from './cases.js';

export const RESOURCES_GROUP = 'resources';

type R = Record<string, unknown>;
const ACCESS = { LOCAL_WRITE: 1, REMOTE_WRITE: 2, REMOTE_READ: 4, REMOTE_ATOMIC: 8 } as const;
const REG_RULE = 'ibv_reg_mr(3): REMOTE_WRITE or REMOTE_ATOMIC without LOCAL_WRITE is EINVAL';
const BUSY_RULE = 'libibverbs/uverbs: an object still in use by another cannot be destroyed (EBUSY), and stays usable';

const names = (access: number) => (Object.keys(ACCESS) as (keyof typeof ACCESS)[]).filter((n) => (access & ACCESS[n]) !== 0).join('|') || 'none';

/**
 * Object lifetimes and registration rules on one endpoint: every combination of the four access
 * flags at ibv_reg_mr, a second dereg, and EBUSY for a PD with an MR, a CQ with a QP, a completion
 * channel with a CQ — each object still usable after the refusal and destroyable once freed.
 */
export async function runResourcesSuite(iut: AdapterClient, record: (result: CaseResult) => void): Promise<void> {
  const { context } = await iut.request('openDevice', {}) as R;
  const { pd } = await iut.request('allocPd', { context }) as R;
  const judge = (name: string, ok: boolean, did: string, expected: string, got: string, rule: string) =>
    record(ok ? { name, group: RESOURCES_GROUP, status: 'passed' } : { name, group: RESOURCES_GROUP, status: 'failed', message: failure(did, expected, got, rule) });

  for (let access = 0; access < 16; access++) {
    const valid = (access & (ACCESS.REMOTE_WRITE | ACCESS.REMOTE_ATOMIC)) === 0 || (access & ACCESS.LOCAL_WRITE) !== 0;
    let mr: string | undefined;
    const got = await outcome(iut.request('regMr', { pd, length: 64, access }).then((r) => { mr = (r as R).mr as string; }));
    judge(`regMr access ${names(access)}`, valid ? got === 'ok' : got === 'EINVAL', `regMr(64 bytes, access ${names(access)})`, valid ? 'registered' : 'EINVAL', got === 'ok' ? 'registered' : got, REG_RULE);
    if (mr !== undefined) await iut.request('deregMr', { mr });
  }

  const { mr } = await iut.request('regMr', { pd, length: 64, access: ACCESS.LOCAL_WRITE }) as R;
  const pdBusy = await outcome(iut.request('deallocPd', { pd }));
  judge('deallocPd with a live MR', pdBusy === 'EBUSY', 'deallocPd on a PD that holds an MR', 'EBUSY', pdBusy, BUSY_RULE);
  await iut.request('deregMr', { mr });
  const second = await outcome(iut.request('deregMr', { mr }));
  judge('deregMr twice', second !== 'ok', 'deregMr on an MR already deregistered', 'an error (the MR is gone)', second, 'ibv_dereg_mr(3): a deregistered MR is gone');

  const { channel } = await iut.request('createCompChannel', { context }) as R;
  const { cq } = await iut.request('createCq', { context, cqe: 4, channel }) as R;
  const { qp } = await iut.request('createQp', { pd, qpType: 'RC', sendCq: cq, recvCq: cq, cap: { maxSendWr: 1, maxRecvWr: 1 } }) as R;
  const cqBusy = await outcome(iut.request('destroyCq', { cq }));
  judge('destroyCq with a QP', cqBusy === 'EBUSY', 'destroyCq on a CQ a QP completes into', 'EBUSY', cqBusy, BUSY_RULE);
  const channelBusy = await outcome(iut.request('destroyCompChannel', { channel }));
  judge('destroyCompChannel with a CQ', channelBusy === 'EBUSY', 'destroyCompChannel on a channel a CQ uses', 'EBUSY', channelBusy, BUSY_RULE);
  const pdWithQp = await outcome(iut.request('deallocPd', { pd }));
  judge('deallocPd with a live QP', pdWithQp === 'EBUSY', 'deallocPd on a PD that holds a QP', 'EBUSY', pdWithQp, BUSY_RULE);
  let returned = 0;
  const none = await outcome(iut.request('pollCq', { cq, max: 0 }).then((r) => { returned = (r as { wcs: unknown[] }).wcs.length; }));
  judge('pollCq with max 0 returns nothing', none === 'ok' && returned === 0, 'pollCq(max 0) on an empty CQ', 'ok, no completions', none === 'ok' ? `${returned} completions` : none, 'ibv_poll_cq(3): num_entries is the most to return; 0 returns 0');
  const polled = await outcome(iut.request('pollCq', { cq, max: 1 }));
  judge('a CQ refused destruction still polls', polled === 'ok', 'pollCq on the CQ after the refused destroy', 'ok', polled, BUSY_RULE);
  const inOrder = [await outcome(iut.request('destroyQp', { qp })), await outcome(iut.request('destroyCq', { cq })), await outcome(iut.request('destroyCompChannel', { channel })), await outcome(iut.request('deallocPd', { pd }))];
  judge('freed in order, everything is destroyed', inOrder.every((o) => o === 'ok'), 'destroyQp, destroyCq, destroyCompChannel, deallocPd', 'all ok', inOrder.join(', '), BUSY_RULE);

  // What the device reports is what it takes: a QP at the queried limits; port 0 does not exist.
  const device = await iut.request('queryDevice', { context }) as R;
  const { pd: pd2 } = await iut.request('allocPd', { context }) as R;
  const { cq: cq2 } = await iut.request('createCq', { context, cqe: 4 }) as R;
  const cap = { maxSendWr: Number(device.maxQpWr), maxRecvWr: Number(device.maxQpWr), maxSendSge: Number(device.maxSge), maxRecvSge: Number(device.maxSge) };
  let atLimits: string | undefined;
  const created = await outcome(iut.request('createQp', { pd: pd2, qpType: 'RC', sendCq: cq2, recvCq: cq2, cap }).then((r) => { atLimits = (r as R).qp as string; }));
  judge('createQp at the limits queryDevice reports', created === 'ok', `createQp with cap ${JSON.stringify(cap)} (queryDevice's max_qp_wr and max_sge)`, 'created', created, 'ibv_query_device(3): max_qp_wr and max_sge are what a QP may ask for');
  if (atLimits !== undefined) await iut.request('destroyQp', { qp: atLimits });
  const over = await outcome(iut.request('createQp', { pd: pd2, qpType: 'RC', sendCq: cq2, recvCq: cq2, cap: { ...cap, maxSendWr: cap.maxSendWr + 1 } }));
  judge('createQp past max_qp_wr is refused', over !== 'ok', 'createQp with maxSendWr one above max_qp_wr', 'refused (EINVAL)', over, 'ibv_create_qp(3): capabilities above the device\'s are refused');
  const port0 = await outcome(iut.request('queryPort', { context, portNum: 0 }));
  judge('queryPort 0 is refused', port0 !== 'ok', 'queryPort(port 0)', 'refused (EINVAL): ports are numbered from 1', port0, 'ibv_query_port(3): port_num 1 is the first port');
  const { context: other } = await iut.request('openDevice', {}) as R;
  const { cq: foreign } = await iut.request('createCq', { context: other, cqe: 4 }) as R;
  const mixed = await outcome(iut.request('createQp', { pd: pd2, qpType: 'RC', sendCq: foreign, recvCq: foreign, cap: { maxSendWr: 1, maxRecvWr: 1 } }));
  judge('createQp with a CQ of another context is refused', mixed !== 'ok', 'createQp in one context with the CQs of another', 'refused (EINVAL)', mixed, 'ibv_create_qp(3), uverbs: a QP\'s CQs belong to its own context');
  await iut.request('closeDevice', { context: other });
  await iut.request('closeDevice', { context });
}
