import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { PERF_TESTS, PerfOptionError, checkPerfOptions, perfDefaults, type PerfOptions, type PerfTest } from '../src/perf/options.js';
import { refuseMismatch, runPerf, warmupParts, type Hello, type PerfRow } from '../src/perf/run.js';
import { bandwidthFigures } from '../src/perf/bandwidth.js';
import { latencyFigures } from '../src/perf/latency.js';

const ROOT = resolve(import.meta.dirname, '..');

function options(test: PerfTest, extra: Partial<PerfOptions> = {}): PerfOptions {
  const d = perfDefaults(test);
  return { test, port: 0, sizes: [d.size], iters: 200, durationSeconds: 0, txDepth: d.txDepth, rxDepth: 64, cqMod: Math.min(d.cqMod, d.txDepth, 16), warmupIters: 0, useEvents: false, reportGbits: false, ...extra };
}

/** Server and client of one test in this process, over loopback: both sides' output and rows. */
async function pair(o: PerfOptions) {
  const lines = { server: [] as string[], client: [] as string[] };
  const rows = { server: [] as PerfRow[], client: [] as PerfRow[] };
  let listening: (port: number) => void = () => {};
  const port = new Promise<number>((r) => { listening = r; });
  const server = runPerf(o, { log: (l) => lines.server.push(l), row: (r) => rows.server.push(r), onListening: listening });
  const client = runPerf({ ...o, host: '127.0.0.1', port: await port }, { log: (l) => lines.client.push(l), row: (r) => rows.client.push(r) });
  await Promise.all([server, client]);
  return { lines, rows };
}

const BW_COLUMNS = ' #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]';
const LAT_COLUMNS = ' #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec] ';

describe('tcpverbs perf (the perftest port): every test, both sides, perftest\'s columns', () => {
  it.each(PERF_TESTS.map((t) => [t]))('%s runs between a server and a client and both print the same result row', async (test) => {
    const { lines, rows } = await pair(options(test));
    const columns = test.endsWith('_lat') ? LAT_COLUMNS : BW_COLUMNS;
    expect(lines.client).toContain(columns);
    expect(lines.server).toContain(columns);
    const row = rows.client[0]!;
    expect(row.iterations).toBe(200);
    expect(rows.server[0]).toEqual(row);
    if (test.endsWith('_lat')) {
      const t = row.latencyUsec!;
      expect(t.min).toBeGreaterThan(0);
      expect(t.min).toBeLessThanOrEqual(t.typical);
      expect(t.typical).toBeLessThanOrEqual(t.p99);
      expect(t.p99).toBeLessThanOrEqual(t.max);
    } else {
      expect(row.bwAverageBytesPerSecond).toBeGreaterThan(0);
      expect(row.bwPeakBytesPerSecond).toBeGreaterThanOrEqual(row.bwAverageBytesPerSecond!);
      expect(row.msgRatePerSecond! * options(test).sizes[0]!).toBeCloseTo(row.bwAverageBytesPerSecond!, 0);
    }
    const printed = lines.client[lines.client.indexOf(columns) + 1]!.trim().split(/\s+/);
    expect(printed.slice(0, 2)).toEqual([String(row.size), '200']);
  });

  it('send_bw counts every message at the server, with its counters: small SENDs share reads, and -e sleeps instead of polling', async () => {
    const { rows } = await pair(options('send_bw', { sizes: [64], iters: 5000, txDepth: 64, cqMod: 16, useEvents: true, warmupIters: 1000 }));
    const row = rows.client[0]!;
    expect(row.iterations).toBe(5000);
    expect(row.server.counters.framesReceivedPerMessage).toBeGreaterThanOrEqual(1);
    expect(row.server.counters.readsPerMessage).toBeLessThan(0.5);
    expect(row.server.counters.rxCopiedBytesPerMessage).toBe(64);
  });

  it('a bandwidth warm-up runs as a half and two quarters, and the server\'s counters cover the measured messages only', async () => {
    expect(warmupParts(0)).toEqual([]);
    expect(warmupParts(3)).toEqual([3]);
    expect(warmupParts(400_000)).toEqual([200_000, 100_000, 100_000]);
    for (const n of [1, 4, 5, 1001]) expect(warmupParts(n).reduce((a, b) => a + b)).toBe(n);
    const { rows } = await pair(options('send_bw', { sizes: [64], iters: 2000, txDepth: 64, cqMod: 16, warmupIters: 1001 }));
    const row = rows.client[0]!;
    expect(row.iterations).toBe(2000);
    // Sampled at the end of an earlier part, the server's counters would hold the later parts'
    // SENDs too (250 or 500 of them: 1.125 or 1.25 frames per message); at the start, all 1001 (1.5).
    expect(row.server.counters.framesReceivedPerMessage).toBeGreaterThanOrEqual(1);
    expect(row.server.counters.framesReceivedPerMessage).toBeLessThan(1.01);
  });

  it('-a runs every size from 2 to 2^23 in order; -D runs for a duration instead of a count', async () => {
    const all = await pair(options('write_bw', { sizes: Array.from({ length: 23 }, (_, i) => 2 ** (i + 1)), iters: 5, txDepth: 16, cqMod: 4 }));
    expect(all.rows.client.map((r) => r.size)).toEqual(Array.from({ length: 23 }, (_, i) => 2 ** (i + 1)));
    const timed = await pair(options('send_lat', { durationSeconds: 1, iters: 1000 }));
    expect(timed.rows.client[0]!.iterations).toBeGreaterThan(10);
  }, 60_000);

  it('send_bw -D with one signaled WR per window (-t 64 -Q 64, perftest\'s default -Q capped by -t): the run ends at the deadline on the last completed WR, it does not wait for one never posted', async () => {
    const started = Date.now();
    const { rows } = await pair(options('send_bw', { sizes: [64], durationSeconds: 1, txDepth: 64, cqMod: 64, rxDepth: 512 }));
    const row = rows.client[0]!;
    expect(row.iterations % 64).toBe(0);
    expect(row.iterations).toBeGreaterThan(64);
    expect(rows.server[0]).toEqual(row);
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 30_000);

  it.each([['send_lat'], ['write_lat'], ['read_lat']] as const)('%s --warmup 30 -n 50: the warm-up is not recorded; the row has exactly 50 samples, each one measured', async (test) => {
    const { rows } = await pair(options(test, { iters: 50, warmupIters: 30 }));
    const row = rows.client[0]!;
    expect(row.iterations).toBe(50);
    expect(rows.server[0]).toEqual(row);
    // A slot left unrecorded would read 0 µs.
    expect(row.latencyUsec!.min).toBeGreaterThan(0);
  });

  it('send_lat -D 1 --warmup 100: the samples are the measured iterations only, none of them an empty slot', async () => {
    const { rows } = await pair(options('send_lat', { durationSeconds: 1, iters: 1000, warmupIters: 100 }));
    const row = rows.client[0]!;
    expect(row.iterations).toBeGreaterThan(10);
    expect(row.latencyUsec!.min).toBeGreaterThan(0);
  }, 30_000);

  it('a peer of another control protocol (before the warm-up in parts: none in its hello) is refused at the hello, by name', () => {
    const mine: Hello = { type: 'hello', protocol: 2, test: 'send_bw', sizes: [64], iters: 10, durationSeconds: 0, warmupIters: 8, address: { qpNum: 1, psn: 0, addr: 0, rkey: 0 } };
    const { protocol: _, ...older } = mine;
    expect(() => refuseMismatch(mine, older as Hello)).toThrow('the peer runs another version of tcpverbs perf (control protocol 1, this side 2)');
    expect(() => refuseMismatch(mine, { ...mine })).not.toThrow();
  });

  it('the two sides must run the same test: a mismatch names what each side runs', async () => {
    let listening: (port: number) => void = () => {};
    const port = new Promise<number>((r) => { listening = r; });
    const server = runPerf(options('send_bw', { iters: 300 }), { log: () => {}, onListening: listening });
    const client = runPerf({ ...options('send_bw', { iters: 200 }), host: '127.0.0.1', port: await port }, { log: () => {} });
    await expect(client).rejects.toThrow('this side runs send_bw with sizes 65536, -n 200, --warmup 0, the peer send_bw with sizes 65536, -n 300, --warmup 0');
    await expect(server).rejects.toThrow('the two sides disagree');
  });

  it('options perftest or this stack refuses are refused before anything is opened, saying what is allowed', () => {
    expect(() => checkPerfOptions(options('atomic_bw', { sizes: [4] }))).toThrow(new PerfOptionError('atomic tests move 8 bytes; -s 4 is not allowed'));
    expect(() => checkPerfOptions(options('send_lat', { txDepth: 4 }))).toThrow('latency tests keep one message in flight; -t 4 is not allowed');
    expect(() => checkPerfOptions(options('send_bw', { cqMod: 200, txDepth: 128 }))).toThrow('CQ moderation (-Q 200) must be in 1..tx depth (128)');
    expect(() => checkPerfOptions(options('send_bw', { iters: 4 }))).toThrow('iterations must be at least 5');
    expect(() => checkPerfOptions(options('send_bw', { sizes: [2 ** 31] }))).toThrow('size must be an integer in 1..1073741824');
  });
});

describe('perftest\'s figures', () => {
  it('bandwidth: the average over the run, the peak over the best stretch of signaled WRs', () => {
    // 10 WRs of 1000 bytes posted at t = i ms, each completed 1 ms later: 1 MB/s on average...
    const posted = Float64Array.from({ length: 10 }, (_, i) => i);
    const completed = Float64Array.from({ length: 10 }, (_, i) => i + 1);
    const f = bandwidthFigures({ size: 1000, iterations: 10, posted, completed }, 1);
    expect(f.seconds).toBeCloseTo(0.01, 9);
    expect(f.averageBytesPerSecond).toBeCloseTo(1e6, 3);
    expect(f.messagesPerSecond).toBeCloseTo(1000, 3);
    // ...and the best stretch (all ten in 10 ms) is no better than the average here.
    expect(f.peakBytesPerSecond).toBeCloseTo(1e6, 3);
  });

  it('bandwidth: a best stretch of a single WR sets the peak at that WR\'s own rate', () => {
    // 10 WRs of 1000 bytes posted at t = i ms; each completes 1 ms after it was posted, except WR 4,
    // which completes 0.1 ms after its post: alone it ran at 10 MB/s, every longer stretch is slower.
    const posted = Float64Array.from({ length: 10 }, (_, i) => i);
    const completed = Float64Array.from({ length: 10 }, (_, i) => (i === 4 ? 4.1 : i + 1));
    const f = bandwidthFigures({ size: 1000, iterations: 10, posted, completed }, 1);
    expect(f.averageBytesPerSecond).toBeCloseTo(1e6, 3);
    expect(f.peakBytesPerSecond).toBeCloseTo(1e7, 0);
  });

  it('latency: min, max, median, mean, population stdev and the 99th / 99.9th percentiles', () => {
    const samples = Float64Array.from({ length: 1000 }, (_, i) => i + 1);
    const f = latencyFigures(samples);
    expect(f).toMatchObject({ min: 1, max: 1000, typical: 500, p99: 990, p999: 999 });
    expect(f.avg).toBeCloseTo(500.5, 9);
    expect(f.stdev).toBeCloseTo(Math.sqrt((1000 ** 2 - 1) / 12), 6);
  });
});

describe('tcpverbs perf in two processes (the CLI)', () => {
  /** Runs `tcpverbs perf <args>` as the server, then the client; resolves both outputs. */
  async function cli(args: string[]): Promise<{ server: string; client: string; serverErr: string[]; clientErr: string[] }> {
    const run = (extra: string[], onLine: (line: string) => void) => new Promise<string>((resolveRun, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/cli/main.ts'), 'perf', ...args, ...extra], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
      createInterface({ input: child.stderr }).on('line', onLine);
      child.once('exit', (code) => (code === 0 ? resolveRun(out) : reject(new Error(`perf ${args.join(' ')} exited ${code}`))));
    });
    let listening: (port: number) => void = () => {};
    const port = new Promise<number>((r) => { listening = r; });
    const serverErr: string[] = [];
    const clientErr: string[] = [];
    const server = run(['-p', '0'], (line) => { serverErr.push(line); const m = /^listening on port (\d+)$/.exec(line); if (m) listening(Number(m[1])); });
    const client = run(['127.0.0.1', '-p', String(await port)], (line) => clientErr.push(line));
    const [s, c] = await Promise.all([server, client]);
    return { server: s, client: c, serverErr, clientErr };
  }

  it('send_bw and send_lat print perftest\'s banner and columns on both sides', async () => {
    const bw = await cli(['send_bw', '-s', '4096', '-n', '2000']);
    expect(bw.client).toContain('Send BW Test');
    expect(bw.client).toContain(BW_COLUMNS);
    expect(bw.client).toMatch(/\n 4096 +2000 +\d+\.\d\d +\d+\.\d\d\t\t {3}\d\.\d{6}\n/);
    expect(bw.server).toContain(BW_COLUMNS);
    // Both sides re-executed themselves without V8's helper threads (src/cli/single-threaded.ts).
    for (const out of [bw.client, bw.server]) expect(out).toContain(' V8 threads      : main only (--single-threaded)');
    const lat = await cli(['send_lat', '-s', '64', '-n', '500', '--warmup', '100']);
    expect(lat.client).toContain('Send Latency Test');
    expect(lat.client).toContain(LAT_COLUMNS);
    expect(lat.client).toMatch(/\n 64 +500( +\d+\.\d\d){7}\n/);
  }, 60_000);

  it.each(['send_bw', 'write_bw'])('%s --warmup 200 -n 10 --json: the warm-up is not counted in either side\'s cost (about one frame per measured message, not 21)', async (test) => {
    const out = await cli([test, '--warmup', '200', '-n', '10', '--json']);
    const rowOf = (lines: string[]) => JSON.parse(lines.find((l) => l.startsWith('{'))!) as PerfRow;
    const row = rowOf(out.clientErr);
    expect(row.iterations).toBe(10);
    // 10 requests (and, for send_bw, the zero-length SEND that ends the run): 1 to 1.1 frames per message.
    expect(row.client.counters.framesSentPerMessage).toBeGreaterThanOrEqual(1);
    expect(row.client.counters.framesSentPerMessage).toBeLessThan(2);
    // The server samples its counters when the client says the warm-up is over (every warm-up WR
    // complete, no measured one sent): neither an undercount nor the 200 warm-up frames.
    expect(row.server.counters.framesReceivedPerMessage).toBeGreaterThanOrEqual(1);
    expect(row.server.counters.framesReceivedPerMessage).toBeLessThan(2);
    expect(rowOf(out.serverErr).server).toEqual(row.server);
    expect([row.client.v8SingleThreaded, row.server.v8SingleThreaded]).toEqual([true, true]);
  }, 60_000);

  it('--v8-helper-threads runs in the process started, with V8\'s helper threads, and says so in the banner and the row', async () => {
    const out = await cli(['send_bw', '-n', '100', '--json', '--v8-helper-threads']);
    const row = JSON.parse(out.clientErr.find((l) => l.startsWith('{'))!) as PerfRow;
    expect([row.client.v8SingleThreaded, row.server.v8SingleThreaded]).toEqual([false, false]);
    for (const text of [out.client, out.server]) expect(text).toContain(' V8 threads      : main + V8 helpers');
  }, 60_000);
});
