import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { MACHINE_CATALOG, catalogEntry } from '../../machines/catalog.js';
import { extractRelation } from '../../machines/relation.js';
import { QP_MODIFY_TABLE } from '../../machines/qp-modify-table.js';
import { QP_POST_ADMISSION } from '../../machines/qp-post-admission.js';
import { generateDocs, staleFiles, writeDocs } from '../diagrams/generate.js';
import { runStages, summaryTable } from './run-stages.js';
import { runPingpong } from './pingpong.js';
import { PERF_TESTS, PerfOptionError, allSizes, perfDefaults, type PerfTest } from '../perf/options.js';
import { runPerf } from '../perf/run.js';
import { exitWithParent, reexecSingleThreaded } from './single-threaded.js';
import { SINGLE_THREADED_FLAG, runsSingleThreaded } from '../perf/v8-threads.js';
import { Monitor } from '../monitor/monitor.js';
import { verifyStages } from './verify-stages.js';
import { writeFile } from 'node:fs/promises';
import { serveAdapter } from '../conformance/adapter/serve.js';
import { DEFAULT_RUNS, GROUPS, conform } from '../conformance/kit/conform.js';
import { readReplayFile, type ReplayFile } from '../conformance/kit/replay-file.js';
import { conformProgress } from './conform-progress.js';
import { junitReport, textReport } from '../conformance/kit/report.js';
import { adapterJsonSchemaText } from '../conformance/protocol/json-schema.js';
import { REPO_ROOT } from '../spec/paths.js';

/** The package root: generated docs are written relative to it. */
const ROOT = REPO_ROOT;

function stageNames(value: string): string[] {
  const known = verifyStages(ROOT).map((s) => s.name);
  const names = value.split(',').map((n) => n.trim()).filter((n) => n !== '');
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length > 0) throw new InvalidArgumentError(`unknown stage ${unknown.join(', ')}; stages are ${known.join(', ')}`);
  return names;
}

function positiveInt(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}, got ${JSON.stringify(value)}`);
    return n;
  };
}

export function buildProgram(): Command {
  const program = new Command()
    .name('tcpverbs')
    .description('IB verbs (RC) over TCP: formal models, reference implementation and conformance checks')
    .showHelpAfterError()
    // Usage errors exit 2 (as conform promises), not commander's default 1: see the catch below.
    .exitOverride();

  program
    .command('verify')
    .description('the main job: machines (path coverage, QP guard = kernel table), diagram freshness, TLA+ spec, rc_pingpong with the monitor')
    .option('--only <stages>', 'comma-separated stages to run (default: all)', stageNames)
    .option('--json', 'print the outcome of every stage as JSON on stdout')
    .action(async (options: { only?: string[]; json?: boolean }) => {
      const stages = verifyStages(ROOT).filter((s) => options.only === undefined || options.only.includes(s.name));
      const outcomes = await runStages(stages, { log: process.stderr });
      process.stderr.write(`\n${summaryTable(outcomes)}\n`);
      if (options.json === true) process.stdout.write(`${JSON.stringify(outcomes, null, 2)}\n`);
      process.exitCode = outcomes.every((o) => o.ok) ? 0 : 1;
    });

  program
    .command('diagrams')
    .description('write Mermaid and SVG diagrams of every machine to docs/diagrams and docs/machines.md')
    .option('--check', 'write nothing; exit 1 if any generated file is stale')
    .action(async (options: { check?: boolean }) => {
      const files = await generateDocs();
      if (options.check === true) {
        const stale = await staleFiles(ROOT, files);
        for (const path of stale) process.stderr.write(`stale: ${path}\n`);
        process.stderr.write(stale.length === 0 ? `${files.size} generated files up to date\n` : 'run `npm run diagrams` and commit the result\n');
        process.exitCode = stale.length === 0 ? 0 : 1;
        return;
      }
      const changed = await writeDocs(ROOT, files);
      process.stderr.write(changed.length === 0 ? `${files.size} files already up to date\n` : changed.map((p) => `wrote ${p}\n`).join(''));
    });

  program
    .command('pingpong')
    .description('ibv_rc_pingpong over TCP: run without [host] as the server, with it as the client')
    .argument('[host]', 'server to connect to (client mode)')
    .option('-p, --port <port>', 'listen on / connect to port', positiveInt('port', 0, 65535), 18515)
    .option('-s, --size <size>', 'size of message to exchange', positiveInt('size', 1, 1 << 30), 4096)
    .option('-n, --iters <iters>', 'number of exchanges', positiveInt('iters', 1, 1e9), 1000)
    .option('-r, --rx-depth <dep>', 'number of receives to post at a time', positiveInt('rx-depth', 2, 4096), 500)
    .option('-e, --events', 'sleep on CQ events (default poll)')
    .option('--monitor', 'check every step against the models; exit 1 on the first disagreement')
    .action(async (host: string | undefined, options: { port: number; size: number; iters: number; rxDepth: number; events?: boolean; monitor?: boolean }) => {
      const monitor = options.monitor === true ? new Monitor() : undefined;
      await runPingpong({
        ...(host === undefined ? {} : { host }), port: options.port, size: options.size, iters: options.iters, rxDepth: options.rxDepth,
        useEvents: options.events === true, ...(monitor === undefined ? {} : { observer: monitor }),
        log: (line) => process.stdout.write(`${line}\n`),
      }, (port) => process.stderr.write(`listening on port ${port}\n`));
      if (monitor !== undefined) {
        monitor.assertAgreement();
        process.stderr.write('monitor: every step agreed with the models\n');
      }
    });

  program
    .command('perf')
    .description('perftest over TCP (ib_send_bw, ib_send_lat, ...): run without [host] as the server, with it as the client')
    .argument('<test>', `one of ${PERF_TESTS.join(', ')}`, (value: string) => {
      if (!(PERF_TESTS as readonly string[]).includes(value)) throw new InvalidArgumentError(`unknown test ${JSON.stringify(value)}; tests are ${PERF_TESTS.join(', ')}`);
      return value;
    })
    .argument('[host]', 'server to connect to (client mode)')
    .option('-p, --port <port>', 'listen on / connect to port', positiveInt('port', 0, 65535), 18515)
    .option('-s, --size <size>', 'message size (default 65536 for bw, 2 for lat, 8 for atomics)', positiveInt('size', 1, 1 << 30))
    .option('-a, --all', 'run sizes from 2 till 2^23')
    .option('-n, --iters <iters>', 'iterations per size (default 5000 for bw, 1000 for lat)', positiveInt('iters', 5, 1e9))
    .option('-D, --duration <seconds>', 'run each size for this many seconds instead of -n', positiveInt('duration', 1, 3600))
    .option('-t, --tx-depth <dep>', 'send queue depth (default 128 for bw, 1 for lat)', positiveInt('tx-depth', 1, 4096))
    .option('-r, --rx-depth <dep>', 'receives posted ahead (send tests)', positiveInt('rx-depth', 1, 4096), 512)
    .option('-Q, --cq-mod <n>', 'signal one WR in every n (default 100 for bw, 1 for lat)', positiveInt('cq-mod', 1, 4096))
    .option('-e, --events', 'sleep on CQ events (default busy polling)')
    .option('--warmup <iters>', 'unrecorded iterations first, while V8 compiles the hot path (default 5000 for lat, 0 for bw)', positiveInt('warmup', 0, 1e9))
    .option('--report_gbits', 'report bandwidth in Gb/sec instead of MB/sec')
    .option('--json', 'also print each result row as one JSON line on stderr')
    .option('--v8-helper-threads', `keep V8's compiler and GC helper threads (by default perf re-executes itself under node ${SINGLE_THREADED_FLAG}: docs/performance.md)`)
    .action(async (test: PerfTest, host: string | undefined, o: { port: number; size?: number; all?: boolean; iters?: number; duration?: number; txDepth?: number; rxDepth: number; cqMod?: number; warmup?: number; events?: boolean; report_gbits?: boolean; json?: boolean; v8HelperThreads?: boolean }) => {
      const d = perfDefaults(test);
      // Thrown from an action, a commander error would exit silently: these say what is wrong.
      if (o.all === true && o.size !== undefined) throw new PerfOptionError('-a and -s exclude each other: -a runs every size from 2 to 2^23');
      if (o.events === true && test === 'write_lat') throw new PerfOptionError('-e is not available for write_lat: a WRITE leaves no completion at its target to wait for (as in perftest)');
      // After the option checks, so a bad command line is refused by this process, once.
      if (o.v8HelperThreads !== true && !runsSingleThreaded()) {
        process.exitCode = await reexecSingleThreaded();
        return;
      }
      exitWithParent();
      const txDepth = o.txDepth ?? d.txDepth;
      await runPerf({
          test, ...(host === undefined ? {} : { host }), port: o.port, sizes: o.all === true ? allSizes(test) : [o.size ?? d.size],
          iters: o.iters ?? d.iters, durationSeconds: o.duration ?? 0, txDepth, rxDepth: o.rxDepth, cqMod: o.cqMod ?? Math.min(d.cqMod, txDepth),
          warmupIters: o.warmup ?? d.warmupIters, useEvents: o.events === true, reportGbits: o.report_gbits === true,
        }, {
          log: (line) => process.stdout.write(`${line}\n`),
          ...(o.json === true ? { row: (row) => process.stderr.write(`${JSON.stringify(row)}\n`) } : {}),
          onListening: (port) => process.stderr.write(`listening on port ${port}\n`),
        });
    });
  program
    .command('adapter')
    .description('serve the reference implementation over the conformance adapter protocol (docs/adapter.md) on stdin/stdout')
    .option('--schema', 'print the protocol\'s JSON Schema (docs/adapter.schema.json) and exit')
    .action(async (options: { schema?: boolean }) => {
      if (options.schema === true) {
        process.stdout.write(adapterJsonSchemaText());
        return;
      }
      await serveAdapter(process.stdin, process.stdout);
      // Exit once every reply is written: the kit waits for the process to end after `exit`.
      process.stdout.write('', () => process.exit(0));
    });

  program
    .command('conform')
    .description('check an implementation through its adapter (docs/adapter.md): generated cases from the models and the kernel table')
    .requiredOption('--adapter <command>', 'the command line that starts the implementation\'s adapter, e.g. "tcpverbs adapter"')
    .option('--only <groups>', `comma-separated groups (${GROUPS.join(', ')})`, (value: string) => {
      const groups = value.split(',').map((g) => g.trim()).filter((g) => g !== '');
      const unknown = groups.filter((g) => !GROUPS.includes(g));
      if (unknown.length > 0) throw new InvalidArgumentError(`unknown group ${unknown.join(', ')}; groups are ${GROUPS.join(', ')}`);
      return groups;
    })
    .option('--peer-adapter <command>', 'the adapter of the peer endpoint in two-endpoint groups (default: the IUT again), e.g. a known-good "tcpverbs adapter"')
    .option('--seed <n>', 'seed of the generated sequences', positiveInt('seed', 0, 2 ** 31 - 1), 1)
    .option('--report <format>', 'text, json or junit', (value: string) => {
      if (!['text', 'json', 'junit'].includes(value)) throw new InvalidArgumentError(`--report must be text, json or junit, got ${JSON.stringify(value)}`);
      return value;
    }, 'text')
    .option('--runs <n>', `random command sequences to run (default ${DEFAULT_RUNS})`, positiveInt('runs', 1, 100_000))
    .option('--replay <file>', 'run exactly the sequence of a replay file that a failing run wrote, and nothing else', (value: string) => {
      try {
        return readReplayFile(value);
      } catch (error) {
        throw new InvalidArgumentError((error as Error).message);
      }
    })
    .option('--replay-out <file>', 'where a shrunk failing sequence is written (default conform-replay-SEED.json)')
    .option('--out <file>', 'write the report to a file instead of stdout')
    .action(async (options: { adapter: string; peerAdapter?: string; only?: string[]; seed: number; runs?: number; replay?: ReplayFile; replayOut?: string; report: string; out?: string }) => {
      const progress = conformProgress(process.stderr);
      const report = await conform({
        adapter: options.adapter, seed: options.seed, ...(options.only === undefined ? {} : { only: options.only }),
        ...(options.peerAdapter === undefined ? {} : { peerAdapter: options.peerAdapter }),
        ...(options.runs === undefined ? {} : { runs: options.runs }),
        ...(options.replay === undefined ? {} : { replay: options.replay }),
        ...(options.replayOut === undefined ? {} : { replayOut: options.replayOut }),
        onCase: (result) => progress.onCase(result),
        onGroup: (group, index, total) => progress.onGroup(group, index, total),
      });
      progress.stop();
      const text = options.report === 'json' ? `${JSON.stringify(report, null, 2)}\n` : options.report === 'junit' ? junitReport(report) : textReport(report);
      if (options.out !== undefined) await writeFile(options.out, text);
      else process.stdout.write(text);
      if (options.out !== undefined || options.report !== 'text') process.stderr.write(`${report.passed} passed, ${report.failed} failed, ${report.notClaimed} not claimed\n`);
      process.exitCode = report.failed === 0 ? 0 : 1;
    });

  program
    .command('tables')
    .description('print a machine\'s transition relation (and the QP modify/post tables) as JSON')
    .argument('[machine]', `one of ${MACHINE_CATALOG.map((e) => e.name).join(', ')}; all when omitted`)
    .action((name: string | undefined) => {
      const entries = name === undefined ? MACHINE_CATALOG : [catalogEntry(name)];
      const tables = Object.fromEntries(entries.map((e) => [e.name, extractRelation(e.machine)]));
      const qp = name === undefined || name === 'qp' ? { qpModifyTable: QP_MODIFY_TABLE, qpPostAdmission: QP_POST_ADMISSION } : {};
      process.stdout.write(`${JSON.stringify({ ...tables, ...qp }, null, 2)}\n`);
    });

  return program;
}

const invokedDirectly = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly || process.env.TCPVERBS_BIN === '1') {
  buildProgram().parseAsync(process.argv).catch((error: unknown) => {
    if (error instanceof CommanderError) {
      // Commander has already printed its message (or the help); --help and --version are not errors.
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`tcpverbs: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  });
}
