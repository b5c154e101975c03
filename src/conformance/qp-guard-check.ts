import { createActor, type AnyMachineSnapshot } from 'xstate';
import { QpAttrMask, maskToString } from '../../machines/qp-attr-mask.js';
import { QP_STATES, checkModify, findModifyRule, type QpState } from '../../machines/qp-modify-table.js';
import { qpMachine } from '../../machines/qp.machine.js';
import { KERNEL_RC_TABLE, kernelModifyQpIsOk } from './kernel-qp-table.js';

export interface GuardMismatch {
  readonly current: QpState;
  readonly next: QpState;
  readonly mask: number;
  readonly model: boolean;
  readonly kernel: boolean;
}

export interface GuardComparison {
  readonly checked: number;
  readonly mismatches: readonly GuardMismatch[];
}

const MAX_REPORTED = 20;
const ALL_BITS = Array.from({ length: 32 }, (_, bit) => (1 << bit) >>> 0);

/** The bits either table lets matter for a pair, plus STATE and CUR_STATE. */
function relevantBits(current: QpState, next: QpState): number[] {
  const ours = findModifyRule(current, next);
  const kernel = KERNEL_RC_TABLE[current][next];
  const relevant = QpAttrMask.STATE | QpAttrMask.CUR_STATE | (ours ? ours.required | ours.optional : 0) | (kernel ? kernel.req | kernel.opt : 0);
  return ALL_BITS.filter((bit) => (relevant & bit) !== 0);
}

/**
 * Every (current, next, mask) class: each subset of the pair's relevant bits, alone and with each
 * one of the 32 - |relevant| other bits added (unknown and reserved bits included).
 */
export function* maskClasses(current: QpState, next: QpState): Generator<number> {
  const relevant = relevantBits(current, next);
  const others = ALL_BITS.filter((bit) => !relevant.includes(bit));
  for (let subset = 0; subset < 1 << relevant.length; subset++) {
    let mask = 0;
    relevant.forEach((bit, i) => { if ((subset & (1 << i)) !== 0) mask |= bit; });
    yield mask >>> 0;
    for (const other of others) yield (mask | other) >>> 0;
  }
}

export type ModifyGuard = (current: QpState, next: QpState, mask: number) => boolean;
const modelGuard: ModifyGuard = (current, next, mask) => checkModify(current, next, mask).ok;

/** The model's pure guard against the independent kernel transcription, over all mask classes. */
export function compareGuardWithKernel(
  onPair?: (done: number, total: number) => void,
  guard: ModifyGuard = modelGuard,
): GuardComparison {
  const mismatches: GuardMismatch[] = [];
  let checked = 0;
  const pairs = QP_STATES.flatMap((current) => QP_STATES.map((next) => [current, next] as const));
  pairs.forEach(([current, next], i) => {
    for (const mask of maskClasses(current, next)) {
      checked++;
      const model = guard(current, next, mask);
      const kernel = kernelModifyQpIsOk(current, next, mask);
      if (model !== kernel && mismatches.length < MAX_REPORTED) mismatches.push({ current, next, mask, model, kernel });
    }
    onPair?.(i + 1, pairs.length);
  });
  return { checked, mismatches };
}

/** A new QP machine snapshot put into `state` (the way a test puts a QP there). */
export function qpSnapshotIn(state: QpState): AnyMachineSnapshot {
  const initial = createActor(qpMachine, { input: { qpType: 'RC' } }).getSnapshot();
  return qpMachine.resolveState({ value: state, context: initial.context }) as AnyMachineSnapshot;
}

/** Sends one MODIFY to a QP machine in `current` and reads back where it went. */
export function machineModify(current: QpState, next: QpState, mask: number): { state: QpState; accepted: boolean } {
  const actor = createActor(qpMachine, { input: { qpType: 'RC' }, snapshot: qpSnapshotIn(current) });
  actor.start();
  actor.send({ type: 'MODIFY', attr: { qpState: next, curQpState: current }, mask });
  const snapshot = actor.getSnapshot();
  actor.stop();
  const value = snapshot.value as string | Record<string, unknown>;
  const state = (typeof value === 'string' ? value : Object.keys(value)[0]) as QpState;
  return { state, accepted: snapshot.context.lastModify?.ok === true };
}

/**
 * The machine itself (not only its guard function) on the masks that decide a pair: the required
 * set, each required bit dropped, each optional bit added, each foreign bit added, CUR_STATE added.
 */
export function decisiveMasks(current: QpState, next: QpState): number[] {
  const kernel = KERNEL_RC_TABLE[current][next];
  const required = kernel?.req ?? 0;
  const optional = kernel?.opt ?? 0;
  const stateBit = current === next ? 0 : QpAttrMask.STATE;
  const base = (stateBit | required) >>> 0;
  const masks = new Set<number>([base, (base | QpAttrMask.STATE) >>> 0, (base | QpAttrMask.CUR_STATE) >>> 0, (base | optional) >>> 0]);
  for (const bit of ALL_BITS) {
    if ((required & bit) !== 0) masks.add((base & ~bit) >>> 0);
    else masks.add((base | bit) >>> 0);
  }
  return [...masks];
}

export function compareMachineWithKernel(): GuardComparison {
  const mismatches: GuardMismatch[] = [];
  let checked = 0;
  for (const current of QP_STATES) {
    for (const next of QP_STATES) {
      for (const mask of decisiveMasks(current, next)) {
        checked++;
        // Without the STATE bit the kernel's callers ask for the current state.
        const asked = (mask & QpAttrMask.STATE) !== 0 ? next : current;
        const kernel = kernelModifyQpIsOk(current, asked, mask);
        const outcome = machineModify(current, next, mask);
        const model = outcome.accepted && outcome.state === (kernel ? asked : current);
        const consistent = outcome.accepted === kernel && outcome.state === (kernel ? asked : current);
        if (!consistent && mismatches.length < MAX_REPORTED) mismatches.push({ current, next, mask, model, kernel });
      }
    }
  }
  return { checked, mismatches };
}

export function describeMismatch(m: GuardMismatch): string {
  return `${m.current} -> ${m.next} mask ${maskToString(m.mask)}: model ${m.model ? 'accepts' : 'rejects'}, kernel ${m.kernel ? 'accepts' : 'rejects'}`;
}
