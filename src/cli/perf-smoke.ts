import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { PerfRow } from '../perf/run.js';
import type { Stage } from './stages.js';

/** This CLI as it was started (tsx in the repository, dist/ in the installed package). */
const self = () => [...process.execArgv, process.argv[1] ?? 'tcpverbs'];

/** One `tcpverbs perf` pair in two processes; resolves the client's JSON row. */
async function perfPair(test: string, flags: string[]): Promise<PerfRow> {
  const run = (args: string[], onLine: (line: string) => void) => new Promise<PerfRow[]>((resolve, reject) => {
    const child = spawn(process.execPath, [...self(), 'perf', test, ...args, ...flags, '--json'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const rows: PerfRow[] = [];
    const other: string[] = [];
    createInterface({ input: child.stderr }).on('line', (line) => {
      onLine(line);
      if (line.startsWith('{')) rows.push(JSON.parse(line) as PerfRow);
      else other.push(line);
    });
    child.once('exit', (code) => (code === 0 ? resolve(rows) : reject(new Error(`perf ${test} ${args.join(' ')} exited ${code}: ${other.join(' | ')}`))));
  });
  let announce: (port: number) => void = () => {};
  const port = new Promise<number>((resolve) => { announce = resolve; });
  const server = run(['-p', '0'], (line) => { const m = /^listening on port (\d+)$/.exec(line); if (m) announce(Number(m[1])); });
  const client = run(['127.0.0.1', '-p', String(await port)], () => {});
  const [, rows] = await Promise.all([server, client]);
  if (rows[0] === undefined) throw new Error(`perf ${test} printed no result row`);
  return rows[0];
}

/**
 * A short smoke of `npm run bench`: tcpverbs perf in two processes. It checks what the counters
 * promise, never a timing: small SENDs share reads, 64 KiB SENDs are placed with no copy.
 */
export const perfSmokeStage: Stage = {
  name: 'perf',
  title: 'tcpverbs perf in two processes: send_bw 64 B and 64 KiB, send_lat (counters, not timings)',
  run: async (progress) => {
    const small = await perfPair('send_bw', ['-s', '64', '-n', '20000', '-t', '64', '-Q', '16', '-r', '128']);
    progress(1, 3);
    const large = await perfPair('send_bw', ['-s', '65536', '-n', '500', '-t', '16', '-Q', '4', '-r', '32']);
    progress(2, 3);
    const lat = await perfPair('send_lat', ['-s', '64', '-n', '500']);
    progress(3, 3);
    const readsPerSmall = small.server.counters.readsPerMessage;
    const problems = [
      ...(readsPerSmall <= 0.5 ? [] : [`64 B SENDs: ${readsPerSmall.toFixed(3)} reads per message at the receiver; the staging ring should take many per read (≤ 0.5)`]),
      ...(large.server.counters.rxCopiedBytesPerMessage === 0 ? [] : [`64 KiB SENDs: ${large.server.counters.rxCopiedBytesPerMessage} bytes copied per message at the receiver; at and above the copybreak there must be none`]),
      ...(large.client.counters.txCopiedBytesPerMessage === 0 ? [] : [`64 KiB SENDs: ${large.client.counters.txCopiedBytesPerMessage} bytes copied per message at the sender; they must go out from the MR`]),
      ...(lat.iterations === 500 ? [] : [`send_lat took ${lat.iterations} samples instead of 500`]),
    ];
    const mpps = (row: PerfRow) => ((row.msgRatePerSecond ?? 0) / 1e3).toFixed(0);
    return {
      ok: problems.length === 0,
      summary: `64 B ${mpps(small)} k msg/s (${readsPerSmall.toFixed(3)} reads/msg), 64 KiB ${(((large.bwAverageBytesPerSecond ?? 0) * 8) / 1e9).toFixed(2)} Gbit/s (0 copies), 64 B latency p50 ${lat.latencyUsec!.typical.toFixed(1)} µs`,
      details: problems,
    };
  },
};
