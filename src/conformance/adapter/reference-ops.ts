import net from 'node:net';
import { openDevice, VerbsError } from '../../index.js';
import type { CompletionChannel, CompletionQueue, Context, MemoryRegion, ProtectionDomain, QpAttr, QueuePair, RecvWr, SendWr, WorkCompletion } from '../../index.js';
import type { OpName } from '../protocol/messages.js';
import { PROTOCOL_VERSION } from '../protocol/messages.js';
import { AdapterError, Handles } from './handles.js';

type Args = Record<string, unknown>;
type Emit = (event: Record<string, unknown>) => void;

const str = (v: unknown) => v as string;
const num = (v: unknown) => v as number;
const EMPTY = {};

function connectedSocket(socket: net.Socket): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('error', (error) => reject(new AdapterError('ECONNREFUSED', error.message)));
  });
}

function wcOut(wc: WorkCompletion): Record<string, unknown> {
  return { ...wc, wrId: wc.wrId.toString() };
}

function sendWrIn(wr: Args): SendWr {
  const atomic = wr.atomic as Args | undefined;
  return {
    ...(wr as unknown as SendWr),
    wrId: BigInt(str(wr.wrId)),
    ...(atomic === undefined ? {} : { atomic: { remoteAddr: num(atomic.remoteAddr), rkey: num(atomic.rkey), compareAdd: BigInt(str(atomic.compareAdd)), swap: BigInt(str(atomic.swap)) } }),
  };
}

/**
 * The reference implementation behind the adapter protocol: each op is the verbs call it names,
 * on the objects its handles name. Argument shapes were checked against the schema before.
 */
export class ReferenceOps {
  private readonly handles = new Handles();

  constructor(private readonly emit: Emit) {}

  async run(op: OpName, args: Args): Promise<unknown> {
    const h = this.handles;
    switch (op) {
      case 'hello': {
        const ctx = openDevice();
        const device = ctx.queryDevice();
        ctx.close();
        return {
          name: 'tcpverbs reference 0.1.0',
          protocolVersion: PROTOCOL_VERSION,
          capabilities: {
            qpTypes: ['RC', 'STREAM'],
            opcodes: ['SEND', 'SEND_WITH_IMM', 'RDMA_WRITE', 'RDMA_WRITE_WITH_IMM', 'RDMA_READ', 'ATOMIC_CMP_AND_SWP', 'ATOMIC_FETCH_AND_ADD'],
            features: ['completion-channel', 'inline', 'sqd', 'atomics', 'unsignaled', 'solicited', 'fence', 'dereg-busy'],
            limits: { maxQpWr: device.maxQpWr, maxSge: device.maxSge, maxCqe: device.maxCqe, maxMrSize: device.maxMrSize, maxInlineData: device.maxInlineData, maxQpRdAtom: device.maxQpRdAtom },
          },
        };
      }
      case 'openDevice': {
        const ctx = openDevice(args.name === undefined ? undefined : str(args.name));
        const context = h.add('context', ctx);
        void this.forwardAsyncEvents(ctx, context);
        return { context };
      }
      case 'closeDevice':
        h.get<Context>('context', str(args.context)).close();
        h.delete(str(args.context));
        return EMPTY;
      case 'queryDevice': {
        const attr = h.get<Context>('context', str(args.context)).queryDevice();
        return { ...attr, nodeGuid: attr.nodeGuid.toString() };
      }
      case 'queryPort':
        return h.get<Context>('context', str(args.context)).queryPort(num(args.portNum));
      case 'allocPd':
        return { pd: h.add('pd', h.get<Context>('context', str(args.context)).allocPd()) };
      case 'deallocPd':
        h.get<ProtectionDomain>('pd', str(args.pd)).dealloc();
        return EMPTY;
      case 'regMr': {
        const mr = h.get<ProtectionDomain>('pd', str(args.pd)).regMr(new Uint8Array(num(args.length)), num(args.access));
        return { mr: h.add('mr', mr), lkey: mr.lkey, rkey: mr.rkey, addr: mr.addr, length: mr.length };
      }
      case 'deregMr':
        h.get<MemoryRegion>('mr', str(args.mr)).dereg();
        return EMPTY;
      case 'writeMr': {
        const mr = h.get<MemoryRegion>('mr', str(args.mr));
        const data = Buffer.from(str(args.data), 'base64');
        this.checkRange(mr, num(args.offset), data.byteLength);
        mr.buffer.set(data, num(args.offset));
        return EMPTY;
      }
      case 'readMr': {
        const mr = h.get<MemoryRegion>('mr', str(args.mr));
        this.checkRange(mr, num(args.offset), num(args.length));
        return { data: Buffer.from(mr.buffer.subarray(num(args.offset), num(args.offset) + num(args.length))).toString('base64') };
      }
      case 'createCompChannel': {
        const channel = h.get<Context>('context', str(args.context)).createCompChannel();
        const handle = h.add('channel', channel);
        void this.forwardCqEvents(channel, handle);
        return { channel: handle };
      }
      case 'destroyCompChannel':
        h.get<CompletionChannel>('channel', str(args.channel)).destroy();
        return EMPTY;
      case 'createCq': {
        const channel = args.channel === undefined ? null : h.get<CompletionChannel>('channel', str(args.channel));
        const cq = h.get<Context>('context', str(args.context)).createCq(num(args.cqe), { channel });
        return { cq: h.add('cq', cq), cqe: cq.cqe };
      }
      case 'destroyCq':
        h.get<CompletionQueue>('cq', str(args.cq)).destroy();
        return EMPTY;
      case 'pollCq':
        return { wcs: h.get<CompletionQueue>('cq', str(args.cq)).poll(num(args.max)).map(wcOut) };
      case 'reqNotifyCq':
        h.get<CompletionQueue>('cq', str(args.cq)).reqNotify(args.solicitedOnly === true);
        return EMPTY;
      case 'ackCqEvents':
        h.get<CompletionQueue>('cq', str(args.cq)).ackEvents(num(args.count));
        return EMPTY;
      case 'createQp': {
        const qp = h.get<ProtectionDomain>('pd', str(args.pd)).createQp({
          qpType: args.qpType as 'RC' | 'STREAM', sendCq: h.get('cq', str(args.sendCq)), recvCq: h.get('cq', str(args.recvCq)),
          ...(args.sqSigAll === undefined ? {} : { sqSigAll: args.sqSigAll === true }), cap: args.cap as never,
        });
        return { qp: h.add('qp', qp), qpNum: qp.qpNum, cap: qp.cap };
      }
      case 'modifyQp': {
        const attr = { ...(args.attr as Args) };
        const ah = attr.ahAttr as { socket?: string } | undefined;
        if (ah?.socket !== undefined) attr.ahAttr = { socket: h.get<net.Socket>('socket', ah.socket) };
        h.get<QueuePair>('qp', str(args.qp)).modify(attr as QpAttr, num(args.mask));
        return EMPTY;
      }
      case 'queryQp':
        return h.get<QueuePair>('qp', str(args.qp)).query();
      case 'destroyQp':
        h.get<QueuePair>('qp', str(args.qp)).destroy();
        return EMPTY;
      case 'postSend':
        h.get<QueuePair>('qp', str(args.qp)).postSend((args.wrs as Args[]).map(sendWrIn));
        return EMPTY;
      case 'postRecv':
        h.get<QueuePair>('qp', str(args.qp)).postRecv((args.wrs as Args[]).map((wr) => ({ ...(wr as unknown as RecvWr), wrId: BigInt(str(wr.wrId)) })));
        return EMPTY;
      case 'listen': {
        const server = net.createServer({ pauseOnConnect: true });
        const pending: net.Socket[] = [];
        const waiting: ((socket: net.Socket) => void)[] = [];
        server.on('connection', (socket) => {
          const waiter = waiting.shift();
          if (waiter !== undefined) waiter(socket);
          else pending.push(socket);
        });
        await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(num(args.port ?? 0), '127.0.0.1', resolve); });
        const accept = () => new Promise<net.Socket>((resolve) => { const socket = pending.shift(); if (socket !== undefined) resolve(socket); else waiting.push(resolve); });
        return { listener: h.add('listener', { server, accept }), port: (server.address() as net.AddressInfo).port };
      }
      case 'accept': {
        const listener = h.get<{ accept: () => Promise<net.Socket> }>('listener', str(args.listener));
        return { socket: h.add('socket', await listener.accept()) };
      }
      case 'connect':
        return { socket: h.add('socket', await connectedSocket(net.connect(num(args.port), str(args.host)))) };
      case 'closeListener':
        h.get<{ server: net.Server }>('listener', str(args.listener)).server.close();
        h.delete(str(args.listener));
        return EMPTY;
      case 'exit':
        return EMPTY;
    }
  }

  /** Closes everything the adapter opened (at exit, or when the kit goes away). */
  shutdown(): void {
    for (const ctx of this.handles.all<Context>('context')) ctx.close();
    for (const socket of this.handles.all<net.Socket>('socket')) socket.destroy();
    for (const listener of this.handles.all<{ server: net.Server }>('listener')) listener.server.close();
  }

  private checkRange(mr: MemoryRegion, offset: number, length: number): void {
    if (offset + length > mr.length) throw new AdapterError('EINVAL', `[${offset}, +${length}) is outside the ${mr.length}-byte MR`);
  }

  private async forwardAsyncEvents(ctx: Context, context: string): Promise<void> {
    for (;;) {
      const event = await ctx.getAsyncEvent().catch(() => null);
      if (event === null) return;
      const cq = event.cq === undefined ? undefined : this.handles.handleOf('cq', event.cq);
      this.emit({ type: 'asyncEvent', context, event: event.type, ...(event.qp === undefined ? {} : { qpNum: event.qp.qpNum }), ...(cq === undefined ? {} : { cq }), ...(event.reason === undefined ? {} : { reason: event.reason }) });
    }
  }

  private async forwardCqEvents(channel: CompletionChannel, handle: string): Promise<void> {
    for (;;) {
      const event = await channel.getEvent().catch(() => null);
      if (event === null) return;
      const cq = this.handles.handleOf('cq', event.cq);
      if (cq !== undefined) this.emit({ type: 'cqEvent', channel: handle, cq });
    }
  }
}

/** The error reply for whatever a verbs call threw. */
export function errorOf(error: unknown): { errno: string; message: string; badWr?: number } {
  if (error instanceof VerbsError || error instanceof AdapterError) {
    // VerbsError's message starts with its errno, which the reply carries on its own.
    const message = error.message.startsWith(`${error.errno}: `) ? error.message.slice(error.errno.length + 2) : error.message;
    return { errno: error.errno, message, ...(error.badWr === undefined ? {} : { badWr: error.badWr }) };
  }
  return { errno: 'EIO', message: `the reference threw: ${error instanceof Error ? error.message : String(error)}` };
}
