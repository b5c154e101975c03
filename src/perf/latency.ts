// The module's binding: the global `performance` is a lazy accessor, a call through a getter per read.
import { performance } from 'node:perf_hooks';
import { SendFlags } from '../index.js';
import type { SendWr } from '../index.js';
import type { PeerAddress, PerfEndpoint } from './endpoint.js';
import type { RunLength } from './bandwidth.js';
import { verbOf } from './options.js';
import { residentTimes } from './resident-times.js';

const now = () => performance.now();
const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));

/** Most samples a -D latency run keeps. */
const MAX_SAMPLES = 1 << 22;

/**
 * Which iterations are measured: the first `warmup` run unrecorded (V8 compiles the hot path
 * during them, and those stalls are not the stack's latency), then up to `iters` or `-D` seconds.
 */
class LatencyRecorder {
  private readonly samples: Float64Array;
  private readonly capacity: number;
  private deadline = Infinity;

  constructor(private readonly warmup: number, private readonly length: RunLength) {
    this.capacity = length.durationSeconds > 0 ? MAX_SAMPLES : length.iters;
    this.samples = residentTimes(this.capacity, length.durationSeconds === 0);
    if (warmup === 0) this.startClock();
  }

  /** The most iterations either side runs, warm-up included. */
  get limit(): number {
    return this.warmup + this.capacity;
  }

  more(done: number): boolean {
    if (done === this.warmup) this.startClock();
    return done < this.limit && now() < this.deadline;
  }

  record(done: number, usec: number): void {
    if (done >= this.warmup) this.samples[done - this.warmup] = usec;
  }

  taken(done: number): Float64Array {
    return this.samples.subarray(0, Math.max(0, done - this.warmup));
  }

  private startClock(): void {
    if (this.length.durationSeconds > 0 && this.deadline === Infinity) this.deadline = now() + this.length.durationSeconds * 1000;
  }
}

/**
 * One latency run as ib_*_lat: one message in flight. SEND and WRITE are ping-pongs and report
 * half the round trip; READ and atomics report the whole operation. `active` is the client.
 */
export async function runLatency(endpoint: PerfEndpoint, remote: PeerAddress, size: number, length: RunLength, active: boolean): Promise<Float64Array> {
  const verb = verbOf(endpoint.options.test);
  const recorder = new LatencyRecorder(endpoint.options.warmupIters, length);
  let count = 0;
  if (verb === 'send') count = await sendPingPong(endpoint, size, active, recorder);
  else if (verb === 'write') count = await writePingPong(endpoint, remote, size, active, recorder);
  else if (active) {
    for (; recorder.more(count); count++) {
      const started = now();
      endpoint.qp.postSend(oneShot(verb, endpoint, remote, size));
      await endpoint.completions(1);
      recorder.record(count, (now() - started) * 1000);
    }
  }
  return recorder.taken(count);
}

function oneShot(verb: 'read' | 'atomic', endpoint: PerfEndpoint, remote: PeerAddress, size: number): SendWr {
  const base = { wrId: 1n, sendFlags: SendFlags.SIGNALED, sgList: [endpoint.sge(size)] };
  return verb === 'read'
    ? { ...base, opcode: 'RDMA_READ', rdma: { remoteAddr: remote.addr, rkey: remote.rkey } }
    : { ...base, opcode: 'ATOMIC_FETCH_AND_ADD', atomic: { remoteAddr: remote.addr, rkey: remote.rkey, compareAdd: 1n, swap: 0n } };
}

/**
 * ib_send_lat: the client sends, the server answers each receive with a send. A side waits for
 * its receive (and reaps its send's completion); the passive side stops when the active one
 * says how many it sent, so a -D run ends cleanly.
 */
async function sendPingPong(endpoint: PerfEndpoint, size: number, active: boolean, recorder: LatencyRecorder): Promise<number> {
  const send: SendWr = { wrId: 2n, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [endpoint.sge(size)] };
  let count = 0;
  let sendsOutstanding = 0;
  const awaitReceive = async (): Promise<void> => {
    for (let received = false; !received;) {
      for (const wc of await endpoint.completions(4)) {
        if (wc.opcode === 'SEND') sendsOutstanding--;
        else {
          received = true;
          endpoint.postRecvs(1, size);
        }
      }
    }
  };
  if (active) {
    for (; recorder.more(count); count++) {
      const started = now();
      endpoint.qp.postSend(send);
      sendsOutstanding++;
      await awaitReceive();
      recorder.record(count, ((now() - started) * 1000) / 2);
    }
    // The stop message: a zero-length SEND the server recognises.
    endpoint.qp.postSend({ ...send, sgList: [] });
    while (sendsOutstanding >= 0) for (const wc of await endpoint.completions(4)) if (wc.opcode === 'SEND') sendsOutstanding--;
    return count;
  }
  for (;;) {
    let stop = false;
    for (let received = false; !received;) {
      for (const wc of await endpoint.completions(4)) {
        if (wc.opcode === 'SEND') sendsOutstanding--;
        else {
          received = true;
          stop = wc.byteLen === 0;
          endpoint.postRecvs(1, size);
        }
      }
    }
    if (stop || count >= recorder.limit) break;
    endpoint.qp.postSend(send);
    sendsOutstanding++;
    count++;
  }
  while (sendsOutstanding > 0) for (const wc of await endpoint.completions(4)) if (wc.opcode === 'SEND') sendsOutstanding--;
  return count;
}

/**
 * ib_write_lat: each side RDMA-WRITEs the message into the other's buffer and busy-polls the last
 * byte of its own for the peer's answer (no completion marks a WRITE's arrival). The tag 0 in that
 * byte tells the passive side to stop.
 */
async function writePingPong(endpoint: PerfEndpoint, remote: PeerAddress, size: number, active: boolean, recorder: LatencyRecorder): Promise<number> {
  const local = endpoint.mr.buffer;
  const last = size - 1;
  local[last] = 0xff;
  let count = 0;
  let unreaped = 0;
  const write = (tag: number) => {
    local[last] = tag;
    // Signal every 16th so the send queue drains; reaped while waiting, off the measured path.
    const signaled = ++unreaped % 16 === 0;
    endpoint.qp.postSend({ wrId: 3n, opcode: 'RDMA_WRITE', sendFlags: signaled ? SendFlags.SIGNALED : 0, sgList: [endpoint.sge(size)], rdma: { remoteAddr: remote.addr, rkey: remote.rkey } });
  };
  const awaitTag = async (tag: number | null): Promise<number> => {
    // Our own write-back left the same tag in our buffer: wait for a different one from the peer.
    const mine = local[last]!;
    for (;;) {
      const seen = local[last]!;
      if (tag === null ? seen !== mine : seen === tag) return seen;
      endpoint.cq.poll(16);
      await yieldToLoop();
    }
  };
  if (active) {
    for (; recorder.more(count); count++) {
      // Odd tags from the client, the next even one back: neither side ever sees its own value
      // again, and neither is 0 (stop) nor 0xff (the initial byte).
      const tag = ((2 * count) % 252) + 1;
      const started = now();
      write(tag);
      await awaitTag(tag + 1);
      recorder.record(count, ((now() - started) * 1000) / 2);
    }
    write(0);
    return count;
  }
  for (;;) {
    const tag = await awaitTag(null);
    if (tag === 0 || count >= recorder.limit) break;
    write(tag + 1);
    count++;
  }
  return count;
}

/** perftest's latency columns, in microseconds. */
export function latencyFigures(samples: Float64Array) {
  const sorted = Float64Array.from(samples).sort();
  const n = sorted.length;
  const at = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
  let sum = 0;
  for (const s of sorted) sum += s;
  const avg = sum / n;
  let squares = 0;
  for (const s of sorted) squares += (s - avg) ** 2;
  return { min: sorted[0]!, max: sorted[n - 1]!, typical: at(0.5), avg, stdev: Math.sqrt(squares / n), p99: at(0.99), p999: at(0.999) };
}
