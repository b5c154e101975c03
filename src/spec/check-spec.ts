/**
 * `npm run check:spec`: model-checks spec/RcVerbs.tla.
 *
 *  - tla-checker (embedded, WebAssembly) on every CI config (spec/RcVerbs_ci*.cfg): invariants and
 *    liveness properties; and the state graph it explored is compared, state by state and edge by
 *    edge, with the TypeScript transliteration's (src/spec/model.ts), which the trace checker and
 *    the larger configs rely on;
 *  - TLC (`java -cp $TLA2TOOLS_JAR tlc2.TLC`) on every config in spec/ when TLA2TOOLS_JAR is set.
 *
 * Prints states, depth, time and result per config, and a counterexample as a numbered trace that
 * names the broken invariant. Exit 0 when every run passed, 1 otherwise, 2 on a usage error.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCfg, specConstants } from './cfg.js';
import { formatCounterexample } from './counterexample.js';
import { explore } from './explore.js';
import { fromTla, RcVerbsModel, stateKey } from './model.js';
import { parseQpTables } from './qp-tables.js';
import { SPEC_DIR } from './paths.js';
import { inlineTables, readSpecText, readTablesText, runTlaChecker, SPEC_MODULE, type StateGraph } from './tla-checker.js';

export interface ConfigReport {
  readonly config: string;
  readonly checker: 'tla-checker' | 'TLC';
  readonly ok: boolean;
  readonly states: number | null;
  readonly depth: number | null;
  readonly seconds: number;
  /** The invariant or property a counterexample breaks. */
  readonly violated: string | null;
  /** A readable trace, when the checker found a counterexample. */
  readonly counterexample: string | null;
  /** Anything else that went wrong: disagreements with the transliteration, checker errors. */
  readonly problems: readonly string[];
}

export const configPath = (name: string) => join(SPEC_DIR, name);

/** The configs the embedded checker runs in CI: spec/RcVerbs_ci*.cfg. */
export function ciConfigs(): string[] {
  return readdirSync(SPEC_DIR).filter((f) => /^RcVerbs_ci.*\.cfg$/.test(f)).sort();
}

export function allConfigs(): string[] {
  return readdirSync(SPEC_DIR).filter((f) => f.endsWith('.cfg')).sort();
}

/** The cfg text with its INVARIANT(S) and PROPERTY/PROPERTIES sections replaced. */
export function cfgWith(cfgText: string, sections: { invariants: readonly string[]; properties: readonly string[] }): string {
  const dropped = new Set(['INVARIANT', 'INVARIANTS', 'PROPERTY', 'PROPERTIES']);
  const kept: string[] = [];
  let dropping = false;
  for (const line of cfgText.split('\n')) {
    const keyword = /^([A-Z_]+)(\s|$)/.exec(line)?.[1];
    if (keyword !== undefined) dropping = dropped.has(keyword);
    if (!dropping) kept.push(line);
  }
  const add = (keyword: string, names: readonly string[]) => (names.length === 0 ? [] : [keyword, ...names.map((n) => `  ${n}`)]);
  return [...kept, ...add('INVARIANTS', sections.invariants), ...add('PROPERTIES', sections.properties), ''].join('\n');
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

/** Differences between the checker's state graph and the transliteration's, as sentences. */
export function compareGraphs(graph: StateGraph, model: RcVerbsModel): string[] {
  const keyOf = new Map<string, string>();
  for (const [id, vars] of graph.nodes) keyOf.set(id, stateKey(fromTla(vars)));
  const mine = explore(model, { keepEdges: true });
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
}

/** One config through tla-checker. */
export function checkWithTlaChecker(cfgName: string, options: TlaCheckerRunOptions = {}): ConfigReport {
  const started = performance.now();
  const cfgText = options.cfgText ?? readFileSync(configPath(cfgName), 'utf8');
  const cfg = parseCfg(cfgText);
  const tablesText = readTablesText();
  const source = inlineTables(options.specText ?? readSpecText(), tablesText);
  const compare = options.compareWithModel ?? true;
  const result = runTlaChecker(source, cfgText, { exportGraph: compare, maxStates: options.maxStates });
  const model = new RcVerbsModel(specConstants(cfg), parseQpTables(tablesText));
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
    problems.push(...compareGraphs(result.graph, model));
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

/** What TLC printed, in the report's terms. Exported for tests of the parser. */
export function readTlcOutput(config: string, output: string, exitCode: number, seconds: number): ConfigReport {
  const num = (re: RegExp) => {
    const m = re.exec(output);
    return m === null ? null : Number(m[1]!.replace(/,/g, ''));
  };
  const states = num(/([\d,]+) distinct states found/);
  const depth = num(/depth of the complete state graph search is ([\d,]+)/);
  const invariant = /Invariant (\w+) is violated/.exec(output)?.[1] ?? null;
  const temporal = /Temporal properties were violated/.test(output);
  const property = /Property (\w+) is violated/.exec(output)?.[1] ?? null;
  const passed = /Model checking completed\. No error has been found\./.test(output) && exitCode === 0;
  const traceStart = output.search(/Error: The behavior up to this point is:|Error: The following behavior/);
  const problems: string[] = [];
  if (!passed && invariant === null && !temporal) {
    problems.push(`TLC exited ${exitCode}: ${output.split('\n').filter((l) => /Error|error|Exception/.test(l)).slice(0, 5).join(' | ') || 'no result line'}`);
  }
  return {
    config,
    checker: 'TLC',
    ok: passed,
    states,
    depth,
    seconds,
    violated: invariant ?? property ?? (temporal ? 'a temporal property' : null),
    counterexample: traceStart < 0 ? null : output.slice(traceStart).split('\n').filter((l) => !/^\d+ states generated|^Finished in|^Starting/.test(l)).join('\n').trim(),
    problems,
  };
}

/** One config through TLC. */
export async function checkWithTlc(jar: string, cfgName: string): Promise<ConfigReport> {
  const started = performance.now();
  const metadir = mkdtempSync(join(tmpdir(), 'tcpverbs-tlc-'));
  try {
    const args = ['-XX:+UseParallelGC', '-cp', jar, 'tlc2.TLC', '-workers', 'auto', '-metadir', metadir, '-config', cfgName, `${SPEC_MODULE}.tla`];
    const child = spawn('java', args, { cwd: SPEC_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString('utf8'); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString('utf8'); });
    const exitCode = await new Promise<number>((done, fail) => {
      child.once('error', fail);
      child.once('close', (code) => done(code ?? 1));
    });
    return readTlcOutput(cfgName, output, exitCode, (performance.now() - started) / 1000);
  } catch (error) {
    return { config: cfgName, checker: 'TLC', ok: false, states: null, depth: null, seconds: (performance.now() - started) / 1000, violated: null, counterexample: null, problems: [`could not run java: ${error instanceof Error ? error.message : String(error)}`] };
  } finally {
    rmSync(metadir, { recursive: true, force: true });
  }
}

export interface CheckSpecOptions {
  readonly log?: (line: string) => void;
  /** TLC's jar; default process.env.TLA2TOOLS_JAR. */
  readonly tlcJar?: string | undefined;
  /** Called after each config with (checked so far, configs in all). */
  readonly onProgress?: (done: number, total: number) => void;
}

export function describeReport(r: ConfigReport): string {
  const fmt = (n: number | null) => (n === null ? '?' : n.toLocaleString('en-US'));
  const depth = r.depth === null ? '' : `, depth ${fmt(r.depth)}`;
  const head = `${r.checker.padEnd(11)} ${r.config.padEnd(22)} ${(r.ok ? 'pass' : 'FAIL').padEnd(4)}  states ${fmt(r.states)}${depth}, ${r.seconds.toFixed(1)} s`;
  return [
    head + (r.violated === null ? '' : `; violated: ${r.violated}`),
    ...r.problems.map((p) => `  ${p}`),
    ...(r.counterexample === null ? [] : [r.counterexample]),
  ].join('\n');
}

/** Every CI config through tla-checker; with a TLC jar, every config through TLC too. */
export async function checkSpec(options: CheckSpecOptions = {}): Promise<ConfigReport[]> {
  const log = options.log ?? (() => {});
  const reports: ConfigReport[] = [];
  const jar = options.tlcJar ?? process.env.TLA2TOOLS_JAR;
  const useTlc = jar !== undefined && jar !== '';
  const total = ciConfigs().length + (useTlc ? allConfigs().length : 0);
  for (const cfg of ciConfigs()) {
    log(`tla-checker ${cfg} ...`);
    const report = checkWithTlaChecker(cfg);
    log(describeReport(report));
    reports.push(report);
    options.onProgress?.(reports.length, total);
  }
  if (useTlc) {
    if (!existsSync(jar)) {
      reports.push({ config: '*', checker: 'TLC', ok: false, states: null, depth: null, seconds: 0, violated: null, counterexample: null, problems: [`TLA2TOOLS_JAR=${jar} does not exist`] });
    } else {
      for (const cfg of allConfigs()) {
        log(`TLC ${cfg} ...`);
        const report = await checkWithTlc(resolve(jar), cfg);
        log(describeReport(report));
        reports.push(report);
        options.onProgress?.(reports.length, total);
      }
    }
  } else {
    log('TLC: not run (set TLA2TOOLS_JAR to the path of tla2tools.jar to check every config, the deep one included)');
  }
  return reports;
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.length > 0 && !(argv.length === 1 && argv[0] === '--json')) {
    process.stderr.write(`check-spec: unknown arguments ${argv.join(' ')}; usage: check-spec [--json] (TLA2TOOLS_JAR=/path/tla2tools.jar runs TLC on every config)\n`);
    return 2;
  }
  const reports = await checkSpec({ log: (line) => process.stderr.write(`${line}\n`) });
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
