import { QpAttrMask as M } from '../../../machines/qp-attr-mask.js';
import type { QpState } from '../../../machines/qp-modify-table.js';
import { AdapterRefused, type AdapterClient } from './adapter-client.js';
import { failure, type CaseResult, type Coverage } from './cases.js';
import { IutFixture } from './iut-fixture.js';
import { INIT_MASK, RTR_MASK, RTS_MASK } from './qp-attrs.js';

export const ATTR_VALUES_GROUP = 'attr-values';

type R = Record<string, unknown>;
const RANGE_RULE = 'ibv_modify_qp(3), IB spec 9.7.5.2.8 and 10.2.5 (rxe_qp_chk_attr, qp_state_table): retry_cnt and rnr_retry are 3-bit fields (0..7), timeout and min_rnr_timer 5-bit (0..31), path_mtu an IB MTU (256..4096), port_num an existing port, max_rd_atomic and max_dest_rd_atomic at most the device\'s; a value outside is EINVAL and changes nothing';
const MASK_RULE = 'ibv_modify_qp(3): only the attributes the mask names are modified; the others keep their values';

interface ValueCase {
  readonly from: QpState;
  readonly to: QpState;
  readonly mask: number;
  readonly field: string;
  readonly value: (device: R) => number;
  readonly valid: boolean;
}

/** The IB MTUs (enum ibv_mtu) in bytes, as the adapter protocol gives path_mtu. */
const MTU_CASES: readonly [number, boolean][] = [[256, true], [4096, true], [1000, false], [8192, false]];

const CASES: readonly ValueCase[] = [
  ...[[7, true], [8, false]].flatMap(([value, valid]) => [
    { from: 'RTR' as const, to: 'RTS' as const, mask: RTS_MASK, field: 'retryCnt', value: () => value as number, valid: valid as boolean },
    { from: 'RTR' as const, to: 'RTS' as const, mask: RTS_MASK, field: 'rnrRetry', value: () => value as number, valid: valid as boolean },
  ]),
  ...[[31, true], [32, false]].flatMap(([value, valid]) => [
    { from: 'RTR' as const, to: 'RTS' as const, mask: RTS_MASK, field: 'timeout', value: () => value as number, valid: valid as boolean },
    { from: 'INIT' as const, to: 'RTR' as const, mask: RTR_MASK, field: 'minRnrTimer', value: () => value as number, valid: valid as boolean },
  ]),
  ...MTU_CASES.map(([value, valid]) => ({ from: 'INIT' as const, to: 'RTR' as const, mask: RTR_MASK, field: 'pathMtu', value: () => value, valid })),
  { from: 'RESET', to: 'INIT', mask: INIT_MASK, field: 'portNum', value: () => 0, valid: false },
  { from: 'RESET', to: 'INIT', mask: INIT_MASK, field: 'portNum', value: (d) => Number(d.physPortCnt ?? 1) + 1, valid: false },
  { from: 'RTR', to: 'RTS', mask: RTS_MASK, field: 'maxRdAtomic', value: (d) => Number(d.maxQpInitRdAtom ?? d.maxQpRdAtom ?? 16) + 1, valid: false },
  { from: 'INIT', to: 'RTR', mask: RTR_MASK, field: 'maxDestRdAtomic', value: (d) => Number(d.maxQpRdAtom ?? 16) + 1, valid: false },
];

/**
 * Attribute values, where qp-modify checks masks: each u8 attribute at the last valid value and
 * the first invalid one (EINVAL, the QP unchanged), and a modify that carries attributes its mask
 * does not name (they must not be applied).
 */
export async function runAttrValuesSuite(iut: AdapterClient, coverage: Coverage, record: (result: CaseResult) => void): Promise<void> {
  const fx = await IutFixture.open(iut);
  const device = await iut.request('queryDevice', { context: fx.context }) as R;
  for (const c of CASES) {
    const value = c.value(device);
    const name = `${c.from}→${c.to} ${c.field} ${value}`;
    const { qp } = await fx.qpIn(c.from);
    const attr = { ...await fx.attrFor(c.from, c.to, c.mask), [c.field]: value };
    let got: string;
    let ok: boolean;
    try {
      await iut.request('modifyQp', { qp, attr, mask: c.mask });
      const state = await fx.state(qp);
      got = `accepted, QP now ${state}`;
      ok = c.valid && state === c.to;
    } catch (error) {
      if (!(error instanceof AdapterRefused)) throw error;
      const state = await fx.state(qp);
      got = `refused with ${error.errno} (${error.message}), QP now ${state}`;
      ok = !c.valid && error.errno === 'EINVAL' && state === c.from;
    }
    coverage.qpStates.add(c.to);
    record(ok ? { name, group: ATTR_VALUES_GROUP, status: 'passed' } : {
      name, group: ATTR_VALUES_GROUP, status: 'failed',
      message: failure(`modifyQp(${c.from}→${c.to}) with ${c.field} ${value}`, c.valid ? `accepted, QP now ${c.to}` : `refused with EINVAL, QP still ${c.from}`, got, RANGE_RULE),
    });
    await iut.request('destroyQp', { qp });
  }

  // What was set is what queryQp reports, field by field.
  {
    const name = 'queryQp reports the attributes the connection set';
    const { qp } = await fx.qpIn('RTR');
    const set = { timeout: 17, retryCnt: 5, rnrRetry: 3, sqPsn: 0x1234, maxRdAtomic: 1 };
    await iut.request('modifyQp', { qp, attr: { ...await fx.attrFor('RTR', 'RTS', RTS_MASK), ...set }, mask: RTS_MASK });
    const got = await iut.request('queryQp', { qp }) as R;
    const wrong = Object.entries(set).filter(([field, value]) => got[field] !== undefined && got[field] !== value).map(([field, value]) => `${field} ${String(got[field])} (set ${value})`);
    const absent = Object.keys(set).filter((field) => got[field] === undefined);
    record(wrong.length === 0 && absent.length < Object.keys(set).length ? { name, group: ATTR_VALUES_GROUP, status: 'passed' } : {
      name, group: ATTR_VALUES_GROUP, status: 'failed',
      message: failure(`modifyQp(RTR→RTS) with ${JSON.stringify(set)}, then queryQp`, 'the same values', wrong.length > 0 ? wrong.join(', ') : 'none of them reported', 'ibv_query_qp(3): the attributes are the QP\'s current ones'),
    });
    await iut.request('destroyQp', { qp });
  }

  // RTS→RTS names MIN_RNR_TIMER only, but carries other attributes too: those must keep their values.
  const name = 'RTS→RTS: attributes outside the mask are not applied';
  const { qp } = await fx.qpIn('RTS');
  const before = await iut.request('queryQp', { qp }) as R;
  await iut.request('modifyQp', { qp, attr: { minRnrTimer: 3, timeout: 3, retryCnt: 1, rnrRetry: 1, qpAccessFlags: 0 }, mask: M.MIN_RNR_TIMER });
  const after = await iut.request('queryQp', { qp }) as R;
  const changed = ['timeout', 'retryCnt', 'rnrRetry', 'qpAccessFlags'].filter((f) => before[f] !== undefined && after[f] !== before[f]).map((f) => `${f} ${String(before[f])} → ${String(after[f])}`);
  if (after.minRnrTimer !== undefined && after.minRnrTimer !== 3) changed.push(`minRnrTimer ${String(after.minRnrTimer)} (asked 3)`);
  record(changed.length === 0 ? { name, group: ATTR_VALUES_GROUP, status: 'passed' } : {
    name, group: ATTR_VALUES_GROUP, status: 'failed',
    message: failure('modifyQp(RTS→RTS, mask MIN_RNR_TIMER) with minRnrTimer 3 and timeout, retryCnt, rnrRetry, qpAccessFlags also set', 'only minRnrTimer changed (queryQp)', changed.join(', '), MASK_RULE),
  });
  await iut.request('destroyQp', { qp });
  await fx.close();
}
