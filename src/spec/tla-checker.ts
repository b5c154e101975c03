/**
 * The embedded model checker (npm `tla-checker`, WebAssembly): runs spec/RcVerbs.tla on a TLC
 * config and returns what it found in plain data -- distinct states, the state graph when asked,
 * and a counterexample as a list of states with the name of what it broke.
 *
 * tla-checker reads one module, so QpTables (generated from machines/) is inlined into the
 * source it is given; TLC reads the two files as they are.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { initSync, check_spec_with_options, explore_init, explore_next } from 'tla-checker';
import { fromCheckerJson, parseTlaValue, toCheckerJson, type TlaValue } from './tla-value.js';
import { SPEC_DIR } from './paths.js';
import { parseCfg, type TlcConfig } from './cfg.js';

export const SPEC_MODULE = 'RcVerbs';
export const TABLES_MODULE = 'QpTables';

let initialised = false;
function ensureInitialised(): void {
  if (initialised) return;
  const require = createRequire(import.meta.url);
  const wasmPath = join(require.resolve('tla-checker'), '..', 'tla_checker_bg.wasm');
  initSync({ module: readFileSync(wasmPath) });
  initialised = true;
}

export function readSpecText(): string {
  return readFileSync(join(SPEC_DIR, `${SPEC_MODULE}.tla`), 'utf8');
}

export function readTablesText(): string {
  return readFileSync(join(SPEC_DIR, `${TABLES_MODULE}.tla`), 'utf8');
}

/** The spec with `EXTENDS ..., QpTables` replaced by QpTables' definitions, for a one-module checker. */
export function inlineTables(specText: string, tablesText: string = readTablesText()): string {
  const extendsLine = /^EXTENDS\s+(.*)$/m;
  const m = extendsLine.exec(specText);
  if (m === null) throw new Error(`${SPEC_MODULE}.tla has no EXTENDS line`);
  const modules = m[1]!.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (!modules.includes(TABLES_MODULE)) throw new Error(`${SPEC_MODULE}.tla does not extend ${TABLES_MODULE}`);
  const body = tablesText
    .split('\n')
    .filter((line) => !/^-{4,}.*MODULE|^={4,}/.test(line))
    .join('\n');
  const rest = modules.filter((x) => x !== TABLES_MODULE).join(', ');
  return specText.replace(extendsLine, `EXTENDS ${rest}\n\\* ---- inlined ${TABLES_MODULE} ----\n${body}\n\\* ---- end of ${TABLES_MODULE} ----`);
}

export type SpecVars = Readonly<Record<string, TlaValue>>;

export interface StateGraph {
  /** Node id -> the state's variables. */
  readonly nodes: ReadonlyMap<string, SpecVars>;
  readonly edges: readonly (readonly [string, string])[];
}

export interface CheckerResult {
  readonly ok: boolean;
  /** null, or tla-checker's error type: InvariantViolation, LivenessViolation, Deadlock, ... */
  readonly errorType: string | null;
  readonly message: string | null;
  /** The invariant or property the counterexample breaks, when the checker names one. */
  readonly violated: string | null;
  readonly states: number;
  /** For an invariant violation, the states from Init to the bad one; for liveness, prefix then loop. */
  readonly trace: readonly SpecVars[];
  /** For a liveness counterexample, where in `trace` the loop that repeats forever starts. */
  readonly loopStart: number | null;
  readonly graph: StateGraph | null;
  readonly ms: number;
}

export interface CheckerOptions {
  readonly maxStates?: number;
  readonly maxDepth?: number;
  readonly exportGraph?: boolean;
}

/** `name=value` lines of one state as tla-checker prints them (trace entries and DOT labels). */
export function parseStateText(text: string): SpecVars {
  const texts: Record<string, string> = {};
  let current: string | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || /^State \d+/.test(line)) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (m !== null) {
      current = m[1]!;
      texts[current] = m[2]!;
    } else if (current !== null) {
      texts[current] = `${texts[current]} ${line}`;
    }
  }
  return Object.fromEntries(Object.entries(texts).map(([k, v]) => [k, parseTlaValue(v)]));
}

/** The states of a trace entry ("State 0\n  x = ..\nState 1\n ..."). */
function parseTraceEntry(entry: string): SpecVars[] {
  return entry.split(/^\s*State \d+\s*$/m).filter((chunk) => chunk.trim() !== '').map(parseStateText);
}

const unescapeDot = (s: string) => s.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');

export function parseDot(dot: string): StateGraph {
  const nodes = new Map<string, SpecVars>();
  const edges: [string, string][] = [];
  for (const line of dot.split('\n')) {
    const node = /^\s*(s\d+)\s+\[label="((?:[^"\\]|\\.)*)"/.exec(line);
    if (node !== null) {
      nodes.set(node[1]!, parseStateText(unescapeDot(node[2]!)));
      continue;
    }
    const edge = /^\s*(s\d+)\s*->\s*(s\d+)/.exec(line);
    if (edge !== null) edges.push([edge[1]!, edge[2]!]);
  }
  return { nodes, edges };
}

/**
 * The definition a violation breaks. tla-checker says "Invariant <i> violated" with i the
 * 0-based position in the cfg's INVARIANTS; a liveness violation prints the property's formula,
 * so a config with several properties is checked again one property at a time (see check-spec).
 */
function violatedName(errorType: string | null, message: string | null, cfg: TlcConfig): string | null {
  if (message === null) return null;
  if (errorType === 'InvariantViolation') {
    const index = /Invariant (\d+) violated/.exec(message);
    if (index !== null) return cfg.invariants[Number(index[1])] ?? null;
    return cfg.invariants.find((n) => new RegExp(`\\b${n}\\b`).test(message)) ?? null;
  }
  if (errorType === 'LivenessViolation' && cfg.properties.length === 1) return cfg.properties[0]!;
  return null;
}

interface RawResult {
  success: boolean;
  error_type: string | null;
  error_message: string | null;
  states_explored: number;
  trace?: string[];
  dot?: string | null;
}

export function runTlaChecker(specSource: string, cfgText: string, options: CheckerOptions = {}): CheckerResult {
  ensureInitialised();
  const cfg = parseCfg(cfgText);
  const started = performance.now();
  const raw = JSON.parse(check_spec_with_options(specSource, JSON.stringify({
    cfg_source: cfgText,
    max_states: options.maxStates ?? 2_000_000,
    max_depth: options.maxDepth ?? 10_000,
    // Deadlock is governed by the cfg's CHECK_DEADLOCK; the spec's behaviours end in quiet states.
    allow_deadlock: !/^\s*CHECK_DEADLOCK\s+TRUE/m.test(cfgText),
    export_dot: options.exportGraph === true,
    dot_mode: 'full',
  }))) as RawResult;
  const ms = performance.now() - started;
  const entries = (raw.trace ?? []).map(parseTraceEntry);
  const prefix = entries[0] ?? [];
  let loop = entries[1] ?? [];
  // The loop is printed from the state the prefix ends in; show that state once.
  if (loop.length > 0 && prefix.length > 0 && JSON.stringify(loop[0]) === JSON.stringify(prefix[prefix.length - 1])) loop = loop.slice(1);
  return {
    ok: raw.success,
    errorType: raw.error_type,
    message: raw.error_message,
    violated: violatedName(raw.error_type, raw.error_message, cfg),
    states: raw.states_explored,
    trace: [...prefix, ...loop, ...entries.slice(2).flat()],
    loopStart: entries.length >= 2 ? prefix.length : null,
    graph: raw.dot === null || raw.dot === undefined ? null : parseDot(raw.dot),
    ms,
  };
}

/** One step of the spec as tla-checker takes it: the disjunct of Next and the new variables. */
export interface CheckerStep {
  readonly action: string;
  readonly vars: SpecVars;
}

interface ExploreReply {
  ok: boolean;
  error?: string;
  states?: { json: Record<string, unknown> }[];
  transitions?: { action: string | null; state: { json: Record<string, unknown> } }[];
}

const varsOf = (json: Record<string, unknown>): SpecVars => Object.fromEntries(Object.entries(json).map(([k, v]) => [k, fromCheckerJson(v)]));

/**
 * The spec itself, one state at a time (tla-checker's explore API): for replaying traces through
 * the real spec rather than its transliteration. About 20 ms a call: for short traces.
 */
export class CheckerStepper {
  constructor(private readonly specSource: string, private readonly cfgText: string) {
    ensureInitialised();
  }

  private call(reply: string): ExploreReply {
    const parsed = JSON.parse(reply) as ExploreReply;
    if (!parsed.ok) throw new Error(`tla-checker explore: ${parsed.error ?? 'failed'}`);
    return parsed;
  }

  init(): SpecVars[] {
    return (this.call(explore_init(this.specSource, this.cfgText, '{}')).states ?? []).map((s) => varsOf(s.json));
  }

  next(vars: SpecVars): CheckerStep[] {
    const json = JSON.stringify(Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, toCheckerJson(v)])));
    return (this.call(explore_next(this.specSource, this.cfgText, '{}', json)).transitions ?? [])
      .map((t) => ({ action: t.action ?? '?', vars: varsOf(t.state.json) }));
  }
}
