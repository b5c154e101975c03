// The module's binding: the global `performance` is a lazy accessor, a call through a getter per read.
import { performance } from 'node:perf_hooks';
import { SendFlags } from '../index.js';
import type { SendWr } from '../index.js';
import type { PeerAddress, PerfEndpoint } from './endpoint.js';
import { verbOf } from './options.js';
import { residentTimes } from './resident-times.js';

/** What one bandwidth run measured (perftest's tposted/tcompleted, in milliseconds). */
export interface BwSamples {
  readonly size: number;
  readonly iterations: number;
  /** When WR i was posted. */
  readonly posted: Float64Array;
  /** When the completion covering WR i was polled. */
  readonly completed: Float64Array;
}

/** How many WRs a run posts: the count, or (with -D) as many as fit the duration. */
export interface RunLength {
  readonly iters: number;
  readonly durationSeconds: number;
}

/** Most WRs a -D run records timestamps for: bounds its memory whatever the duration. */
const MAX_TIMED = 1 << 22;

/**
 * The WR for index `index`: unsignaled WRs share one object per run (the verbs layer reads a WR
 * when it is posted and keeps nothing of it), as perftest reuses its ibv_send_wr; a signaled WR
 * carries its index as wrId, which is how completions are counted.
 */
function workRequests(endpoint: PerfEndpoint, remote: PeerAddress, size: number): (index: number, signaled: boolean) => SendWr {
  // One SGE list (and remote address) for every WR of the run: the verbs layer copies what it checks at post.
  const sgList = [endpoint.sge(size)];
  const verb = verbOf(endpoint.options.test);
  const rdma = { remoteAddr: remote.addr, rkey: remote.rkey };
  const atomic = { remoteAddr: remote.addr, rkey: remote.rkey, compareAdd: 1n, swap: 0n };
  const make = (wrId: bigint, sendFlags: number): SendWr => {
    switch (verb) {
      case 'send':
        return { wrId, opcode: 'SEND', sendFlags, sgList };
      case 'write':
        return { wrId, opcode: 'RDMA_WRITE', sendFlags, sgList, rdma };
      case 'read':
        return { wrId, opcode: 'RDMA_READ', sendFlags, sgList, rdma };
      case 'atomic':
        return { wrId, opcode: 'ATOMIC_FETCH_AND_ADD', sendFlags, sgList, atomic };
    }
  };
  const unsignaled = make(0n, 0);
  return (index, signaled) => (signaled ? make(BigInt(index), SendFlags.SIGNALED) : unsignaled);
}

/**
 * The requester's loop of ib_*_bw: keeps up to tx depth WRs posted, one signaled every cqMod (and
 * the last), and counts a signaled completion for every WR before it (completions come in order).
 */
export async function runBandwidth(endpoint: PerfEndpoint, remote: PeerAddress, size: number, length: RunLength): Promise<BwSamples> {
  const { txDepth, cqMod } = endpoint.options;
  const workRequest = workRequests(endpoint, remote, size);
  const timed = length.durationSeconds > 0 ? MAX_TIMED : length.iters;
  const posted = residentTimes(timed, length.durationSeconds === 0);
  const completed = residentTimes(timed, length.durationSeconds === 0);
  const deadline = length.durationSeconds > 0 ? performance.now() + length.durationSeconds * 1000 : Infinity;
  let total = length.durationSeconds > 0 ? timed : length.iters;
  let next = 0;
  let done = 0;
  // The next WR to signal: every cqMod-th (a comparison per WR instead of a division).
  let nextSignaled = cqMod - 1;
  // One list per length, refilled for every post of that many WRs (ibv_post_send reads the list
  // while it runs and keeps nothing of it), as perftest reuses its WR chain.
  const batches: SendWr[][] = [];
  const post = (): void => {
    if (next >= total || next - done >= txDepth) return;
    const now = performance.now();
    // With -D the run ends at the deadline, on a signaled WR, so that every WR is accounted for.
    if (now >= deadline && total === timed) total = Math.min(timed, Math.ceil(Math.max(next, 1) / cqMod) * cqMod);
    const count = Math.min(total - next, txDepth - (next - done));
    if (count <= 0) return;
    const batch = (batches[count] ??= new Array<SendWr>(count));
    for (let i = 0; i < count; i++, next++) {
      const signaled = next === nextSignaled;
      if (signaled) nextSignaled += cqMod;
      batch[i] = workRequest(next, signaled || next === total - 1);
      posted[next] = now;
    }
    endpoint.qp.postSend(batch);
  };
  post();
  // The window is refilled in the same turn as the completions that free it.
  await endpoint.eachCompletions(Math.max(16, Math.ceil(txDepth / cqMod)), (wcs) => {
    // The completions of one poll were all found at this moment.
    const now = performance.now();
    for (let w = 0; w < wcs.length; w++) {
      const through = Number(wcs[w]!.wrId) + 1;
      for (let i = done; i < through; i++) completed[i] = now;
      done = through;
    }
    if (done >= total) return false;
    post();
    // A -D deadline passed in post() may have ended the run at the last completed WR.
    return done < total;
  });
  return { size, iterations: total, posted: posted.subarray(0, total), completed: completed.subarray(0, total) };
}

/**
 * The responder's part of ib_send_bw: receives kept posted (rx depth), reposted as they complete,
 * until the client's zero-length SEND says the run is over. Returns how many measured messages
 * (after the --warmup ones) arrived.
 */
export async function receiveSends(endpoint: PerfEndpoint, size: number): Promise<number> {
  const { rxDepth, warmupIters } = endpoint.options;
  let received = 0;
  let measured = 0;
  await endpoint.eachCompletions(rxDepth, (wcs) => {
    endpoint.postRecvs(wcs.length, size);
    for (let i = 0; i < wcs.length; i++) {
      if (wcs[i]!.byteLen === 0) {
        measured = received - warmupIters;
        return false;
      }
      received++;
    }
    return true;
  });
  return measured;
}

/** perftest's bandwidth figures: the best rate over any stretch of signaled WRs, and the average. */
export function bandwidthFigures(samples: BwSamples, cqMod: number): { peakBytesPerSecond: number; averageBytesPerSecond: number; messagesPerSecond: number; seconds: number } {
  const n = samples.iterations;
  const seconds = (samples.completed[n - 1]! - samples.posted[0]!) / 1000;
  // perftest samples every cqMod-th WR; a stride keeps a long -D run's O(points²) bounded.
  const stride = Math.max(cqMod, Math.ceil(n / 1000));
  let best = Infinity;
  for (let i = 0; i < n; i += stride) {
    for (let j = i; j < n; j += stride) {
      const perMessage = (samples.completed[j]! - samples.posted[i]!) / (j - i + 1);
      if (perMessage > 0 && perMessage < best) best = perMessage;
    }
  }
  const average = (samples.size * n) / seconds;
  return { peakBytesPerSecond: Number.isFinite(best) ? Math.max(average, (samples.size * 1000) / best) : average, averageBytesPerSecond: average, messagesPerSecond: n / seconds, seconds };
}
