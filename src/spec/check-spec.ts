/**
 * `npm run check:spec`: model-checks spec/RcVerbs.tla.
 *
 *  - tla-checker (embedded, WebAssembly) on every CI config (spec/RcVerbs_ci*.cfg): invariants and
 *    liveness properties; and the state graph it explored is compared, state by state and edge by
 *    edge, with the TypeScript transliteration's (src/spec/model.ts), which the trace checker and
 *    the larger configs rely on;
 *  - TLC (`java -cp $TLA2TOOLS_JAR tlc2.TLC`) on every config in spec/ when TLA2TOOLS_JAR is set:
 *    the CI configs whole, the deep one's invariants only (its liveness on request), on
 *    TLC_WORKERS (2) workers, each run killed after TLC_TIMEOUT (900) s; see tlc-plan.ts.
 *
 * Prints states, depth, time and result per config, and a counterexample as a numbered trace that
 * names the broken invariant. Exit 0 when every run passed, 1 otherwise, 2 on a usage error.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCfg, specConstants } from './cfg.js';
import { cfgWith } from './cfg-sections.js';
import { describeReport, reportHeadline, type ConfigReport, type SpecStatus } from './config-report.js';
import { formatCounterexample } from './counterexample.js';
import { explore, type ExploreResult } from './explore.js';
import { fromTla, RcVerbsModel, stateKey } from './model.js';
import { parseQpTables } from './qp-tables.js';
import { SPEC_DIR } from './paths.js';
import { inlineTables, readSpecText, readTablesText, runTlaChecker, SPEC_MODULE, type StateGraph } from './tla-checker.js';
import { checkWithTlc, type TlcRunOptions } from './tlc-run.js';
import { livenessNotChecked, tlcSettingsFromEnv, tlcSteps, type TlcSettings } from './tlc-plan.js';

// Moved to their own files; re-exported so that existing importers keep working.
export { cfgWith } from './cfg-sections.js';
export { describeReport, type ConfigReport } from './config-report.js';
export { readTlcOutput } from './tlc-output.js';

export const configPath = (name: string) => join(SPEC_DIR, name);

/** The configs the embedded checker runs in CI: spec/RcVerbs_ci*.cfg. */
export function ciConfigs(): string[] {
  return readdirSync(SPEC_DIR).filter((f) => /^RcVerbs_ci.*\.cfg$/.test(f)).sort();
}

export function allConfigs(): string[] {
  return readdirSync(SPEC_DIR).filter((f) => f.endsWith('.cfg')).sort();
}

/** Breadth-first depth of the checker's graph from its first node (TLC's "depth": Init counts 1). */
function graphDepth(graph: StateGraph, init: string): number {
  const out = new Map<string, string[]>();
  for (const [from, to] of graph.edges) out.set(from, [...(out.get(from) ?? []), to]);
  const level = new Map<string, number>([[init, 1]]);
  let frontier = [init];
  let depth = 1;
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const node of frontier) {
      for (const to of out.get(node) ?? []) {
        if (level.has(to)) continue;
        level.set(to, depth + 1);
        next.push(to);
      }
    }
    if (next.length > 0) depth++;
    frontier = next;
  }
  return depth;
}

/**
 * Differences between the checker's state graph and the transliteration's, as sentences. `mine` is
 * the transliteration's exploration with its edges, when the caller has it already.
 */
export function compareGraphs(graph: StateGraph, model: RcVerbsModel, mine: ExploreResult = explore(model, { keepEdges: true })): string[] {
  const keyOf = new Map<string, string>();
  for (const [id, vars] of graph.nodes) keyOf.set(id, stateKey(fromTla(vars)));
  const problems: string[] = [];
  const checkerStates = new Set(keyOf.values());
  const missing = [...(mine.keys ?? [])].filter((k) => !checkerStates.has(k));
  const extra = [...checkerStates].filter((k) => !(mine.keys?.has(k) ?? false));
  if (missing.length > 0) problems.push(`${missing.length} states of the transliteration are not in the spec's graph, e.g. ${missing[0]}`);
  if (extra.length > 0) problems.push(`${extra.length} states of the spec are not reached by the transliteration, e.g. ${extra[0]}`);
  // Stuttering self-loops are not steps of Next; neither side counts them.
  const checkerEdges = new Set(graph.edges.filter(([a, b]) => keyOf.get(a) !== keyOf.get(b)).map(([a, b]) => `${keyOf.get(a)} -> ${keyOf.get(b)}`));
  const modelEdges = new Set<string>();
  for (const [from, outs] of mine.edges ?? []) for (const { to } of outs) if (from !== to) modelEdges.add(`${from} -> ${to}`);
  const edgesMissing = [...modelEdges].filter((e) => !checkerEdges.has(e));
  const edgesExtra = [...checkerEdges].filter((e) => !modelEdges.has(e));
  if (edgesMissing.length > 0) problems.push(`${edgesMissing.length} steps of the transliteration are not steps of the spec, e.g. ${edgesMissing[0]}`);
  if (edgesExtra.length > 0) problems.push(`${edgesExtra.length} steps of the spec are not taken by the transliteration, e.g. ${edgesExtra[0]}`);
  return problems;
}

export interface TlaCheckerRunOptions {
  /** The spec text to check (default: spec/RcVerbs.tla); planted-bug tests pass mutants. */
  readonly specText?: string;
  /** Compare the explored graph with the transliteration's (default true). */
  readonly compareWithModel?: boolean;
  readonly maxStates?: number;
  /** The config's text (default: the file spec/<cfgName>). */
  readonly cfgText?: string;
  /** What the run is doing, for a progress display. */
  readonly onStatus?: (text: string) => void;
}

/** One config through tla-checker. */
export function checkWithTlaChecker(cfgName: string, options: TlaCheckerRunOptions = {}): ConfigReport {
  const started = performance.now();
  const cfgText = options.cfgText ?? readFileSync(configPath(cfgName), 'utf8');
  const cfg = parseCfg(cfgText);
  const tablesText = readTablesText();
  const source = inlineTables(options.specText ?? readSpecText(), tablesText);
  const compare = options.compareWithModel ?? true;
  const model = new RcVerbsModel(specConstants(cfg), parseQpTables(tablesText));
  // tla-checker is one synchronous call with no progress callback (~90 s on a CI config). The
  // transliteration explores the same graph in seconds, so its count, taken first, says what
  // the call is working through; the comparison below reuses it.
  const mine = compare ? explore(model, { keepEdges: true }) : null;
  if (mine !== null) options.onStatus?.(`checking ${mine.states.toLocaleString('en-US')} states, depth ${mine.depth} (the transliteration's count; tla-checker reports only when done)`);
  const result = runTlaChecker(source, cfgText, { exportGraph: compare, maxStates: options.maxStates });
  const problems: string[] = [];
  let violated = result.violated;
  let counterexample: string | null = null;
  if (!result.ok) {
    if (result.errorType === 'LivenessViolation' && violated === null) {
      // Name the property: check each alone (cheap next to a passing run, which never gets here).
      violated = cfg.properties.find((p) =>
        !runTlaChecker(source, cfgWith(cfgText, { invariants: [], properties: [p] }), { maxStates: options.maxStates }).ok) ?? null;
    }
    if (result.trace.length > 0) counterexample = formatCounterexample(model, result.trace, violated, result.loopStart);
    else problems.push(`${result.errorType ?? 'error'}: ${result.message ?? 'no message'}`);
  }
  let depth: number | null = null;
  if (result.ok && result.graph !== null) {
    const init = [...result.graph.nodes.keys()][0];
    if (init !== undefined) depth = graphDepth(result.graph, init);
    problems.push(...compareGraphs(result.graph, model, mine ?? undefined));
  }
  return {
    config: cfgName,
    checker: 'tla-checker',
    ok: result.ok && problems.length === 0,
    states: result.states,
    depth,
    seconds: (performance.now() - started) / 1000,
    violated,
    counterexample,
    problems,
  };
}

export interface CheckSpecOptions {
  readonly log?: (line: string) => void;
  /** TLC's jar; default process.env.TLA2TOOLS_JAR. */
  readonly tlcJar?: string | undefined;
  /** Workers, time bound, deep liveness; default tlcSettingsFromEnv(). */
  readonly tlc?: TlcSettings;
  /** Called before the first check with (0, checks in all) and after each with (checked so far, checks in all). */
  readonly onProgress?: (done: number, total: number) => void;
  /** What is running now: a config starting or ending, TLC's state counts as they come. */
  readonly onStatus?: SpecStatus;
  /** The configs to check (default: the CI configs through tla-checker, every config through TLC). */
  readonly configs?: { readonly tlaChecker?: readonly string[]; readonly tlc?: readonly string[] };
  /** For tests: another java executable. */
  readonly java?: TlcRunOptions['java'];
}

/** Every CI config through tla-checker; with a TLC jar, every config through TLC too. */
export async function checkSpec(options: CheckSpecOptions = {}): Promise<ConfigReport[]> {
  const log = options.log ?? (() => {});
  const status: SpecStatus = options.onStatus ?? (() => {});
  const reports: ConfigReport[] = [];
  const jar = options.tlcJar ?? process.env.TLA2TOOLS_JAR;
  const useTlc = jar !== undefined && jar !== '';
  const settings = options.tlc ?? (useTlc ? tlcSettingsFromEnv() : null);
  const checkerConfigs = options.configs?.tlaChecker ?? ciConfigs();
  const tlcConfigs = (options.configs?.tlc ?? allConfigs()).map((name) => ({ name, text: readFileSync(configPath(name), 'utf8') }));
  const steps = useTlc && settings !== null && existsSync(jar) ? tlcSteps(tlcConfigs, settings) : [];
  const total = checkerConfigs.length + (useTlc ? Math.max(steps.length, 1) : 0);
  const finish = (report: ConfigReport) => {
    log(describeReport(report));
    status(reportHeadline(report), 'milestone');
    reports.push(report);
    options.onProgress?.(reports.length, total);
  };
  options.onProgress?.(0, total);
  for (const cfg of checkerConfigs) {
    log(`tla-checker ${cfg} ...`);
    status(`tla-checker ${cfg} (${reports.length + 1} of ${total}): exploring the transliteration`, 'milestone');
    finish(checkWithTlaChecker(cfg, { onStatus: (text) => status(`tla-checker ${cfg} (${reports.length + 1} of ${total}): ${text}`, 'milestone') }));
  }
  if (!useTlc) {
    log('TLC: not run (set TLA2TOOLS_JAR to the path of tla2tools.jar to check every config, the deep one included)');
    return reports;
  }
  if (!existsSync(jar)) {
    finish({ config: '*', checker: 'TLC', ok: false, states: null, depth: null, seconds: 0, violated: null, counterexample: null, problems: [`TLA2TOOLS_JAR=${jar} does not exist`] });
    return reports;
  }
  for (const name of livenessNotChecked(tlcConfigs, settings!)) {
    const line = `TLC ${name}: invariants only; its liveness is a step of its own (TLC_DEEP_LIVENESS=1, see docs/spec.md)`;
    log(line);
    status(line, 'milestone');
  }
  for (const step of steps) {
    log(`TLC ${step.label} (${settings!.workers} workers, at most ${settings!.timeoutSeconds} s) ...`);
    status(`TLC ${step.label} (${reports.length + 1} of ${total}): starting, ${settings!.workers} workers`, 'milestone');
    finish(await checkWithTlc(resolve(jar), step, { ...settings!, onStatus: status, java: options.java }));
  }
  return reports;
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.length > 0 && !(argv.length === 1 && argv[0] === '--json')) {
    process.stderr.write(`check-spec: unknown arguments ${argv.join(' ')}; usage: check-spec [--json] `
      + '(TLA2TOOLS_JAR=/path/tla2tools.jar runs TLC on every config; TLC_WORKERS, TLC_TIMEOUT seconds, TLC_DEEP_LIVENESS=1 tune it)\n');
    return 2;
  }
  let tlc: TlcSettings;
  try {
    tlc = tlcSettingsFromEnv();
  } catch (error) {
    process.stderr.write(`check-spec: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  const reports = await checkSpec({
    log: (line) => process.stderr.write(`${line}\n`),
    tlc,
    // TLC's own progress lines (about one a minute); the milestones are in the log already.
    onStatus: (text, kind) => { if (kind === 'tick') process.stderr.write(`  ${text}\n`); },
  });
  const passed = reports.filter((r) => r.ok).length;
  process.stderr.write(`\nspec ${basename(SPEC_DIR)}/${SPEC_MODULE}.tla: ${passed} of ${reports.length} checks passed\n`);
  if (argv[0] === '--json') process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
  return passed === reports.length ? 0 : 1;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (error: unknown) => {
    process.stderr.write(`check-spec: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  });
}
