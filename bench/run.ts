/**
 * `npm run bench` (issue #10): every path in two processes on loopback — tcpverbs (the compiled
 * `tcpverbs perf`, as users run it), plain `net`, the raw Node ceiling — alternating within each
 * round, medians of ROUNDS, ratios against the baselines of the same run, CPU seconds per GB of
 * both processes, the data path's counters per message; iperf3 for the kernel's single-stream
 * ceiling. Writes bench/results.json and, from it, docs/performance.md and docs/performance.svg.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { BENCH_PLAN, TARGETS, type PathResult, type BenchResults, type PingpongResult, type StreamRow } from './results.js';
import { ratioText, writePerformanceDocs } from './report.js';
import { NIC_LIMITS } from '../src/abi/limits.js';

const ROOT = resolve(import.meta.dirname, '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? BENCH_PLAN.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`BENCH_ROUNDS must be a positive integer, got ${process.env.BENCH_ROUNDS}`);

type Line = Record<string, unknown>;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Round-by-round progress on a terminal; in a log only the line each workload ends with. */
const progress = (text: string) => { if (process.stderr.isTTY) process.stderr.write(`\r${text}  `); };
const done = (text: string) => process.stderr.write(`${process.stderr.isTTY ? '\r' : ''}${text}\n`);

/** A child process; resolves the JSON lines it printed on `stream` once it exits 0. */
function child(command: string, args: string[], stream: 'stdout' | 'stderr', onLine: (text: string) => void = () => {}): Promise<Line[]> {
  const proc = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Line[] = [];
  const other: string[] = [];
  for (const name of ['stdout', 'stderr'] as const) {
    createInterface({ input: proc[name] }).on('line', (text) => {
      onLine(text);
      if (name === stream && text.startsWith('{')) lines.push(JSON.parse(text) as Line);
      else if (name === 'stderr' && !text.startsWith('listening')) other.push(text);
    });
  }
  return new Promise((ok, fail) => proc.once('exit', (code) => (code === 0 ? ok(lines) : fail(new Error(`${command} ${args.join(' ')} exited ${code}: ${other.join(' | ')}`)))));
}

/** The server prints where it listens first; the client is started once it does. */
async function pair(server: (onLine: (text: string) => void) => Promise<Line[]>, client: (port: number) => Promise<Line[]>): Promise<[Line[], Line[]]> {
  let announce: (port: number) => void = () => {};
  const port = new Promise<number>((r) => { announce = r; });
  const serverDone = server((text) => {
    const m = /^listening on port (\d+)$/.exec(text) ?? /^\{"port":(\d+)/.exec(text);
    if (m !== null) announce(Number(m[1]));
  });
  const clientDone = client(await port);
  return Promise.all([serverDone, clientDone]);
}

const TCPVERBS = [resolve(ROOT, 'bin/tcpverbs.mjs')];

interface SideRow { cpuSeconds: number; v8SingleThreaded: boolean; counters: Record<string, number> }
/** The bench measures tcpverbs perf as users get it: re-executed under node --single-threaded. */
function requireDefaultRuntime(row: { client: SideRow; server: SideRow }): void {
  if (!row.client.v8SingleThreaded || !row.server.v8SingleThreaded) throw new Error('tcpverbs perf ran with V8 helper threads: the bench measures its default (node --single-threaded)');
}
const BASELINE = ['--import', 'tsx', resolve(ROOT, 'bench/baseline-side.ts')];

async function tcpverbsStream(size: number, messages: number, window: number, warmup: number): Promise<PathResult> {
  // -r stays at perftest's 512: fewer receives than the peer can have in flight plus what the
  // application has not reposted yet means RNR NAKs and go-back-N resends.
  const flags = ['-s', String(size), '-n', String(messages), '--warmup', String(warmup), '-t', String(window), '-Q', String(Math.max(1, window / 4)), '--json'];
  const [server, client] = await pair(
    (onLine) => child(process.execPath, [...TCPVERBS, 'perf', 'send_bw', '-p', '0', ...flags], 'stderr', onLine),
    (port) => child(process.execPath, [...TCPVERBS, 'perf', 'send_bw', '127.0.0.1', '-p', String(port), ...flags], 'stderr'),
  );
  const row = client[0] as { msgRatePerSecond: number; bwAverageBytesPerSecond: number; client: SideRow; server: SideRow };
  if (row === undefined || server.length === 0) throw new Error('tcpverbs perf printed no result row');
  requireDefaultRuntime(row);
  const seconds = messages / row.msgRatePerSecond;
  return {
    seconds, cpuSeconds: row.client.cpuSeconds + row.server.cpuSeconds,
    readsPerMessage: row.server.counters.readsPerMessage!, writesPerMessage: row.client.counters.writesPerMessage!,
    rxCopiedBytesPerMessage: row.server.counters.rxCopiedBytesPerMessage!, txCopiedBytesPerMessage: row.client.counters.txCopiedBytesPerMessage!,
    framesPerMessage: row.client.counters.framesSentPerMessage! + row.server.counters.framesSentPerMessage!,
  };
}

/** How often tcpverbs' responder acknowledges `size`-byte SENDs (NIC_LIMITS): what raw-rc's receiver does. */
const ackEvery = (size: number) => Math.max(1, Math.min(NIC_LIMITS.ackCoalesceRequests, Math.ceil(NIC_LIMITS.ackCoalesceBytes / size)));

async function baselineStream(path: 'net' | 'raw' | 'raw-rc', size: number, messages: number, window: number, warmup: number): Promise<PathResult> {
  const base = { path, size, messages, window, warmup, ackEvery: ackEvery(size) };
  const [sender, receiver] = await pair(
    (onLine) => child(process.execPath, [...BASELINE, JSON.stringify({ ...base, role: 'send' })], 'stdout', onLine),
    (port) => child(process.execPath, [...BASELINE, JSON.stringify({ ...base, role: 'recv', port })], 'stdout'),
  );
  const s = sender.at(-1) as { seconds: number; cpuSeconds: number; writes?: number; messagesTimed?: number };
  const r = receiver.at(-1) as { cpuSeconds: number; reads: number };
  // raw-rc's clock starts at an ACK that may cover a few measured messages too: the time the
  // measured count takes at the rate it timed.
  if (s.messagesTimed !== undefined && s.messagesTimed <= 0) throw new Error(`${path} ${size} B: the ACK that started the clock was the last one (no message timed); run more than the window of ${window} messages`);
  const seconds = s.messagesTimed === undefined ? s.seconds : s.seconds * (messages / s.messagesTimed);
  return { seconds, cpuSeconds: s.cpuSeconds + r.cpuSeconds, readsPerMessage: r.reads / messages, writesPerMessage: s.writes === undefined ? null : s.writes / messages, rxCopiedBytesPerMessage: path === 'net' ? size : 0, txCopiedBytesPerMessage: 0, framesPerMessage: null };
}

async function tcpverbsPingpong(size: number, iterations: number, warmup: number): Promise<{ p50: number; p99: number }> {
  const flags = ['-s', String(size), '-n', String(iterations), '--warmup', String(warmup), '--json'];
  const [, client] = await pair(
    (onLine) => child(process.execPath, [...TCPVERBS, 'perf', 'send_lat', '-p', '0', ...flags], 'stderr', onLine),
    (port) => child(process.execPath, [...TCPVERBS, 'perf', 'send_lat', '127.0.0.1', '-p', String(port), ...flags], 'stderr'),
  );
  const row = client[0] as { latencyUsec: { typical: number; p99: number }; client: SideRow; server: SideRow };
  requireDefaultRuntime(row);
  const { latencyUsec } = row;
  return { p50: latencyUsec.typical, p99: latencyUsec.p99 };
}

async function netPingpong(size: number, iterations: number, warmup: number): Promise<{ p50: number; p99: number }> {
  const base = { path: 'net-pingpong', size, messages: iterations, window: 1, warmup };
  const [, client] = await pair(
    (onLine) => child(process.execPath, [...BASELINE, JSON.stringify({ ...base, role: 'send' })], 'stdout', onLine),
    (port) => child(process.execPath, [...BASELINE, JSON.stringify({ ...base, role: 'recv', port })], 'stdout'),
  );
  const samples = (client.at(-1) as { latencyUsec: number[] }).latencyUsec.sort((a, b) => a - b);
  return { p50: samples[Math.floor(samples.length / 2)]!, p99: samples[Math.ceil(samples.length * 0.99) - 1]! };
}

/** iperf3, one stream, on loopback: the kernel's ceiling for one TCP connection here; null when not installed. */
function iperf3(seconds: number): number | null {
  try {
    execFileSync('iperf3', ['--version'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  const out = execFileSync('sh', ['-c', `iperf3 -s -1 -p 5299 >/dev/null 2>&1 & sleep 0.5; iperf3 -c 127.0.0.1 -p 5299 -t ${seconds} -J`]).toString();
  return (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e9;
}

function summarize(runs: PathResult[], size: number, messages: number): StreamRow['paths']['tcpverbs'] {
  const pick = (f: (r: PathResult) => number | null) => { const xs = runs.map(f).filter((x): x is number => x !== null); return xs.length === 0 ? null : median(xs); };
  const seconds = median(runs.map((r) => r.seconds));
  const rates = runs.map((r) => messages / r.seconds);
  return {
    msgsPerSecond: messages / seconds, msgsPerSecondMin: Math.min(...rates), msgsPerSecondMax: Math.max(...rates), gbitPerSecond: (size * messages * 8) / seconds / 1e9, cpuSecondsPerGB: median(runs.map((r) => r.cpuSeconds)) / ((size * messages) / 1e9),
    readsPerMessage: pick((r) => r.readsPerMessage)!, writesPerMessage: pick((r) => r.writesPerMessage), rxCopiedBytesPerMessage: pick((r) => r.rxCopiedBytesPerMessage)!,
    txCopiedBytesPerMessage: pick((r) => r.txCopiedBytesPerMessage)!, framesPerMessage: pick((r) => r.framesPerMessage), rounds: runs.length,
  };
}

/** Steal and total CPU ticks so far, summed over all CPUs (/proc/stat's first line); null where absent. */
function cpuTicks(): { steal: number; total: number } | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user and nice).
    if (fields.length < 8 || fields.slice(0, 8).some((n) => !Number.isFinite(n))) return null;
    return { steal: fields[7]!, total: fields.slice(0, 8).reduce((a, b) => a + b, 0) };
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const ticksAtStart = cpuTicks();
  process.stderr.write('building dist/ (the bench runs the compiled tcpverbs, as users do)...\n');
  execFileSync(process.execPath, [resolve(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  const streams: StreamRow[] = [];
  for (const w of BENCH_PLAN.streams) {
    const runs: Record<'tcpverbs' | 'net' | 'raw' | 'rawRc', PathResult[]> = { tcpverbs: [], net: [], raw: [], rawRc: [] };
    for (let round = 0; round < ROUNDS; round++) {
      progress(`${w.size} B, window ${w.window}: round ${round + 1}/${ROUNDS}`);
      runs.tcpverbs.push(await tcpverbsStream(w.size, w.messages, w.window, w.warmup));
      runs.net.push(await baselineStream('net', w.size, w.messages, w.window, w.warmup));
      runs.raw.push(await baselineStream('raw', w.size, w.messages, w.window, w.warmup));
      runs.rawRc.push(await baselineStream('raw-rc', w.size, w.messages, w.window, w.warmup));
    }
    const paths = { tcpverbs: summarize(runs.tcpverbs, w.size, w.messages), net: summarize(runs.net, w.size, w.messages), raw: summarize(runs.raw, w.size, w.messages), rawRc: summarize(runs.rawRc, w.size, w.messages) };
    const rate = paths.tcpverbs.msgsPerSecond;
    const vsRawByRound = runs.tcpverbs.map((run, i) => runs.raw[i]!.seconds / run.seconds);
    streams.push({ ...w, paths, ratios: { vsNet: rate / paths.net.msgsPerSecond, vsRaw: rate / paths.raw.msgsPerSecond, vsRawRc: rate / paths.rawRc.msgsPerSecond }, vsRawByRound });
    const r = streams.at(-1)!.ratios;
    done(`${w.size} B, window ${w.window}: tcpverbs ${(rate / 1e3).toFixed(0)} k msg/s (${paths.tcpverbs.gbitPerSecond.toFixed(2)} Gbit/s), net ${(paths.net.msgsPerSecond / 1e3).toFixed(0)} k, raw ${(paths.raw.msgsPerSecond / 1e3).toFixed(0)} k, raw-rc ${(paths.rawRc.msgsPerSecond / 1e3).toFixed(0)} k: ×net ${r.vsNet.toFixed(2)}, ×raw ${ratioText(r.vsRaw, TARGETS[w.size].vsRaw)}, ×raw-rc ${r.vsRawRc.toFixed(2)}`);
  }
  const pp = BENCH_PLAN.pingpong;
  const tv: { p50: number; p99: number }[] = [];
  const nt: { p50: number; p99: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    progress(`${pp.size} B ping-pong: round ${round + 1}/${ROUNDS}`);
    tv.push(await tcpverbsPingpong(pp.size, pp.iterations, pp.warmup));
    nt.push(await netPingpong(pp.size, pp.iterations, pp.warmup));
  }
  const pingpong: PingpongResult = {
    ...pp, tcpverbs: { p50Usec: median(tv.map((x) => x.p50)), p99Usec: median(tv.map((x) => x.p99)) }, net: { p50Usec: median(nt.map((x) => x.p50)), p99Usec: median(nt.map((x) => x.p99)) },
  };
  done(`${pp.size} B ping-pong: tcpverbs p50 ${pingpong.tcpverbs.p50Usec.toFixed(1)} µs p99 ${pingpong.tcpverbs.p99Usec.toFixed(1)} µs; net p50 ${pingpong.net.p50Usec.toFixed(1)} µs p99 ${pingpong.net.p99Usec.toFixed(1)} µs`);
  const iperf = Array.from({ length: Math.min(ROUNDS, 3) }, () => iperf3(2));
  const iperf3Gbit = iperf.includes(null) ? null : median(iperf as number[]);
  process.stderr.write(iperf3Gbit === null ? 'iperf3: not installed (apt-get install iperf3): no kernel ceiling measured\n' : `iperf3 single stream: ${iperf3Gbit.toFixed(2)} Gbit/s\n`);
  const ticksAtEnd = cpuTicks();
  const cpuStealPercent = ticksAtStart === null || ticksAtEnd === null || ticksAtEnd.total === ticksAtStart.total ? null
    : (100 * (ticksAtEnd.steal - ticksAtStart.steal)) / (ticksAtEnd.total - ticksAtStart.total);
  if (cpuStealPercent !== null) process.stderr.write(`CPU steal during the run: ${cpuStealPercent.toFixed(1)} % of CPU time\n`);
  const results: BenchResults = { node: process.version, cpus: (await import('node:os')).cpus().length, date: new Date().toISOString().slice(0, 10), rounds: ROUNDS, seconds: Math.round((Date.now() - started) / 1000), iperf3Gbit, cpuStealPercent, streams, pingpong };
  writeFileSync(resolve(ROOT, 'bench/results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writePerformanceDocs(ROOT, results);
  process.stderr.write(`wrote bench/results.json, docs/performance.md, docs/performance.svg (${results.seconds} s)\n`);
}

await main();
