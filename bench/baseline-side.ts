/**
 * One side of a baseline of the two-process benchmark (bench/run.ts): `node --import tsx
 * baseline-side.ts '<json>'` with { role: 'send' | 'recv', path: 'net' | 'raw' | 'raw-rc' |
 * 'net-pingpong', size, messages, window, ackEvery?, port? }. The sender (or ping-pong server) listens and prints {"port"};
 * the other side connects. Each side ends by printing one JSON line of what it measured.
 * tcpverbs itself is measured with `tcpverbs perf` (src/perf), the tool users run.
 */
import net from 'node:net';

interface Args { role: 'send' | 'recv'; path: 'net' | 'raw' | 'raw-rc' | 'net-pingpong'; size: number; messages: number; window: number; warmup?: number; ackEvery?: number; port?: number }
const args = JSON.parse(process.argv[2]!) as Args;
/** Messages (or round trips) sent before the measured ones. */
const warmup = args.warmup ?? 0;
const now = () => Number(process.hrtime.bigint()) / 1e9;
const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const DONE = Buffer.from('D');
const WARM = Buffer.from('W');

/** CPU time is counted from when the transfer starts (not the process's start-up). */
let cpuAtStart = process.cpuUsage();
const startCpu = () => { cpuAtStart = process.cpuUsage(); };

function finish(result: object): void {
  const cpu = process.cpuUsage(cpuAtStart);
  say({ ...result, cpuSeconds: (cpu.user + cpu.system) / 1e6 });
  process.exit(0);
}

function listen(onSocket: (socket: net.Socket) => void, extra: object = {}): void {
  const server = net.createServer({ noDelay: true } as net.ServerOpts, (socket) => { server.close(); onSocket(socket); });
  server.listen(0, '127.0.0.1', () => say({ port: (server.address() as net.AddressInfo).port, ...extra }));
}

/**
 * The receiver answers one byte when the warm-up messages are in and one when all are: the sender
 * times only what comes between (the same warm-up tcpverbs perf gets with --warmup).
 */
function replies(socket: net.Socket): { warm: Promise<void>; done: Promise<void> } {
  let seen = 0;
  let onWarm: () => void = () => {};
  let onDone: () => void = () => {};
  const warm = new Promise<void>((resolve) => { onWarm = resolve; });
  const done = new Promise<void>((resolve) => { onDone = resolve; });
  if (warmup === 0) { seen = 1; onWarm(); }
  socket.on('data', (chunk: Buffer) => {
    for (let i = 0; i < chunk.length; i++) if (++seen === 1) onWarm(); else onDone();
  });
  return { warm, done };
}

/** Receiver side of the same: counts payload bytes, says W after the warm-up and D at the end. */
function received(socket: net.Socket, onMeasured: () => void): (bytes: number) => void {
  const warmBytes = warmup * args.size;
  const total = (warmup + args.messages) * args.size;
  let got = 0;
  if (warmup === 0) onMeasured();
  return (bytes: number) => {
    const before = got;
    got += bytes;
    if (warmup > 0 && before < warmBytes && got >= warmBytes) { socket.write(WARM); onMeasured(); }
    if (before < total && got >= total) socket.write(DONE, () => finish({ reads }));
  };
}

let reads = 0;

/** Plain net as a user writes it: a write per message with backpressure; the receiver's 'data' copies. */
function netSend(): void {
  listen(async (socket) => {
    const payload = Buffer.alloc(args.size, 7);
    const reply = replies(socket);
    let writes = 0;
    const send = async (count: number) => {
      for (let sent = 0; sent < count; sent++) {
        writes++;
        if (!socket.write(payload)) await new Promise((resolve) => socket.once('drain', resolve));
      }
    };
    await send(warmup);
    await reply.warm;
    startCpu();
    const start = now();
    writes = 0;
    await send(args.messages);
    await reply.done;
    finish({ seconds: now() - start, writes });
  });
}

function netRecv(): void {
  const app = new Uint8Array(args.size * args.window);
  let at = 0;
  const socket = net.connect(args.port!, '127.0.0.1');
  const count = received(socket, () => { startCpu(); reads = 0; });
  socket.on('data', (chunk: Buffer) => {
    reads++;
    for (let offset = 0; offset < chunk.length;) {
      const take = Math.min(app.length - at, chunk.length - offset);
      app.set(chunk.subarray(offset, offset + take), at);
      offset += take;
      at = (at + take) % app.length;
    }
    count(chunk.length);
  });
}

/** The raw Node ceiling: corked writes of a window at a time; onread into one preallocated buffer. */
function rawSend(): void {
  listen(async (socket) => {
    const payload = Buffer.alloc(args.size, 7);
    const reply = replies(socket);
    const send = async (count: number) => {
      for (let sent = 0; sent < count;) {
        socket.cork();
        const batch = Math.min(args.window, count - sent);
        let ok = true;
        for (let i = 0; i < batch; i++) ok = socket.write(payload);
        socket.uncork();
        sent += batch;
        if (!ok) await new Promise((resolve) => socket.once('drain', resolve));
      }
    };
    await send(warmup);
    await reply.warm;
    startCpu();
    const start = now();
    await send(args.messages);
    await reply.done;
    finish({ seconds: now() - start });
  });
}

function rawRecv(): void {
  let count: (bytes: number) => void = () => {};
  const socket = net.connect({ port: args.port!, host: '127.0.0.1', onread: { buffer: Buffer.alloc(Math.max(65536, args.size * args.window)), callback: (n: number) => {
    reads++;
    count(n);
    return true;
  } } });
  count = received(socket, () => { startCpu(); reads = 0; });
}

/**
 * The raw ceiling under RC's flow control: the raw path's corked writes and `onread`, but the
 * sender keeps at most `window` messages unacknowledged and the receiver acknowledges every
 * `ackEvery` of them and the rest at the end of the I/O phase (tcpverbs' ACK coalescing: one
 * write per ACK, also when one read holds several) with a 12-byte frame (tcpverbs' ACK header) holding the count, as
 * tcpverbs' window and ACKs make it wait. What any RC stack on Node could reach with this window
 * and ACK policy: the distance from it to tcpverbs is the stack's own cost. Both sides busy-poll
 * (an Immediate per turn keeps the event loop from sleeping in epoll), as tcpverbs perf does:
 * sleeping, each side paid a wake-up per window and this path ran at ~620 k msg/s at 64 B.
 */
const ACK_BYTES = 12;

/**
 * Both sides spin until they finish (finish() exits): a peer that goes away first would leave
 * the other spinning forever, so its close before the end fails the run instead.
 */
function failOnEarlyClose(socket: net.Socket): void {
  socket.once('error', (error) => {
    process.stderr.write(`raw-rc: ${error.message}\n`);
    process.exit(1);
  });
  socket.once('close', () => {
    process.stderr.write('raw-rc: the peer closed the connection before the run ended\n');
    process.exit(1);
  });
}

/** Keeps the event loop polling (epoll with a zero timeout) until `stop` is called. */
function spin(): () => void {
  let spinning = true;
  const turn = () => { if (spinning) setImmediate(turn); };
  setImmediate(turn);
  return () => { spinning = false; };
}

function rawRcSend(): void {
  listen((socket) => {
    const payload = Buffer.alloc(args.size, 7);
    const total = warmup + args.messages;
    let sent = 0;
    let acked = 0;
    let start = 0;
    /** What the ACK that started the clock covered: it may pass the warm-up by up to window − 1. */
    let ackedAtStart = 0;
    let pending: Buffer = Buffer.alloc(0);
    failOnEarlyClose(socket);
    const stopSpinning = spin();
    const pump = () => {
      const batch = Math.min(args.window - (sent - acked), total - sent);
      if (batch <= 0) return;
      socket.cork();
      for (let i = 0; i < batch; i++) socket.write(payload);
      socket.uncork();
      sent += batch;
    };
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let at = 0;
      for (; at + ACK_BYTES <= pending.length; at += ACK_BYTES) acked = pending.readUInt32BE(at);
      pending = pending.subarray(at);
      if (start === 0 && acked >= warmup) { startCpu(); start = now(); ackedAtStart = acked; }
      if (acked === total) { stopSpinning(); finish({ seconds: now() - start, messagesTimed: total - ackedAtStart }); }
      else pump();
    });
    if (warmup === 0) { startCpu(); start = now(); }
    pump();
  });
}

function rawRcRecv(): void {
  const ackEvery = args.ackEvery ?? 32;
  const total = warmup + args.messages;
  let bytes = 0;
  let ackedThrough = 0;
  let measuring = warmup === 0;
  let remainderDue = false;
  spin();
  const acknowledge = (through: number) => {
    ackedThrough = through;
    const ack = Buffer.alloc(ACK_BYTES);
    ack.writeUInt32BE(through, 0);
    socket.write(ack, through === total ? () => finish({ reads }) : undefined);
  };
  // As tcpverbs' responder: an ACK (its own write) at every ackEvery-th message, even several in
  // one read, and one for the rest at the end of the I/O phase (its flushSoon).
  const socket = net.connect({ port: args.port!, host: '127.0.0.1', onread: { buffer: Buffer.alloc(Math.max(65536, args.size * args.window)), callback(n: number) {
    reads++;
    bytes += n;
    const messages = Math.floor(bytes / args.size);
    if (!measuring && messages >= warmup) { measuring = true; startCpu(); reads = 0; }
    while (messages - ackedThrough >= ackEvery) acknowledge(ackedThrough + ackEvery);
    if (messages > ackedThrough && !remainderDue) {
      remainderDue = true;
      setImmediate(() => {
        remainderDue = false;
        const read = Math.floor(bytes / args.size);
        if (read > ackedThrough) acknowledge(read);
      });
    }
    return true;
  } } });
  failOnEarlyClose(socket);
}

/**
 * Plain net ping-pong: each side writes `size` bytes when it has read the other's; per-iteration
 * half round trips after `warmup` unrecorded ones (the same warm-up tcpverbs perf gets).
 */
function netPingpong(): void {
  const payload = Buffer.alloc(args.size, 7);
  const total = warmup + args.messages;
  const samples: number[] = [];
  const run = (socket: net.Socket, client: boolean) => {
    let got = 0;
    let started = 0;
    let iteration = 0;
    const ping = () => { started = now(); socket.write(payload); };
    socket.on('data', (chunk: Buffer) => {
      got += chunk.length;
      if (got < args.size) return;
      got -= args.size;
      if (!client) { const last = ++iteration === total; socket.write(payload, last ? () => finish({}) : undefined); return; }
      if (iteration >= warmup) samples.push(((now() - started) * 1e6) / 2);
      if (++iteration === total) return finish({ latencyUsec: samples });
      ping();
    });
    if (client) { startCpu(); ping(); } else startCpu();
  };
  if (args.role === 'send') listen((socket) => run(socket, false));
  else { const socket = net.connect(args.port!, '127.0.0.1', () => { socket.setNoDelay(true); run(socket, true); }); }
}

const table = { net: [netSend, netRecv], raw: [rawSend, rawRecv], 'raw-rc': [rawRcSend, rawRcRecv], 'net-pingpong': [netPingpong, netPingpong] } as const;
table[args.path][args.role === 'send' ? 0 : 1]();
