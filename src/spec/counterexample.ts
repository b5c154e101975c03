/**
 * A counterexample as a person reads it: numbered steps, each with the action that takes it (found
 * by asking the TypeScript transliteration which of its actions leads from one state to the next)
 * and only the variables it changes, endpoint by endpoint.
 */
import { canonical, isRec, type TlaValue } from './tla-value.js';
import { fromTla, stateKey, type RcVerbsModel } from './model.js';
import type { SpecVars } from './tla-checker.js';

/** "var = value" for every variable, or only for the parts that differ from `before`. */
function changes(before: SpecVars | null, after: SpecVars): string[] {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(after)) {
    const old = before?.[name];
    if (old !== undefined && canonical(old) === canonical(value)) continue;
    if (old !== undefined && isRec(value) && isRec(old) && Object.keys(value.rec).every((k) => k === 'A' || k === 'B')) {
      for (const [ep, v] of Object.entries(value.rec)) {
        const o = old.rec[ep];
        if (o === undefined || canonical(o) !== canonical(v as TlaValue)) lines.push(`${name}.${ep} = ${canonical(v as TlaValue)}`);
      }
      continue;
    }
    lines.push(`${name} = ${canonical(value)}`);
  }
  return lines;
}

/** The action of the transliteration that leads from `from` to `to`, e.g. "RecvAck(A)". */
function actionBetween(model: RcVerbsModel, from: SpecVars, to: SpecVars): string | null {
  try {
    const target = stateKey(fromTla(to));
    const step = model.next(fromTla(from)).find((t) => stateKey(t.state) === target);
    if (step === undefined) return null;
    const args = Object.entries(step.args).map(([k, v]) => `${k}=${String(v)}`);
    const params = [...(step.ep === null ? [] : [step.ep]), ...args];
    return `${step.action}(${params.join(', ')})`;
  } catch {
    return null;
  }
}

export function formatCounterexample(model: RcVerbsModel, trace: readonly SpecVars[], violated: string | null, loopStart: number | null = null): string {
  const out: string[] = [`counterexample (${trace.length} states)${violated === null ? '' : `: ${violated} is violated`}`];
  trace.forEach((state, i) => {
    if (i === loopStart) out.push('  -- from here the behaviour repeats forever (back to the state before this line) --');
    const before = i === 0 ? null : trace[i - 1]!;
    const action = i === 0 ? 'Init' : actionBetween(model, before!, state) ?? 'a step the TypeScript model does not take';
    out.push(`  ${String(i + 1).padStart(2)}. ${action}`);
    for (const line of changes(before, state)) out.push(`        ${line}`);
  });
  if (violated !== null) {
    out.push(loopStart === null ? `  state ${trace.length} breaks ${violated}` : `  a fair behaviour that never satisfies ${violated}`);
  }
  return out.join('\n');
}
