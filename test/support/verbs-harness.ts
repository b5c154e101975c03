import net from 'node:net';
import { openDevice, Access, QpAttrMask as M } from '../../src/index.js';
import type { Context, ProtectionDomain, MemoryRegion, CompletionQueue, CompletionChannel, QueuePair, WorkCompletion, QpType, ContextOptions } from '../../src/index.js';
import type { Transport } from '../../src/transport/types.js';
import { Monitor } from '../../src/monitor/monitor.js';

export const ALL_ACCESS = Access.LOCAL_WRITE | Access.REMOTE_WRITE | Access.REMOTE_READ | Access.REMOTE_ATOMIC;

export interface Side {
  ctx: Context;
  pd: ProtectionDomain;
  mr: MemoryRegion;
  cq: CompletionQueue;
  qp: QueuePair;
  monitor: Monitor;
  channel: CompletionChannel | null;
}

export interface SideOptions {
  qpType?: QpType;
  cqe?: number;
  mrBytes?: number;
  mrAccess?: number;
  maxSendWr?: number;
  maxRecvWr?: number;
  maxSge?: number;
  maxInlineData?: number;
  sqSigAll?: boolean;
  /** Create the CQ with a completion channel. */
  withChannel?: boolean;
  context?: Partial<ContextOptions>;
}

/** A device context with one PD, MR, CQ and QP (in INIT), watched by its own monitor. */
export function makeSide(options: SideOptions = {}): Side {
  const monitor = new Monitor();
  const ctx = openDevice(undefined, { observer: monitor, ...options.context });
  const pd = ctx.allocPd();
  const mr = pd.regMr(new Uint8Array(options.mrBytes ?? 1 << 16), options.mrAccess ?? ALL_ACCESS);
  const channel = options.withChannel === true ? ctx.createCompChannel() : null;
  const cq = ctx.createCq(options.cqe ?? 256, { channel });
  const qp = pd.createQp({
    qpType: options.qpType ?? 'RC', sendCq: cq, recvCq: cq, sqSigAll: options.sqSigAll ?? false,
    cap: { maxSendWr: options.maxSendWr ?? 64, maxRecvWr: options.maxRecvWr ?? 64, maxSendSge: options.maxSge ?? 4, maxRecvSge: options.maxSge ?? 4, maxInlineData: options.maxInlineData ?? 64 },
  });
  qp.modify({ qpState: 'INIT', pkeyIndex: 0, portNum: 1, qpAccessFlags: Access.REMOTE_WRITE | Access.REMOTE_READ | Access.REMOTE_ATOMIC }, M.STATE | M.PKEY_INDEX | M.PORT | M.ACCESS_FLAGS);
  return { ctx, pd, mr, cq, qp, monitor, channel };
}

export interface RtsOptions {
  timeout?: number;
  retryCnt?: number;
  rnrRetry?: number;
  minRnrTimer?: number;
  maxRdAtomic?: number;
}

type Peer = { socket: net.Socket } | { transport: Transport };

export function toRtr(side: Side, peerQpNum: number, peer: Peer, options: RtsOptions = {}): void {
  side.qp.modify({ qpState: 'RTR', ahAttr: peer as never, pathMtu: 4096, destQpNum: peerQpNum, rqPsn: 0, maxDestRdAtomic: 16, minRnrTimer: options.minRnrTimer ?? 1 },
    M.STATE | M.AV | M.PATH_MTU | M.DEST_QPN | M.RQ_PSN | M.MAX_DEST_RD_ATOMIC | M.MIN_RNR_TIMER);
}

export function toRts(side: Side, options: RtsOptions = {}): void {
  side.qp.modify({ qpState: 'RTS', sqPsn: 0, timeout: options.timeout ?? 14, retryCnt: options.retryCnt ?? 7, rnrRetry: options.rnrRetry ?? 7, maxRdAtomic: options.maxRdAtomic ?? 16 },
    M.STATE | M.SQ_PSN | M.TIMEOUT | M.RETRY_CNT | M.RNR_RETRY | M.MAX_QP_RD_ATOMIC);
}

/** A connected pair of loopback TCP sockets: [client, accepted]. */
export async function socketPair(): Promise<[net.Socket, net.Socket, () => void]> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect(port, '127.0.0.1');
  await new Promise((resolve, reject) => { client.once('connect', resolve); client.once('error', reject); });
  return [client, await accepted, () => server.close()];
}

export interface ConnectedPair {
  a: Side;
  b: Side;
  close(): void;
}

/** Two RC QPs in RTS over real loopback TCP, each watched by a monitor. */
export async function rcPair(options: SideOptions & RtsOptions & { a?: SideOptions & RtsOptions; b?: SideOptions & RtsOptions } = {}): Promise<ConnectedPair> {
  const [client, server, stop] = await socketPair();
  const a = makeSide({ ...options, ...options.a });
  const b = makeSide({ ...options, ...options.b });
  toRtr(a, b.qp.qpNum, { socket: client }, { ...options, ...options.a });
  toRtr(b, a.qp.qpNum, { socket: server }, { ...options, ...options.b });
  toRts(a, { ...options, ...options.a });
  toRts(b, { ...options, ...options.b });
  return {
    a, b,
    close: () => { a.ctx.close(); b.ctx.close(); stop(); },
  };
}

/** Polls until `count` completions arrived or `ms` passed (real time). */
export async function pollUntil(cq: CompletionQueue, count: number, ms = 3000): Promise<WorkCompletion[]> {
  const got: WorkCompletion[] = [];
  const deadline = Date.now() + ms;
  while (got.length < count && Date.now() < deadline) {
    got.push(...cq.poll(count - got.length));
    if (got.length < count) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return got;
}

export async function waitFor(predicate: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

export function sge(side: Side, offset: number, length: number) {
  return { addr: side.mr.addr + offset, length, lkey: side.mr.lkey };
}

export const text = (s: string) => new TextEncoder().encode(s);
export const str = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
