import { DEVICE_LIMITS } from '../abi/limits.js';

/** The perftest programs this port has: ib_<name> in perftest. */
export const PERF_TESTS = ['send_bw', 'write_bw', 'read_bw', 'atomic_bw', 'send_lat', 'write_lat', 'read_lat', 'atomic_lat'] as const;
export type PerfTest = (typeof PERF_TESTS)[number];
export type PerfVerb = 'send' | 'write' | 'read' | 'atomic';

export interface PerfOptions {
  readonly test: PerfTest;
  /** Client when set; the server listens. */
  readonly host?: string;
  readonly port: number;
  /** Message sizes, in order: one with -s, 2..2^23 with -a. */
  readonly sizes: readonly number[];
  /** -n: iterations per size (ignored with -D). */
  readonly iters: number;
  /** -D: seconds per size instead of a count; 0 when unset. */
  readonly durationSeconds: number;
  /** -t: send queue depth (WRs in flight). */
  readonly txDepth: number;
  /** -r: receives posted ahead (send tests). */
  readonly rxDepth: number;
  /** -Q: one signaled WR every cqMod. */
  readonly cqMod: number;
  /** --warmup: iterations run before the measured ones (not recorded). */
  readonly warmupIters: number;
  /** -e: sleep on completion events instead of busy polling. */
  readonly useEvents: boolean;
  readonly reportGbits: boolean;
}

export const verbOf = (test: PerfTest): PerfVerb => test.slice(0, test.indexOf('_')) as PerfVerb;
export const isLatency = (test: PerfTest): boolean => test.endsWith('_lat');

/** perftest's defaults, per kind of test. */
/**
 * Latency iterations run unrecorded first: for its first few thousand round trips V8 is still
 * compiling the hot path, and those millisecond stalls are the runtime's, not the stack's (measured:
 * the p99 of 2000-sample windows fell from ~2 ms in the first 4000 iterations to ~40 µs after).
 */
const LATENCY_WARMUP = 5000;

export function perfDefaults(test: PerfTest): { size: number; iters: number; txDepth: number; cqMod: number; warmupIters: number } {
  if (isLatency(test)) return { size: verbOf(test) === 'atomic' ? 8 : 2, iters: 1000, txDepth: 1, cqMod: 1, warmupIters: LATENCY_WARMUP };
  return { size: verbOf(test) === 'atomic' ? 8 : 65536, iters: 5000, txDepth: 128, cqMod: 100, warmupIters: 0 };
}

/** -a: every power of two from 2 bytes to 8 MiB (perftest's range), atomics 8 bytes only. */
export function allSizes(test: PerfTest): number[] {
  if (verbOf(test) === 'atomic') return [8];
  return Array.from({ length: 23 }, (_, i) => 2 ** (i + 1));
}

export class PerfOptionError extends Error {}

/** Checks what perftest would refuse, and what this stack's limits refuse, before anything is opened. */
export function checkPerfOptions(o: PerfOptions): PerfOptions {
  const fail = (message: string): never => { throw new PerfOptionError(message); };
  if (!PERF_TESTS.includes(o.test)) fail(`unknown test ${JSON.stringify(o.test)}; tests are ${PERF_TESTS.join(', ')}`);
  if (verbOf(o.test) === 'atomic' && o.sizes.some((s) => s !== 8)) fail(`atomic tests move 8 bytes; -s ${o.sizes.find((s) => s !== 8)} is not allowed`);
  for (const size of o.sizes) if (!Number.isInteger(size) || size < 1 || size > DEVICE_LIMITS.maxMsgSize) fail(`size must be an integer in 1..${DEVICE_LIMITS.maxMsgSize}, got ${size}`);
  if (o.durationSeconds === 0 && o.iters < 5) fail(`iterations must be at least 5 (perftest's minimum), got ${o.iters}`);
  if (o.txDepth < 1 || o.txDepth > DEVICE_LIMITS.maxQpWr) fail(`tx depth must be in 1..${DEVICE_LIMITS.maxQpWr}, got ${o.txDepth}`);
  if (o.rxDepth < 1 || o.rxDepth > DEVICE_LIMITS.maxQpWr) fail(`rx depth must be in 1..${DEVICE_LIMITS.maxQpWr}, got ${o.rxDepth}`);
  if (o.cqMod < 1 || o.cqMod > o.txDepth) fail(`CQ moderation (-Q ${o.cqMod}) must be in 1..tx depth (${o.txDepth})`);
  if (!Number.isInteger(o.warmupIters) || o.warmupIters < 0) fail(`warm-up iterations must be a non-negative integer, got ${o.warmupIters}`);
  if (isLatency(o.test) && o.txDepth !== 1) fail(`latency tests keep one message in flight; -t ${o.txDepth} is not allowed`);
  return o;
}
