/**
 * Two-process benchmark (issue #10): the sender and the receiver in separate Node processes on
 * loopback, for each path — tcpverbs, plain `net`, the raw Node ceiling — alternating within each
 * round, medians of ROUNDS rounds, ratios against the baselines measured in the same run, CPU
 * seconds per GB (both processes). Writes bench/results-two-process.json.
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = resolve(import.meta.dirname, '../..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PATHS = ['tcpverbs', 'net', 'raw'] as const;
type Path = (typeof PATHS)[number];
interface Workload { size: number; messages: number; window: number }
const WORKLOADS: readonly Workload[] = [
  { size: 64, messages: 100_000, window: 64 },
  { size: 4096, messages: 30_000, window: 64 },
  { size: 65536, messages: 4000, window: 16 },
];

type Line = Record<string, number>;

/** Starts one side; resolves its first line (where it is) and, later, its last (what it measured). */
function side(args: object): { first: Promise<Line>; last: Promise<Line>; tell: (line: string) => void } {
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, 'bench/two-process/side.ts'), JSON.stringify(args)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: Line[] = [];
  let onFirst: (line: Line) => void = () => {};
  const first = new Promise<Line>((r) => { onFirst = r; });
  createInterface({ input: child.stdout }).on('line', (text) => {
    lines.push(JSON.parse(text) as Line);
    if (lines.length === 1) onFirst(lines[0]!);
  });
  const last = new Promise<Line>((resolveLast, reject) => child.once('exit', (code) => (code === 0 ? resolveLast(lines.at(-1)!) : reject(new Error(`${JSON.stringify(args)} exited ${code}`)))));
  return { first, last, tell: (line) => child.stdin.write(`${line}\n`) };
}

async function once(path: Path, w: Workload): Promise<{ seconds: number; cpuSeconds: number; sender: Line; receiver: Line }> {
  const sender = side({ role: 'send', path, ...w });
  const where = await sender.first;
  const receiver = side({ role: 'recv', path, ...w, port: where.port });
  if (path === 'tcpverbs') {
    const { qpNum } = await receiver.first;
    sender.tell(String(qpNum));
    receiver.tell(String(where.qpNum));
  }
  const [s, r] = await Promise.all([sender.last, receiver.last]);
  return { seconds: s.seconds!, cpuSeconds: s.cpuSeconds! + r.cpuSeconds!, sender: s, receiver: r };
}

/** iperf3, one stream, `seconds` long, on loopback: the kernel's ceiling for one TCP connection here; null when not installed. */
function iperf3(seconds: number): number | null {
  try {
    execFileSync('iperf3', ['--version'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  const out = execFileSync('sh', ['-c', `iperf3 -s -1 -p 5299 >/dev/null 2>&1 & sleep 0.5; iperf3 -c 127.0.0.1 -p 5299 -t ${seconds} -J`]).toString();
  return (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e9;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const results: Record<string, unknown>[] = [];
  for (const w of WORKLOADS) {
    const runs: Record<Path, Awaited<ReturnType<typeof once>>[]> = { tcpverbs: [], net: [], raw: [] };
    for (let round = 0; round < ROUNDS; round++) for (const path of PATHS) { runs[path].push(await once(path, w)); process.stderr.write('.'); }
    const row: Record<string, unknown> = { size: w.size, messages: w.messages, window: w.window };
    for (const path of PATHS) {
      const seconds = median(runs[path].map((r) => r.seconds));
      const gb = (w.size * w.messages) / 1e9;
      row[path] = {
        msgsPerSecond: w.messages / seconds, gbitPerSecond: (w.size * w.messages * 8) / seconds / 1e9,
        cpuSecondsPerGB: median(runs[path].map((r) => r.cpuSeconds)) / gb,
        readsPerMessage: median(runs[path].map((r) => (r.receiver.reads ?? 0) / w.messages)),
        ...(path === 'tcpverbs' ? { copiedBytesPerMessage: median(runs[path].map((r) => (r.receiver.copiedBytes ?? 0) / w.messages)), writesPerMessage: median(runs[path].map((r) => (r.sender.writes ?? 0) / w.messages)) } : {}),
      };
    }
    const rate = (p: Path) => (row[p] as { msgsPerSecond: number }).msgsPerSecond;
    row.ratios = { vsNet: rate('tcpverbs') / rate('net'), vsRaw: rate('tcpverbs') / rate('raw') };
    results.push(row);
    process.stderr.write('\n');
    const fmt = (p: Path) => { const x = row[p] as { msgsPerSecond: number; gbitPerSecond: number; cpuSecondsPerGB: number }; return `${(x.msgsPerSecond / 1e3).toFixed(0)} k msg/s ${x.gbitPerSecond.toFixed(2)} Gbit/s ${x.cpuSecondsPerGB.toFixed(1)} cpu-s/GB`; };
    console.log(`${w.size} B, window ${w.window}: tcpverbs ${fmt('tcpverbs')} | net ${fmt('net')} | raw ${fmt('raw')} | ×net ${(row.ratios as { vsNet: number }).vsNet.toFixed(2)} ×raw ${(row.ratios as { vsRaw: number }).vsRaw.toFixed(2)}`);
  }
  const iperf = Array.from({ length: Math.min(ROUNDS, 3) }, () => iperf3(2));
  const iperf3Gbit = iperf.includes(null) ? null : median(iperf as number[]);
  console.log(iperf3Gbit === null ? 'iperf3: not installed (apt-get install iperf3): no kernel ceiling measured' : `iperf3 single stream: ${iperf3Gbit.toFixed(2)} Gbit/s`);
  writeFileSync(resolve(ROOT, 'bench/results-two-process.json'), `${JSON.stringify({ rounds: ROUNDS, node: process.version, iperf3Gbit, results }, null, 2)}\n`);
}

await main();
