import net from 'node:net';
import { randomInt } from 'node:crypto';
import { openDevice, Access, QpAttrMask as M, SendFlags } from '../index.js';
import type { Context, CompletionQueue, QueuePair, MemoryRegion, VerbsObserver, WorkCompletion } from '../index.js';

/** Options of ibv_rc_pingpong that mean something over TCP. */
export interface PingpongOptions {
  /** Server when undefined. */
  readonly host?: string;
  readonly port: number;
  readonly size: number;
  readonly iters: number;
  readonly rxDepth: number;
  /** Wait for completion events (-e) instead of polling. */
  readonly useEvents: boolean;
  readonly observer?: VerbsObserver;
  readonly log: (line: string) => void;
}

export interface PingpongResult {
  readonly bytes: number;
  readonly seconds: number;
  readonly iters: number;
  readonly mbitPerSec: number;
  readonly usecPerIter: number;
  readonly qpNum: number;
}

/** rc_pingpong's exchange message: "LID:QPN:PSN:GID", sent with its NUL (52 bytes). */
const EXCHANGE_BYTES = 52;
const RECV_WRID = 1n;
const SEND_WRID = 2n;

interface Dest {
  readonly lid: number;
  readonly qpn: number;
  readonly psn: number;
  readonly gid: string;
}

function encodeDest(dest: Dest): Buffer {
  const text = `${dest.lid.toString(16).padStart(4, '0')}:${dest.qpn.toString(16).padStart(6, '0')}:${dest.psn.toString(16).padStart(6, '0')}:${dest.gid}`;
  const bytes = Buffer.alloc(EXCHANGE_BYTES);
  bytes.write(text, 'latin1');
  return bytes;
}

function decodeDest(bytes: Buffer): Dest {
  const text = bytes.toString('latin1').replace(/\0.*$/s, '');
  const match = /^([0-9a-f]{4}):([0-9a-f]{6}):([0-9a-f]{6}):([0-9a-f]{32})$/.exec(text);
  if (match === null) throw new Error(`couldn't parse the remote address ${JSON.stringify(text)}: expected LID:QPN:PSN:GID in hex`);
  return { lid: parseInt(match[1]!, 16), qpn: parseInt(match[2]!, 16), psn: parseInt(match[3]!, 16), gid: match[4]! };
}

/** Reads exactly `n` bytes in paused mode, leaving anything after them in the socket for the QP. */
function readExactly(socket: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const chunk = socket.read(n) as Buffer | null;
      if (chunk !== null) {
        cleanup();
        resolve(chunk);
      }
    };
    const fail = (error?: Error) => { cleanup(); reject(error ?? new Error('the peer closed the connection during the exchange')); };
    const cleanup = () => { socket.off('readable', attempt); socket.off('error', fail); socket.off('end', fail); };
    socket.on('readable', attempt);
    socket.once('error', fail);
    socket.once('end', fail);
    attempt();
  });
}

function printDest(log: (line: string) => void, label: string, dest: Dest): void {
  const gid = dest.gid.match(/.{4}/g)!.join(':');
  log(`  ${label} address:  LID 0x${dest.lid.toString(16).padStart(4, '0')}, QPN 0x${dest.qpn.toString(16).padStart(6, '0')}, PSN 0x${dest.psn.toString(16).padStart(6, '0')}, GID ${gid}`);
}

interface Resources {
  ctx: Context;
  mr: MemoryRegion;
  cq: CompletionQueue;
  qp: QueuePair;
  channel: ReturnType<Context['createCompChannel']> | null;
}

function createResources(options: PingpongOptions): Resources {
  const ctx = openDevice(undefined, { observer: options.observer ?? null });
  const pd = ctx.allocPd();
  const mr = pd.regMr(new Uint8Array(options.size), Access.LOCAL_WRITE);
  const channel = options.useEvents ? ctx.createCompChannel() : null;
  const cq = ctx.createCq(options.rxDepth + 1, { channel });
  const qp = pd.createQp({ qpType: 'RC', sendCq: cq, recvCq: cq, cap: { maxSendWr: 1, maxRecvWr: options.rxDepth, maxSendSge: 1, maxRecvSge: 1 } });
  qp.modify({ qpState: 'INIT', pkeyIndex: 0, portNum: 1, qpAccessFlags: 0 }, M.STATE | M.PKEY_INDEX | M.PORT | M.ACCESS_FLAGS);
  return { ctx, mr, cq, qp, channel };
}

function connect(r: Resources, socket: net.Socket, my: Dest, remote: Dest): void {
  r.qp.modify({ qpState: 'RTR', ahAttr: { socket }, pathMtu: 1024, destQpNum: remote.qpn, rqPsn: remote.psn, maxDestRdAtomic: 1, minRnrTimer: 12 },
    M.STATE | M.AV | M.PATH_MTU | M.DEST_QPN | M.RQ_PSN | M.MAX_DEST_RD_ATOMIC | M.MIN_RNR_TIMER);
  r.qp.modify({ qpState: 'RTS', sqPsn: my.psn, timeout: 14, retryCnt: 7, rnrRetry: 7, maxRdAtomic: 1 },
    M.STATE | M.SQ_PSN | M.TIMEOUT | M.RETRY_CNT | M.RNR_RETRY | M.MAX_QP_RD_ATOMIC);
}

function postRecvs(r: Resources, count: number, size: number): void {
  const wrs = Array.from({ length: count }, () => ({ wrId: RECV_WRID, sgList: [{ addr: r.mr.addr, length: size, lkey: r.mr.lkey }] }));
  r.qp.postRecv(wrs);
}

function postSend(r: Resources, size: number): void {
  r.qp.postSend({ wrId: SEND_WRID, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [{ addr: r.mr.addr, length: size, lkey: r.mr.lkey }] });
}

async function nextCompletions(r: Resources): Promise<WorkCompletion[]> {
  for (;;) {
    const wcs = r.cq.poll(2);
    if (wcs.length > 0) return wcs;
    if (r.channel !== null) {
      r.cq.reqNotify(false);
      const again = r.cq.poll(2);
      if (again.length > 0) return again;
      await r.channel.getEvent();
      r.cq.ackEvents(1);
    } else {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

/** The ping-pong loop of rc_pingpong: `scnt`/`rcnt` up to iters, one send in flight at a time. */
async function pingpong(r: Resources, options: PingpongOptions, isClient: boolean): Promise<void> {
  let routs = options.rxDepth;
  let scnt = 0;
  let rcnt = 0;
  let pendingSend = false;
  let pendingRecv = true;
  const sendIfReady = () => {
    if (!pendingSend && !pendingRecv && scnt < options.iters) {
      postSend(r, options.size);
      pendingSend = true;
      pendingRecv = true;
    }
  };
  if (isClient) {
    postSend(r, options.size);
    pendingSend = true;
  }
  while (rcnt < options.iters || scnt < options.iters) {
    for (const wc of await nextCompletions(r)) {
      if (wc.status !== 'SUCCESS') throw new Error(`Failed status ${wc.status} for wr_id ${wc.wrId} (sent ${scnt}, received ${rcnt} of ${options.iters})`);
      if (wc.wrId === SEND_WRID) {
        scnt++;
        pendingSend = false;
      } else if (wc.wrId === RECV_WRID) {
        if (--routs <= 1) {
          postRecvs(r, options.rxDepth - routs, options.size);
          routs = options.rxDepth;
        }
        rcnt++;
        pendingRecv = false;
      } else {
        throw new Error(`Completion for unknown wr_id ${wc.wrId}`);
      }
    }
    sendIfReady();
  }
}

function report(options: PingpongOptions, seconds: number, qpNum: number): PingpongResult {
  const bytes = options.size * options.iters * 2;
  const result = { bytes, seconds, iters: options.iters, mbitPerSec: (bytes * 8) / seconds / 1e6, usecPerIter: (seconds * 1e6) / options.iters, qpNum };
  options.log(`${bytes} bytes in ${seconds.toFixed(2)} seconds = ${result.mbitPerSec.toFixed(2)} Mbit/sec`);
  options.log(`${options.iters} iters in ${seconds.toFixed(2)} seconds = ${result.usecPerIter.toFixed(2)} usec/iter`);
  return result;
}

/** Runs one side of ibv_rc_pingpong: the server when `host` is undefined, else the client. */
export async function runPingpong(options: PingpongOptions, onListening?: (port: number) => void): Promise<PingpongResult> {
  const r = createResources(options);
  try {
    const my: Dest = { lid: 0, qpn: r.qp.qpNum, psn: randomInt(0, 0x1000000), gid: '0'.repeat(32) };
    postRecvs(r, options.rxDepth, options.size);
    let socket: net.Socket;
    let remote: Dest;
    if (options.host === undefined) {
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(options.port, resolve); });
      onListening?.((server.address() as net.AddressInfo).port);
      socket = await new Promise<net.Socket>((resolve) => server.once('connection', resolve));
      server.close();
      socket.pause();
      remote = decodeDest(await readExactly(socket, EXCHANGE_BYTES));
      socket.write(encodeDest(my));
      // rc_pingpong connects before it sends its address; the QP takes the socket after "done".
      await readExactly(socket, 'done'.length);
    } else {
      socket = net.connect(options.port, options.host);
      await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', (e) => reject(new Error(`Couldn't connect to ${options.host}:${options.port}: ${e.message}`))); });
      socket.pause();
      socket.write(encodeDest(my));
      remote = decodeDest(await readExactly(socket, EXCHANGE_BYTES));
      socket.write('done');
    }
    printDest(options.log, 'local', my);
    printDest(options.log, 'remote', remote);
    connect(r, socket, my, remote);
    const started = process.hrtime.bigint();
    await pingpong(r, options, options.host !== undefined);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return report(options, seconds, r.qp.qpNum);
  } finally {
    // Let the last ACK leave before the socket closes under the peer.
    await new Promise((resolve) => setTimeout(resolve, 20));
    r.ctx.close();
  }
}
