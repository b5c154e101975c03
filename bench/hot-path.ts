/**
 * `npm run bench:hot-path`: what the stack itself costs per message, without the kernel. Two RC
 * QPs in one process over an in-memory byte pipe (every write is delivered at the next turn of
 * the event loop, as one read), so no syscall and no second process is measured: the number is
 * the JS of both ends, requester and responder, per message. `npm run bench` measures what users
 * get (two processes, real sockets); this isolates the part of it the code decides, which on a
 * machine with dear syscalls the two-process numbers hide. Prints the best and the median of ROUNDS;
 * asserts nothing.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CompletionQueue, Context, MemoryRegion, QueuePair } from '../src/index.js';
import type { Transport, TransportCounters, TransportSink } from '../src/transport/types.js';

// The compiled stack, as users run it (tsx's transpile of src/ measured ~25 % slower here).
const ROOT = resolve(import.meta.dirname, '..');
process.stderr.write('building dist/...\n');
execFileSync(process.execPath, [resolve(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
const { Access, QpAttrMask: M, SendFlags, openDevice } = (await import(pathToFileURL(resolve(ROOT, 'dist/src/index.js')).href)) as typeof import('../src/index.js');

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`BENCH_ROUNDS must be a positive integer, got ${process.env.BENCH_ROUNDS}`);
const STREAM = { size: 64, messages: 200_000, warmup: 100_000, window: 64, cqMod: 16 };
const PINGPONG = { size: 64, iterations: 20_000, warmup: 10_000 };

/** One end of the pipe: the peer's writes land in `inbox`; one delivery per event-loop turn. */
class MemoryPipe implements Transport {
  readonly counters: TransportCounters = { writeBatches: 0, readCallbacks: 0, bytesWritten: 0, bytesRead: 0, bytesCopied: 0 };
  closed = false;
  peer: MemoryPipe | null = null;
  private sink: TransportSink | null = null;
  private inbox: Uint8Array[] = [];
  private scheduled = false;

  start(sink: TransportSink): void {
    this.sink = sink;
  }

  writev(chunks: readonly Uint8Array[], onWritten?: () => void): void {
    const peer = this.peer!;
    // The kernel's copy: the NIC may reuse its chunks once onWritten runs.
    for (const chunk of chunks) if (chunk.byteLength > 0) peer.inbox.push(chunk.slice());
    this.counters.writeBatches++;
    if (!peer.scheduled) {
      peer.scheduled = true;
      setImmediate(() => peer.deliver());
    }
    if (onWritten !== undefined) queueMicrotask(onWritten);
  }

  private deliver(): void {
    this.scheduled = false;
    const chunks = this.inbox;
    this.inbox = [];
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    for (let offset = 0; offset < bytes.byteLength && !this.closed;) {
      const target = this.sink!.nextReadTarget();
      const count = Math.min(target.byteLength, bytes.byteLength - offset);
      target.set(bytes.subarray(offset, offset + count));
      offset += count;
      this.counters.readCallbacks++;
      this.sink!.onBytes(count);
    }
  }

  retarget(): void {}
  shutdown(): void {}
  close(): void {
    this.closed = true;
  }
}

interface End { ctx: Context; mr: MemoryRegion; cq: CompletionQueue; qp: QueuePair; pipe: MemoryPipe }

function connectedPair(size: number): [End, End] {
  const end = (): End => {
    const ctx = openDevice(undefined, { observer: null });
    const pd = ctx.allocPd();
    const mr = pd.regMr(new Uint8Array(Math.max(size, 8)), Access.LOCAL_WRITE | Access.REMOTE_WRITE);
    const cq = ctx.createCq(2048);
    const qp = pd.createQp({ qpType: 'RC', sendCq: cq, recvCq: cq, cap: { maxSendWr: 512, maxRecvWr: 512, maxSendSge: 1, maxRecvSge: 1 } });
    qp.modify({ qpState: 'INIT', pkeyIndex: 0, portNum: 1, qpAccessFlags: Access.REMOTE_WRITE }, M.STATE | M.PKEY_INDEX | M.PORT | M.ACCESS_FLAGS);
    return { ctx, mr, cq, qp, pipe: new MemoryPipe() };
  };
  const a = end();
  const b = end();
  a.pipe.peer = b.pipe;
  b.pipe.peer = a.pipe;
  // `ahAttr: { transport }`: a ready Transport instead of a socket (verbs/qp.ts; for tests and simulation).
  for (const [self, other] of [[a, b], [b, a]] as const) {
    self.qp.modify({ qpState: 'RTR', ahAttr: { transport: self.pipe } as never, pathMtu: 4096, destQpNum: other.qp.qpNum, rqPsn: 0, maxDestRdAtomic: 1, minRnrTimer: 12 },
      M.STATE | M.AV | M.PATH_MTU | M.DEST_QPN | M.RQ_PSN | M.MAX_DEST_RD_ATOMIC | M.MIN_RNR_TIMER);
  }
  for (const self of [a, b]) self.qp.modify({ qpState: 'RTS', sqPsn: 0, timeout: 14, retryCnt: 7, rnrRetry: 7, maxRdAtomic: 1 }, M.STATE | M.SQ_PSN | M.TIMEOUT | M.RETRY_CNT | M.RNR_RETRY | M.MAX_QP_RD_ATOMIC);
  return [a, b];
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
const sge = (end: End, size: number) => ({ addr: end.mr.addr, length: size, lkey: end.mr.lkey });
const check = <W extends { status: string }>(wcs: W[]): W[] => {
  const bad = wcs.find((wc) => wc.status !== 'SUCCESS');
  if (bad !== undefined) throw new Error(`hot-path bench: a completion failed with ${bad.status}`);
  return wcs;
};

/** One-way SENDs with a window in flight, one signaled per cqMod: microseconds per message. */
async function stream(): Promise<number> {
  const { size, messages, warmup, window, cqMod } = STREAM;
  const [a, b] = connectedPair(size);
  const recv = { wrId: 0n, sgList: [sge(b, size)] };
  for (let i = 0; i < 512; i++) b.qp.postRecv(recv);
  const unsignaled = { wrId: 0n, opcode: 'SEND' as const, sendFlags: 0, sgList: [sge(a, size)] };
  const signaled = { ...unsignaled, sendFlags: SendFlags.SIGNALED };
  let stop = false;
  const sink = (async () => {
    while (!stop) {
      for (let n = check(b.cq.poll(64)).length; n > 0; n--) b.qp.postRecv(recv);
      await turn();
    }
  })();
  const total = warmup + messages;
  let posted = 0;
  let done = 0;
  let started = 0;
  while (done < total) {
    const batch = [];
    for (; posted < total && posted - done < window; posted++) batch.push((posted + 1) % cqMod === 0 || posted === total - 1 ? signaled : unsignaled);
    if (batch.length > 0) a.qp.postSend(batch);
    const wcs = check(a.cq.poll(64));
    done += wcs.length * cqMod;
    if (started === 0 && done >= warmup) started = performance.now();
    if (wcs.length === 0) await turn();
  }
  const usec = ((performance.now() - started) * 1000) / (done - warmup);
  stop = true;
  await sink;
  a.ctx.close();
  b.ctx.close();
  return usec;
}

/** SEND ping-pong, one message in flight: microseconds per round trip. */
async function pingpong(): Promise<number> {
  const { size, iterations, warmup } = PINGPONG;
  const [a, b] = connectedPair(size);
  const recvA = { wrId: 0n, sgList: [sge(a, size)] };
  const recvB = { wrId: 0n, sgList: [sge(b, size)] };
  for (let i = 0; i < 16; i++) {
    a.qp.postRecv(recvA);
    b.qp.postRecv(recvB);
  }
  const sendA = { wrId: 1n, opcode: 'SEND' as const, sendFlags: SendFlags.SIGNALED, sgList: [sge(a, size)] };
  const sendB = { ...sendA, sgList: [sge(b, size)] };
  let stop = false;
  const echo = (async () => {
    while (!stop) {
      for (const wc of check(b.cq.poll(16))) if (wc.opcode === 'RECV') {
        b.qp.postRecv(recvB);
        b.qp.postSend(sendB);
      }
      await turn();
    }
  })();
  let started = 0;
  for (let i = 0; i < warmup + iterations; i++) {
    if (i === warmup) started = performance.now();
    a.qp.postSend(sendA);
    for (let received = false; !received;) {
      for (const wc of check(a.cq.poll(16))) if (wc.opcode === 'RECV') {
        received = true;
        a.qp.postRecv(recvA);
      }
      if (!received) await turn();
    }
  }
  const usec = ((performance.now() - started) * 1000) / iterations;
  stop = true;
  await echo;
  a.ctx.close();
  b.ctx.close();
  return usec;
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
// On a shared machine noise only ever adds time: the best round is the cost, the median the typical.
const best = (xs: number[]) => Math.min(...xs);
const streams: number[] = [];
const pingpongs: number[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  streams.push(await stream());
  pingpongs.push(await pingpong());
  process.stderr.write(`round ${round}/${ROUNDS}: stream ${streams.at(-1)!.toFixed(2)} µs/message, ping-pong ${pingpongs.at(-1)!.toFixed(1)} µs/round trip\n`);
}
console.log(`hot path, in one process (both ends' JS, no syscalls), ${ROUNDS} rounds, best (median):`);
console.log(`  ${STREAM.size} B SEND stream, window ${STREAM.window}: ${best(streams).toFixed(2)} (${median(streams).toFixed(2)}) µs per message, both ends`);
console.log(`  ${PINGPONG.size} B SEND ping-pong: ${best(pingpongs).toFixed(1)} (${median(pingpongs).toFixed(1)}) µs per round trip (the in-memory pipe delivers at the next event-loop turn)`);
