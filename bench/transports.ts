import net from 'node:net';
import { SendFlags } from '../src/index.js';
import { makeSide, sge, socketPair, toRtr, toRts } from '../test/support/verbs-harness.js';

/** One measured run: messages of `size` bytes moved one way with `window` in flight. */
export interface RunResult {
  readonly seconds: number;
  readonly messages: number;
  readonly bytes: number;
  /** Per message, where the path can count them. */
  readonly copiesPerMessage?: number;
  readonly writesPerMessage?: number;
  readonly readsPerMessage?: number;
}

export interface Workload {
  readonly size: number;
  readonly messages: number;
  readonly window: number;
}

const now = () => Number(process.hrtime.bigint()) / 1e9;

/** tcpverbs RC SENDs: receives posted ahead, sends posted in windows, one doorbell per window. */
export async function tcpverbsStream(w: Workload): Promise<RunResult> {
  const [client, server, stop] = await socketPair();
  const slots = w.window * 2;
  const a = makeSide({ mrBytes: w.size * slots, maxSendWr: slots, cqe: slots * 2, context: { observer: null } as never });
  const b = makeSide({ mrBytes: w.size * slots, maxRecvWr: slots, cqe: slots * 2, context: { observer: null } as never });
  b.qp.postRecv(Array.from({ length: slots }, (_, i) => ({ wrId: BigInt(i), sgList: [sge(b, i * w.size, w.size)] })));
  toRtr(a, b.qp.qpNum, { socket: client });
  toRtr(b, a.qp.qpNum, { socket: server });
  toRts(a);
  toRts(b);
  await new Promise((resolve) => setTimeout(resolve, 10));
  const before = { a: a.ctx.queryCounters(), b: b.ctx.queryCounters() };
  const start = now();
  let sent = 0;
  let inFlight = 0;
  let received = 0;
  while (received < w.messages) {
    if (inFlight < w.window && sent < w.messages) {
      const batch = Math.min(w.window - inFlight, w.messages - sent);
      // Only the last WR of a window is signaled: its completion retires the ones before it.
      a.qp.postSend(Array.from({ length: batch }, (_, i) => ({ wrId: BigInt(sent + i), opcode: 'SEND' as const, sendFlags: i === batch - 1 ? SendFlags.SIGNALED : 0, sgList: [sge(a, ((sent + i) % slots) * w.size, w.size)] })));
      sent += batch;
      inFlight += batch;
    }
    await new Promise((resolve) => setImmediate(resolve));
    for (const wc of a.cq.poll(slots)) inFlight = sent - Number(wc.wrId) - 1;
    const recvs = b.cq.poll(slots);
    if (recvs.length > 0) {
      received += recvs.length;
      b.qp.postRecv(recvs.map((wc) => ({ wrId: wc.wrId, sgList: [sge(b, Number(wc.wrId) * w.size, w.size)] })));
    }
  }
  const seconds = now() - start;
  const after = { a: a.ctx.queryCounters(), b: b.ctx.queryCounters() };
  a.ctx.close();
  b.ctx.close();
  stop();
  return {
    seconds, messages: w.messages, bytes: w.messages * w.size,
    copiesPerMessage: (after.b.rxPayloadBytesCopied - before.b.rxPayloadBytesCopied) / w.size / w.messages,
    writesPerMessage: (after.a.writeSyscalls - before.a.writeSyscalls) / w.messages,
    readsPerMessage: (after.b.readCallbacks - before.b.readCallbacks) / w.messages,
  };
}

/**
 * The same traffic as a user writes it with plain `net`: one write per message, a 'data' handler
 * that copies each message into the application's buffer.
 */
export async function plainNetStream(w: Workload): Promise<RunResult> {
  const [client, server, stop] = await socketPair();
  client.setNoDelay(true);
  const app = new Uint8Array(w.size * w.window * 2);
  const payload = Buffer.alloc(w.size, 7);
  let received = 0;
  let partial = 0;
  let copies = 0;
  let reads = 0;
  const done = new Promise<void>((resolve) => {
    server.on('data', (chunk: Buffer) => {
      reads++;
      let offset = 0;
      while (offset < chunk.length) {
        const take = Math.min(w.size - partial, chunk.length - offset);
        app.set(chunk.subarray(offset, offset + take), ((received % (w.window * 2)) * w.size) + partial);
        copies += take;
        partial += take;
        offset += take;
        if (partial === w.size) { partial = 0; received++; }
      }
      if (received >= w.messages) resolve();
    });
  });
  const start = now();
  let sent = 0;
  let writes = 0;
  while (sent < w.messages) {
    // Backpressure as a user would: wait for 'drain' when write() says so.
    if (!client.write(payload)) await new Promise((resolve) => client.once('drain', resolve));
    writes++;
    sent++;
    if (sent - received > w.window) await new Promise((resolve) => setImmediate(resolve));
  }
  await done;
  const seconds = now() - start;
  client.destroy();
  server.destroy();
  stop();
  return { seconds, messages: w.messages, bytes: w.messages * w.size, copiesPerMessage: copies / w.size / w.messages, writesPerMessage: writes / w.messages, readsPerMessage: reads / w.messages };
}

/** The best raw Node path: one writev per window of messages, receive with onread into one reused buffer. */
export async function rawOnreadStream(w: Workload): Promise<RunResult> {
  const server = net.createServer({ noDelay: true } as net.ServerOpts);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const target = new Uint8Array(1 << 20);
  let bytes = 0;
  let reads = 0;
  const total = w.size * w.messages;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => { resolveDone = resolve; });
  // net.connect is the one place Node accepts onread; the receiving end here is the client.
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const receiver = net.connect({ port, host: '127.0.0.1', onread: { buffer: target, callback: (n: number) => { reads++; bytes += n; if (bytes >= total) resolveDone(); return true; } } } as net.NetConnectOpts);
  await new Promise((resolve) => receiver.once('connect', resolve));
  const sender = await accepted;
  sender.setNoDelay(true);
  const payload = Buffer.alloc(w.size, 7);
  const start = now();
  let sent = 0;
  let writes = 0;
  while (sent < w.messages) {
    const batch = Math.min(w.window, w.messages - sent);
    sender.cork();
    for (let i = 0; i < batch; i++) sender.write(payload);
    sender.uncork();
    writes++;
    sent += batch;
    if (sender.writableLength > w.size * w.window * 4) await new Promise((resolve) => sender.once('drain', resolve));
    else await new Promise((resolve) => setImmediate(resolve));
  }
  await done;
  const seconds = now() - start;
  sender.destroy();
  receiver.destroy();
  server.close();
  return { seconds, messages: w.messages, bytes: total, copiesPerMessage: 0, writesPerMessage: writes / w.messages, readsPerMessage: reads / w.messages };
}

/** Round trips: tcpverbs SEND/RECV ping-pong. */
export async function tcpverbsPingpong(iters: number, size: number): Promise<number> {
  const [client, server, stop] = await socketPair();
  const a = makeSide({ mrBytes: size, context: { observer: null } as never });
  const b = makeSide({ mrBytes: size, context: { observer: null } as never });
  for (const side of [a, b]) side.qp.postRecv(Array.from({ length: 32 }, () => ({ wrId: 1n, sgList: [sge(side, 0, size)] })));
  toRtr(a, b.qp.qpNum, { socket: client });
  toRtr(b, a.qp.qpNum, { socket: server });
  toRts(a);
  toRts(b);
  const waitRecv = async (side: typeof a) => {
    for (;;) {
      const wcs = side.cq.poll(4);
      if (wcs.some((wc) => wc.opcode === 'RECV')) { side.qp.postRecv({ wrId: 1n, sgList: [sge(side, 0, size)] }); return; }
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  const start = now();
  for (let i = 0; i < iters; i++) {
    a.qp.postSend({ wrId: 2n, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [sge(a, 0, size)] });
    await waitRecv(b);
    b.qp.postSend({ wrId: 2n, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [sge(b, 0, size)] });
    await waitRecv(a);
  }
  const seconds = now() - start;
  a.ctx.close();
  b.ctx.close();
  stop();
  return (seconds * 1e6) / iters;
}

/** Round trips with plain net: write, 'data' handler, copy. */
export async function plainNetPingpong(iters: number, size: number): Promise<number> {
  const [client, server, stop] = await socketPair();
  client.setNoDelay(true);
  server.setNoDelay(true);
  const app = new Uint8Array(size);
  const payload = Buffer.alloc(size, 1);
  const waitBytes = (socket: net.Socket) => new Promise<void>((resolve) => {
    let got = 0;
    const onData = (chunk: Buffer) => {
      app.set(chunk.subarray(0, Math.min(chunk.length, size - got)), got);
      got += chunk.length;
      if (got >= size) { socket.off('data', onData); resolve(); }
    };
    socket.on('data', onData);
  });
  const start = now();
  for (let i = 0; i < iters; i++) {
    const atServer = waitBytes(server);
    client.write(payload);
    await atServer;
    const atClient = waitBytes(client);
    server.write(payload);
    await atClient;
  }
  const seconds = now() - start;
  client.destroy();
  server.destroy();
  stop();
  return (seconds * 1e6) / iters;
}
