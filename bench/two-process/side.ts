/**
 * One side of a two-process benchmark run: `node --import tsx side.ts '<json>'` with
 * { role: 'send' | 'recv', path: 'net' | 'raw' | 'tcpverbs', size, messages, window, port? }.
 * The sender listens and prints {"port", "qpNum"?}; the receiver connects. tcpverbs sides learn
 * the other's QP number from a line on stdin (the orchestrator relays it), as rc_pingpong
 * exchanges it out of band. Each side ends by printing one JSON line of what it measured.
 */
import net from 'node:net';
import { createInterface } from 'node:readline';
import { SendFlags } from '../../src/index.js';
import { makeSide, sge, toRtr, toRts } from '../../test/support/verbs-harness.js';

interface Args { role: 'send' | 'recv'; path: 'net' | 'raw' | 'tcpverbs'; size: number; messages: number; window: number; port?: number }
const args = JSON.parse(process.argv[2]!) as Args;
const now = () => Number(process.hrtime.bigint()) / 1e9;
const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const DONE = Buffer.from('D');

/** CPU time is counted from when the transfer starts (not the process's start-up). */
let cpuAtStart = process.cpuUsage();
const startCpu = () => { cpuAtStart = process.cpuUsage(); };

function finish(result: object): void {
  const cpu = process.cpuUsage(cpuAtStart);
  say({ ...result, cpuSeconds: (cpu.user + cpu.system) / 1e6 });
  process.exit(0);
}

function stdinLine(): Promise<string> {
  return new Promise((resolve) => createInterface({ input: process.stdin }).once('line', resolve));
}

function listen(onSocket: (socket: net.Socket) => void, extra: object = {}): void {
  const server = net.createServer({ noDelay: true } as net.ServerOpts, (socket) => { server.close(); onSocket(socket); });
  server.listen(0, '127.0.0.1', () => say({ port: (server.address() as net.AddressInfo).port, ...extra }));
}

/** Plain net as a user writes it: a write per message with backpressure; the receiver's 'data' copies. */
function netSend(): void {
  listen(async (socket) => {
    const payload = Buffer.alloc(args.size, 7);
    const acked = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    startCpu();
    const start = now();
    let writes = 0;
    for (let sent = 0; sent < args.messages; sent++) {
      writes++;
      if (!socket.write(payload)) await new Promise((resolve) => socket.once('drain', resolve));
    }
    await acked;
    finish({ seconds: now() - start, writes });
  });
}

function netRecv(): void {
  const app = new Uint8Array(args.size * args.window);
  const total = args.size * args.messages;
  let got = 0;
  let reads = 0;
  const socket = net.connect(args.port!, '127.0.0.1', startCpu);
  socket.on('data', (chunk: Buffer) => {
    reads++;
    for (let offset = 0; offset < chunk.length;) {
      const at = got % app.length;
      const take = Math.min(app.length - at, chunk.length - offset);
      app.set(chunk.subarray(offset, offset + take), at);
      offset += take;
      got += take;
    }
    if (got >= total) socket.write(DONE, () => finish({ reads }));
  });
}

/** The raw Node ceiling: corked writes of a window at a time; onread into one preallocated buffer. */
function rawSend(): void {
  listen(async (socket) => {
    const payload = Buffer.alloc(args.size, 7);
    const acked = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    startCpu();
    const start = now();
    for (let sent = 0; sent < args.messages;) {
      socket.cork();
      const batch = Math.min(args.window, args.messages - sent);
      let ok = true;
      for (let i = 0; i < batch; i++) ok = socket.write(payload);
      socket.uncork();
      sent += batch;
      if (!ok) await new Promise((resolve) => socket.once('drain', resolve));
    }
    await acked;
    finish({ seconds: now() - start });
  });
}

function rawRecv(): void {
  const total = args.size * args.messages;
  let got = 0;
  let reads = 0;
  const socket = net.connect({ port: args.port!, host: '127.0.0.1', onread: { buffer: Buffer.alloc(Math.max(65536, args.size * args.window)), callback: (n: number) => {
    reads++;
    got += n;
    if (got >= total) socket.write(DONE, () => finish({ reads }));
    return true;
  } } }, startCpu);
}

/** tcpverbs RC SENDs: receives posted ahead and reposted; up to a window of sends in flight, a quarter window per signaled WR. */
function verbsSide(): void {
  const slots = args.window * 2;
  const MODERATION = Math.max(1, args.window / 4);
  const side = makeSide({ mrBytes: args.size * slots, maxSendWr: slots, maxRecvWr: slots, cqe: slots * 2, context: { observer: null } as never });
  const run = async (socket: net.Socket) => {
    const peerQpNum = Number(await stdinLine());
    if (args.role === 'recv') side.qp.postRecv(Array.from({ length: slots }, (_, i) => ({ wrId: BigInt(i), sgList: [sge(side, i * args.size, args.size)] })));
    toRtr(side, peerQpNum, { socket });
    toRts(side);
    const before = side.ctx.queryCounters();
    startCpu();
    const start = now();
    if (args.role === 'recv') {
      for (let received = 0; received < args.messages;) {
        const wcs = side.cq.poll(slots);
        if (wcs.length === 0) { await new Promise((resolve) => setImmediate(resolve)); continue; }
        received += wcs.length;
        side.qp.postRecv(wcs.map((wc) => ({ wrId: wc.wrId, sgList: [sge(side, Number(wc.wrId) * args.size, args.size)] })));
      }
      const after = side.ctx.queryCounters();
      // Let the last ACKs leave before the process ends.
      await new Promise((resolve) => setTimeout(resolve, 50));
      finish({ reads: after.readCallbacks - before.readCallbacks, copiedBytes: after.rxPayloadBytesCopied - before.rxPayloadBytesCopied });
    }
    let sent = 0;
    let inFlight = 0;
    for (let acked = 0; acked < args.messages;) {
      if (inFlight < args.window && sent < args.messages) {
        const batch = Math.min(args.window - inFlight, args.messages - sent);
        // CQ moderation as perftest's -Q: every quarter window is signaled, so the window refills while it drains.
        const signaled = (n: number) => n % MODERATION === MODERATION - 1 || n === args.messages - 1;
        side.qp.postSend(Array.from({ length: batch }, (_, i) => ({ wrId: BigInt(sent + i), opcode: 'SEND' as const, sendFlags: signaled(sent + i) ? SendFlags.SIGNALED : 0, sgList: [sge(side, ((sent + i) % slots) * args.size, args.size)] })));
        sent += batch;
        inFlight += batch;
      }
      await new Promise((resolve) => setImmediate(resolve));
      for (const wc of side.cq.poll(slots)) {
        if (wc.status !== 'SUCCESS') throw new Error(`send ${wc.wrId}: ${wc.status}`);
        acked = Number(wc.wrId) + 1;
        inFlight = sent - acked;
      }
    }
    const after = side.ctx.queryCounters();
    finish({ seconds: now() - start, writes: after.writeSyscalls - before.writeSyscalls });
  };
  if (args.role === 'send') listen((socket) => void run(socket), { qpNum: side.qp.qpNum });
  else {
    const socket = net.connect(args.port!, '127.0.0.1', () => { say({ qpNum: side.qp.qpNum }); void run(socket); });
  }
}

const table = { net: [netSend, netRecv], raw: [rawSend, rawRecv], tcpverbs: [verbsSide, verbsSide] } as const;
table[args.path][args.role === 'send' ? 0 : 1]();
