/**
 * The definitions of spec/QpTables.tla, read from the TLA+ text itself, so that everything in
 * TypeScript that plays the spec (the transliteration, the trace checker) uses exactly the tables
 * the spec uses. QpTables.tla is generated from machines/ and checked for freshness.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRec, isSeq, isSet, parseTlaValue, type TlaValue } from './tla-value.js';
import { SPEC_DIR } from './paths.js';

export interface QpTables {
  readonly QpStates: readonly string[];
  readonly ModifyPairs: ReadonlySet<string>;
  readonly ModifyTargets: Readonly<Record<string, readonly string[]>>;
  readonly PostSendVerdict: Readonly<Record<string, string>>;
  readonly PostRecvVerdict: Readonly<Record<string, string>>;
  readonly QpMachineSteps: ReadonlySet<string>;
  readonly QpErrorEvents: readonly string[];
  modifyAllowed(from: string, to: string): boolean;
  machineHasStep(from: string, event: string, to: string): boolean;
}

/** `Name == value` definitions of a module that consists of constant definitions only. */
export function readDefinitions(text: string): Map<string, TlaValue> {
  const body = text
    .split('\n')
    .filter((line) => !/^\s*\\\*/.test(line) && !/^-{4,}|^={4,}/.test(line))
    .join('\n')
    .replace(/\(\*[\s\S]*?\*\)/g, '');
  const defs = new Map<string, TlaValue>();
  const re = /^([A-Za-z_][A-Za-z0-9_]*)\s*==/gm;
  const heads = [...body.matchAll(re)];
  heads.forEach((m, i) => {
    const start = (m.index ?? 0) + m[0].length;
    const end = i + 1 < heads.length ? (heads[i + 1]!.index ?? body.length) : body.length;
    defs.set(m[1]!, parseTlaValue(body.slice(start, end).trim()));
  });
  return defs;
}

const strings = (v: TlaValue | undefined, what: string): string[] => {
  if (v === undefined || !(isSet(v) || isSeq(v))) throw new Error(`QpTables: ${what} is not a set`);
  const xs = isSet(v) ? v.set : v.seq;
  return xs.map((x) => {
    if (typeof x !== 'string') throw new Error(`QpTables: ${what} holds a non-string`);
    return x;
  });
};

const tuples = (v: TlaValue | undefined, what: string): string[][] => {
  if (v === undefined || !isSet(v)) throw new Error(`QpTables: ${what} is not a set`);
  return v.set.map((t) => strings(t, what));
};

const record = (v: TlaValue | undefined, what: string): Record<string, TlaValue> => {
  if (v === undefined || !isRec(v)) throw new Error(`QpTables: ${what} is not a record`);
  return { ...v.rec };
};

export function parseQpTables(text: string): QpTables {
  const defs = readDefinitions(text);
  const pairs = tuples(defs.get('ModifyPairs'), 'ModifyPairs');
  const steps = tuples(defs.get('QpMachineSteps'), 'QpMachineSteps');
  const verdicts = (name: string) =>
    Object.fromEntries(Object.entries(record(defs.get(name), name)).map(([k, v]) => [k, String(v)]));
  const targets = Object.fromEntries(Object.entries(record(defs.get('ModifyTargets'), 'ModifyTargets')).map(([k, v]) => [k, strings(v, 'ModifyTargets')]));
  const pairSet = new Set(pairs.map((p) => p.join('|')));
  const stepSet = new Set(steps.map((s) => s.join('|')));
  return {
    QpStates: strings(defs.get('QpStates'), 'QpStates'),
    ModifyPairs: pairSet,
    ModifyTargets: targets,
    PostSendVerdict: verdicts('PostSendVerdict'),
    PostRecvVerdict: verdicts('PostRecvVerdict'),
    QpMachineSteps: stepSet,
    QpErrorEvents: strings(defs.get('QpErrorEvents'), 'QpErrorEvents'),
    modifyAllowed: (from, to) => pairSet.has(`${from}|${to}`),
    machineHasStep: (from, event, to) => stepSet.has(`${from}|${event}|${to}`),
  };
}

let cached: QpTables | undefined;

/** The tables of the committed spec/QpTables.tla. */
export function loadQpTables(): QpTables {
  cached ??= parseQpTables(readFileSync(join(SPEC_DIR, 'QpTables.tla'), 'utf8'));
  return cached;
}
