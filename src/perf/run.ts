import { SendFlags } from '../index.js';
import { ControlChannel, openConnections } from './control.js';
import { PerfEndpoint, countersPerMessage, type PeerAddress } from './endpoint.js';
import { bandwidthFigures, receiveSends, runBandwidth } from './bandwidth.js';
import { latencyFigures, runLatency } from './latency.js';
import { banner, bandwidthRow, closingRule, columnsHeader, latencyRow } from './report.js';
import { checkPerfOptions, isLatency, verbOf, type PerfOptions } from './options.js';
import { runsSingleThreaded } from './v8-threads.js';

/** What one side spent on one size: CPU seconds and the data path's counters per message. */
export interface SideCost {
  readonly cpuSeconds: number;
  /** The side ran V8 without helper threads (`node --single-threaded`, perf's default). */
  readonly v8SingleThreaded: boolean;
  readonly counters: ReturnType<typeof countersPerMessage>;
}

/** One line of perftest's table, as data (`--json`). Bandwidth rows have bw*, latency rows t*. */
export interface PerfRow {
  readonly test: string;
  readonly size: number;
  readonly iterations: number;
  readonly bwPeakBytesPerSecond?: number;
  readonly bwAverageBytesPerSecond?: number;
  readonly msgRatePerSecond?: number;
  readonly latencyUsec?: ReturnType<typeof latencyFigures>;
  readonly client: SideCost;
  readonly server: SideCost;
}

/**
 * The control exchange's version: 2 since a bandwidth warm-up ends each of its parts with a
 * round trip (warmupParts); a side of another version is refused at the hello, by name.
 */
const PERF_PROTOCOL = 2;

export interface Hello { type: 'hello'; protocol: number; test: string; sizes: number[]; iters: number; durationSeconds: number; warmupIters: number; address: PeerAddress }
interface Done { type: 'done'; row?: Omit<PerfRow, 'server'>; cost?: SideCost }
/** The client's bandwidth warm-up is over (every warm-up WR complete); the server's echo: counters sampled. */
interface Measure { type: 'measure' }

export interface PerfIo {
  /** A line of perftest's output. */
  readonly log: (line: string) => void;
  /** Each row as data, when asked for (`--json`). */
  readonly row?: (row: PerfRow) => void;
  readonly onListening?: (port: number) => void;
}

/** Runs one side of a perftest program: the server without `host`, the client with it. */
export async function runPerf(requested: PerfOptions, io: PerfIo): Promise<PerfRow[]> {
  const options = checkPerfOptions(requested);
  const endpoint = new PerfEndpoint(options);
  let control: ControlChannel | null = null;
  try {
    const connections = await openConnections(options.host, options.port, io.onListening);
    control = connections.control;
    const mine: Hello = { type: 'hello', protocol: PERF_PROTOCOL, test: options.test, sizes: [...options.sizes], iters: options.iters, durationSeconds: options.durationSeconds, warmupIters: options.warmupIters, address: endpoint.address };
    control.send(mine);
    const theirs = await control.expect<Hello>('hello');
    refuseMismatch(mine, theirs);
    const maxSize = Math.max(...options.sizes);
    if (verbOf(options.test) === 'send') endpoint.postRecvs(options.rxDepth, maxSize);
    endpoint.connect(connections.data, theirs.address);
    for (const line of banner(options, endpoint.address, theirs.address, runsSingleThreaded())) io.log(line);
    io.log(columnsHeader(options));
    const rows: PerfRow[] = [];
    for (const size of options.sizes) {
      control.send({ type: 'ready', size });
      await control.expect('ready');
      const row = options.host === undefined ? await serve(endpoint, control, size, theirs.address) : await drive(endpoint, control, size, theirs.address);
      io.log(row.latencyUsec === undefined ? bandwidthRow(options, size, row.iterations, row.bwPeakBytesPerSecond!, row.bwAverageBytesPerSecond!, row.msgRatePerSecond!) : latencyRow(size, row.iterations, row.latencyUsec));
      io.row?.(row);
      rows.push(row);
    }
    io.log(closingRule());
    return rows;
  } finally {
    // Let the last ACKs leave before the sockets close under the peer.
    await new Promise((resolve) => setTimeout(resolve, 20));
    control?.close();
    endpoint.close();
  }
}

/**
 * The passive side of a READ, WRITE or atomic test has nothing to poll: its NIC answers. Busy
 * polling keeps this process (the NIC) spinning on its event loop meanwhile, as a polling NIC
 * would; with -e it sleeps, and every request pays the wake-up.
 */
async function idleUntil<T>(endpoint: PerfEndpoint, promise: Promise<T>): Promise<T> {
  if (endpoint.options.useEvents) return promise;
  let settled = false;
  const watched = promise.finally(() => { settled = true; });
  while (!settled) await new Promise((resolve) => setImmediate(resolve));
  return watched;
}

export function refuseMismatch(mine: Hello, theirs: Hello): void {
  if (theirs.protocol !== mine.protocol) {
    throw new Error(`the peer runs another version of tcpverbs perf (control protocol ${theirs.protocol ?? 1}, this side ${mine.protocol}): run the same tcpverbs on both sides`);
  }
  const describe = (h: Hello) => `${h.test} with sizes ${h.sizes.length === 1 ? h.sizes[0] : `${h.sizes[0]}..${h.sizes.at(-1)}`}, ${h.durationSeconds > 0 ? `-D ${h.durationSeconds}` : `-n ${h.iters}`}, --warmup ${h.warmupIters}`;
  if (mine.test !== theirs.test || mine.sizes.join() !== theirs.sizes.join() || mine.iters !== theirs.iters || mine.durationSeconds !== theirs.durationSeconds || mine.warmupIters !== theirs.warmupIters) {
    throw new Error(`the two sides disagree: this side runs ${describe(mine)}, the peer ${describe(theirs)}; give both the same test and -s/-a/-n/-D/--warmup`);
  }
}

/**
 * A bandwidth warm-up of `iters` WRs, as the runs it is made of: a half, then two quarters, each
 * ended by a control round trip (one run under 4 WRs). What the measured run met first, a fresh
 * run's closures and the control socket's traffic through Node's stream code, made V8 deoptimize
 * and recompile on the main thread (node --single-threaded) inside the timed window: after one
 * warm-up run, 32 compilations and 52 ms, the first twentieth of a 2 M run at 64 B at 0.68 M
 * msg/s against 2.1 M after; after two, the first twentieth still at 1.3-1.45 M; after three, at
 * the rate of the rest.
 */
export function warmupParts(iters: number): number[] {
  if (iters <= 0) return [];
  const quarter = Math.floor(iters / 4);
  return quarter === 0 ? [iters] : [iters - 2 * quarter, quarter, quarter];
}

function measure(endpoint: PerfEndpoint) {
  const counters = endpoint.counters();
  const cpu = process.cpuUsage();
  return (messages: number): SideCost => {
    const used = process.cpuUsage(cpu);
    return { cpuSeconds: (used.user + used.system) / 1e6, v8SingleThreaded: runsSingleThreaded(), counters: countersPerMessage(counters, endpoint.counters(), Math.max(1, messages)) };
  };
}

/** The client: runs the test and sends its row; the server answers with what it spent. */
async function drive(endpoint: PerfEndpoint, control: ControlChannel, size: number, remote: PeerAddress): Promise<PerfRow> {
  const { options } = endpoint;
  let cost = measure(endpoint);
  let row: Omit<PerfRow, 'server'>;
  if (isLatency(options.test)) {
    const samples = await runLatency(endpoint, remote, size, options, true);
    if (samples.length === 0) throw new Error('no latency sample was taken: raise -n or -D');
    row = { test: options.test, size, iterations: samples.length, latencyUsec: latencyFigures(samples), client: cost(samples.length) };
  } else {
    // Warm-up WRs (--warmup) go first, untimed: the JIT and the kernel's socket buffers settle.
    for (const part of warmupParts(options.warmupIters)) {
      await runBandwidth(endpoint, remote, size, { iters: part, durationSeconds: 0 });
      // Every warm-up WR is complete, so the peer's NIC has taken all of them and no measured one
      // is sent yet: after the last part the server samples its counters now, and says so.
      control.send({ type: 'measure' } satisfies Measure);
      await control.expect<Measure>('measure');
    }
    cost = measure(endpoint);
    const samples = await runBandwidth(endpoint, remote, size, options);
    if (options.test === 'send_bw') {
      // The zero-length SEND that ends the server's receive loop (not counted).
      endpoint.qp.postSend({ wrId: BigInt(samples.iterations), opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [] });
      await endpoint.completions(1);
    }
    const f = bandwidthFigures(samples, options.cqMod);
    row = { test: options.test, size, iterations: samples.iterations, bwPeakBytesPerSecond: f.peakBytesPerSecond, bwAverageBytesPerSecond: f.averageBytesPerSecond, msgRatePerSecond: f.messagesPerSecond, client: cost(samples.iterations) };
  }
  control.send({ type: 'done', row } satisfies Done);
  const reply = await control.expect<Done>('done');
  return { ...row, server: reply.cost! };
}

/** The server: the passive half of the test, then the client's row with its own cost added. */
async function serve(endpoint: PerfEndpoint, control: ControlChannel, size: number, remote: PeerAddress): Promise<PerfRow> {
  const { options } = endpoint;
  let cost = measure(endpoint);
  let handled = 0;
  // Each part of a bandwidth warm-up ends when the client says so (see drive): the counters are
  // sampled at the end of the last.
  const parts = isLatency(options.test) ? [] : warmupParts(options.warmupIters);
  const warmedUp = parts.length > 0
    ? (async () => {
      for (let part = 0; part < parts.length; part++) {
        await control.expect<Measure>('measure');
        if (part === parts.length - 1) cost = measure(endpoint);
        control.send({ type: 'measure' } satisfies Measure);
      }
    })()
    : null;
  // Awaited below, where a failure of the control connection is reported; not unhandled meanwhile.
  warmedUp?.catch(() => {});
  if (isLatency(options.test)) handled = (await runLatency(endpoint, remote, size, options, false)).length;
  else if (options.test === 'send_bw') handled = await receiveSends(endpoint, Math.max(...options.sizes));
  if (warmedUp !== null) await idleUntil(endpoint, warmedUp);
  const done = await idleUntil(endpoint, control.expect<Done>('done'));
  const row = done.row!;
  const spent = cost(handled > 0 ? handled : row.iterations);
  control.send({ type: 'done', cost: spent } satisfies Done);
  return { ...row, server: spent };
}
