import { execFileSync } from 'node:child_process';
import { plainNetPingpong, plainNetStream, rawOnreadStream, tcpverbsPingpong, tcpverbsStream, type RunResult, type Workload } from './transports.js';

/**
 * `npm run bench`: tcpverbs against plain `net` and the raw onread path in the same run, each
 * measured RUNS times; medians and ratios are the result (absolute numbers on a shared machine are
 * noise). iperf3 on loopback is added when it is installed.
 */
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function measure(name: string, run: () => Promise<RunResult>): Promise<{ name: string; mbps: number; kmsgs: number; last: RunResult }> {
  const results: RunResult[] = [];
  for (let i = 0; i < RUNS; i++) {
    results.push(await run());
    process.stderr.write('.');
  }
  const mbps = median(results.map((r) => (r.bytes * 8) / r.seconds / 1e6));
  const kmsgs = median(results.map((r) => r.messages / r.seconds / 1e3));
  return { name, mbps, kmsgs, last: results.at(-1)! };
}

function iperf3(): string {
  try {
    execFileSync('iperf3', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'iperf3: not installed (apt-get install iperf3 for the kernel\'s loopback limit)';
  }
  const server = execFileSync('sh', ['-c', 'iperf3 -s -1 -p 5299 >/dev/null 2>&1 & sleep 0.5; iperf3 -c 127.0.0.1 -p 5299 -t 3 -J']).toString();
  const bps = JSON.parse(server).end.sum_received.bits_per_second as number;
  return `iperf3 loopback: ${(bps / 1e6).toFixed(0)} Mbit/s (the kernel's limit here)`;
}

const fmt = (n: number | undefined, digits = 2) => (n === undefined ? '-' : n.toFixed(digits));

async function main(): Promise<void> {
  const workloads: Workload[] = [
    { size: 64, messages: 20000, window: 64 },
    { size: 4096, messages: 10000, window: 64 },
    { size: 65536, messages: 2000, window: 16 },
  ];
  process.stderr.write(`tcpverbs bench: ${RUNS} runs each, medians\n`);
  const lines: string[] = [];
  for (const w of workloads) {
    process.stderr.write(`\n${w.size} B x ${w.messages} (window ${w.window}) `);
    const results = [
      await measure('plain net (write + data copy)', () => plainNetStream(w)),
      await measure('raw onread + cork', () => rawOnreadStream(w)),
      await measure('tcpverbs RC SEND', () => tcpverbsStream(w)),
    ];
    const base = results[0]!;
    lines.push('', `one-way ${w.size} B messages, window ${w.window}:`);
    lines.push(`  ${'path'.padEnd(30)} ${'Mbit/s'.padStart(9)} ${'kmsg/s'.padStart(8)} ${'x net'.padStart(6)} ${'copies/msg'.padStart(11)} ${'writes/msg'.padStart(11)} ${'reads/msg'.padStart(10)}`);
    for (const r of results) {
      lines.push(`  ${r.name.padEnd(30)} ${fmt(r.mbps, 0).padStart(9)} ${fmt(r.kmsgs, 1).padStart(8)} ${fmt(r.mbps / base.mbps).padStart(6)} ${fmt(r.last.copiesPerMessage).padStart(11)} ${fmt(r.last.writesPerMessage, 3).padStart(11)} ${fmt(r.last.readsPerMessage, 2).padStart(10)}`);
    }
  }
  process.stderr.write('\nping-pong ');
  for (const size of [64, 4096]) {
    const net = [];
    const verbs = [];
    for (let i = 0; i < RUNS; i++) {
      net.push(await plainNetPingpong(2000, size));
      verbs.push(await tcpverbsPingpong(2000, size));
      process.stderr.write('.');
    }
    lines.push('', `ping-pong ${size} B (usec per round trip, median): plain net ${fmt(median(net), 1)}, tcpverbs ${fmt(median(verbs), 1)} (x ${fmt(median(verbs) / median(net))})`);
  }
  lines.push('', iperf3());
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
