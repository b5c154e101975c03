import { TraceRecorder, type Trace, type TraceEp, type TraceQueue } from '../../spec/trace.js';
import { AdapterRefused, type AdapterClient } from './adapter-client.js';
import { INIT_MASK, RTR_MASK, RTS_MASK, attrValues } from './qp-attrs.js';
import type { Coverage } from './cases.js';
import { MachineSteps } from './machine-steps.js';

type R = Record<string, unknown>;

/**
 * One command of a random sequence, in the spec's vocabulary (spec/RcVerbs.tla): buffers b1..b3
 * are 256-byte slots of each endpoint's MR; region r1 is a range of the peer's MR (REMOTE_WRITE
 * granted), r2 a range past its end; BADREQ is a misaligned atomic (an invalid request).
 */
export type Command =
  | { k: 'send'; ep: TraceEp; op: 'SEND' | 'WRITE' | 'BADREQ'; tgt: 'none' | 'r1' | 'r2' }
  | { k: 'recv'; ep: TraceEp }
  | { k: 'poll'; ep: TraceEp; max: number }
  | { k: 'modify'; ep: TraceEp; to: 'ERR' | 'RESET' | 'INIT' | 'SQD' | 'RTS' | 'invalid' }
  | { k: 'query'; ep: TraceEp }
  | { k: 'run' };

export interface Sequence {
  /** B never takes its QP past INIT: A's requests meet silence. */
  readonly silentPeer: boolean;
  readonly rnrRetry: number;
  readonly commands: readonly Command[];
}

export const BUFFERS = ['b1', 'b2', 'b3'] as const;
const SLOT = 256;
const MR_BYTES = 4096;
const R1_OFFSET = 2048;
const PAYLOAD = 64;
/** Posts per endpoint: the spec's WR ids run 1..MaxPosts, and its state space grows with them. */
const MAX_POSTS = 6;
/** What `run` gives the two NICs and the connection: the time a posted WR needs on loopback. */
const RUN_MS = 25;
const ACCESS_MR = 1 | 2 | 8;
const ACCESS_QP = 2 | 8;

interface Side {
  readonly ep: TraceEp;
  readonly iut: AdapterClient;
  readonly context: string;
  readonly mr: { mr: string; addr: number; lkey: number; rkey: number };
  readonly cq: string;
  readonly qp: string;
  readonly qpNum: number;
  readonly free: Set<string>;
  /** Posted and not yet polled: wr id → queue and buffer. */
  readonly outstanding: Map<string, { q: TraceQueue; buf: string }>;
  /** Outstanding at a RESET: discarded, or completed before it and still in the CQ. */
  readonly limbo: Map<string, { q: TraceQueue; buf: string }>;
  nextWr: number;
}

/** A completion the implementation produced for a WR the endpoint has no record of. */
export class UnknownCompletion extends Error {}

/**
 * Runs a random sequence across two endpoints through the adapter protocol (A on the IUT, B on
 * the peer) and records what the application saw as an NDJSON trace for the trace checker.
 */
export class SequenceDriver {
  readonly recorder: TraceRecorder;
  /** The same calls, step by step against the machines. */
  readonly machines = new MachineSteps();
  private constructor(private readonly a: Side, private readonly b: Side, private readonly sequence: Sequence, private readonly coverage: Coverage, source: string) {
    this.recorder = new TraceRecorder(source, { Buffers: [...BUFFERS], SendOps: ['BADREQ', 'SEND', 'WRITE'], Regions: ['r1', 'r2'], RemoteWritable: ['r1'], RnrRetry: sequence.rnrRetry, AllowBreak: false });
  }

  static async open(iut: AdapterClient, peer: AdapterClient, sequence: Sequence, coverage: Coverage, source: string): Promise<SequenceDriver> {
    const side = async (ep: TraceEp, client: AdapterClient): Promise<Side> => {
      const { context } = await client.request('openDevice', {}) as R;
      const { pd } = await client.request('allocPd', { context }) as R;
      const mr = await client.request('regMr', { pd, length: MR_BYTES, access: ACCESS_MR }) as Side['mr'];
      const { cq } = await client.request('createCq', { context, cqe: 64 }) as R;
      const created = await client.request('createQp', { pd, qpType: 'RC', sendCq: cq, recvCq: cq, cap: { maxSendWr: 16, maxRecvWr: 16, maxSendSge: 1, maxRecvSge: 1 } }) as R;
      return { ep, iut: client, context: context as string, mr, cq: cq as string, qp: created.qp as string, qpNum: created.qpNum as number, free: new Set(BUFFERS), outstanding: new Map(), limbo: new Map(), nextWr: 1 };
    };
    return new SequenceDriver(await side('A', iut), await side('B', peer), sequence, coverage, source);
  }

  private side(ep: TraceEp): Side {
    return ep === 'A' ? this.a : this.b;
  }

  private peer(s: Side): Side {
    return s === this.a ? this.b : this.a;
  }

  /** Connection set-up as rc_pingpong does it, the commands, then a drain and a last query. */
  async run(): Promise<Trace> {
    try {
      const { listener, port } = await this.b.iut.request('listen', {}) as R;
      const [accepted, connected] = await Promise.all([this.b.iut.request('accept', { listener }) as Promise<R>, this.a.iut.request('connect', { host: '127.0.0.1', port }) as Promise<R>]);
      await this.b.iut.request('closeListener', { listener });
      const sockets = { A: connected.socket, B: accepted.socket };
      for (const ep of ['A', 'B'] as const) await this.modify(ep, 'INIT', INIT_MASK, { accessFlags: ACCESS_QP });
      for (const ep of this.sequence.silentPeer ? ['A'] as const : ['A', 'B'] as const) await this.modify(ep, 'RTR', RTR_MASK, { socket: sockets[ep] });
      for (const ep of this.sequence.silentPeer ? ['A'] as const : ['A', 'B'] as const) await this.modify(ep, 'RTS', RTS_MASK);
      for (const command of this.sequence.commands) await this.execute(command);
      for (let round = 0; round < 3; round++) {
        await this.wait();
        for (const ep of ['A', 'B'] as const) while (await this.poll(ep, 8) === 8);
      }
      await this.query('A');
      await this.query('B');
      return this.recorder.trace();
    } finally {
      await Promise.all([this.a, this.b].map((s) => s.iut.request('closeDevice', { context: s.context }).catch(() => {})));
    }
  }

  private async execute(c: Command): Promise<void> {
    switch (c.k) {
      case 'send': return this.postSend(c.ep, c.op, c.tgt);
      case 'recv': return this.postRecv(c.ep);
      case 'poll': await this.poll(c.ep, c.max); return;
      case 'query': return this.query(c.ep);
      case 'run': return this.wait();
      case 'modify': {
        // The state as the IUT says now (an unrecorded query: the spec explains what lies between).
        const state = ((await this.side(c.ep).iut.request('queryQp', { qp: this.side(c.ep).qp })) as R).qpState as string;
        if (c.to === 'invalid') return this.modify(c.ep, INVALID_FROM[state] ?? 'RTR', 0);
        // RTS from SQD only, INIT from RESET only (RTR → RTS belongs to the connection set-up).
        if ((c.to === 'RTS' && state !== 'SQD') || (c.to === 'INIT' && state !== 'RESET')) return;
        return this.modify(c.ep, c.to, c.to === 'INIT' ? INIT_MASK : 0, { accessFlags: ACCESS_QP });
      }
    }
  }

  /** A modify with the attributes `mask` needs (the STATE bit alone when 0). */
  private async modify(ep: TraceEp, to: string, mask: number, extra: { accessFlags?: number; socket?: unknown } = {}): Promise<void> {
    const s = this.side(ep);
    const fullMask = mask === 0 ? 1 : mask;
    const attr: R = { ...attrValues('INIT', to as never, fullMask, { destQpNum: this.peer(s).qpNum, ...(extra.accessFlags === undefined ? {} : { accessFlags: extra.accessFlags }) }) };
    if (to === 'RTR') Object.assign(attr, { ahAttr: { socket: extra.socket }, minRnrTimer: 1, maxDestRdAtomic: 4 });
    if (to === 'RTS' && mask !== 0) Object.assign(attr, { timeout: this.sequence.silentPeer ? 12 : 18, retryCnt: 2, rnrRetry: this.sequence.rnrRetry, maxRdAtomic: 4 });
    const ok = await accepted(s.iut.request('modifyQp', { qp: s.qp, attr, mask: fullMask }));
    if (ok && to === 'RESET') {
      for (const [wrId, wr] of s.outstanding) s.limbo.set(wrId, wr);
      s.outstanding.clear();
    }
    this.recorder.record({ t: 'modify', ep, to, ok });
    this.machines.modify(ep, to as never, fullMask, ok);
  }

  private async postSend(ep: TraceEp, op: 'SEND' | 'WRITE' | 'BADREQ', tgt: 'none' | 'r1' | 'r2'): Promise<void> {
    const s = this.side(ep);
    const buf = [...s.free][0];
    if (buf === undefined || this.recorder.postsOn(ep) >= MAX_POSTS) return;
    const peer = this.peer(s);
    const wrId = String(s.nextWr++);
    const local = { addr: s.mr.addr + BUFFERS.indexOf(buf as never) * SLOT, length: op === 'BADREQ' ? 8 : PAYLOAD, lkey: s.mr.lkey };
    const remoteAddr = tgt === 'r2' ? peer.mr.addr + MR_BYTES + SLOT : peer.mr.addr + R1_OFFSET + (op === 'BADREQ' ? 1 : 0);
    const wr: R = op === 'SEND' ? { wrId, opcode: 'SEND', sendFlags: 2, sgList: [local] }
      : op === 'WRITE' ? { wrId, opcode: 'RDMA_WRITE', sendFlags: 2, sgList: [local], rdma: { remoteAddr, rkey: peer.mr.rkey } }
        : { wrId, opcode: 'ATOMIC_FETCH_AND_ADD', sendFlags: 2, sgList: [local], atomic: { remoteAddr, rkey: peer.mr.rkey, compareAdd: '1', swap: '0' } };
    const ok = await accepted(s.iut.request('postSend', { qp: s.qp, wrs: [wr] }));
    if (ok) {
      s.free.delete(buf);
      s.outstanding.set(wrId, { q: 'S', buf });
    }
    this.recorder.record({ t: 'post_send', ep, wr: wrId, op, buf, tgt: op === 'WRITE' ? tgt : 'none', ok });
    this.machines.post(ep, 'send', ok);
  }

  private async postRecv(ep: TraceEp): Promise<void> {
    const s = this.side(ep);
    const buf = [...s.free][0];
    if (buf === undefined || this.recorder.postsOn(ep) >= MAX_POSTS) return;
    const wrId = String(s.nextWr++);
    const ok = await accepted(s.iut.request('postRecv', { qp: s.qp, wrs: [{ wrId, sgList: [{ addr: s.mr.addr + BUFFERS.indexOf(buf as never) * SLOT, length: SLOT, lkey: s.mr.lkey }] }] }));
    if (ok) {
      s.free.delete(buf);
      s.outstanding.set(wrId, { q: 'R', buf });
    }
    this.recorder.record({ t: 'post_recv', ep, wr: wrId, buf, ok });
    this.machines.post(ep, 'recv', ok);
  }

  private async poll(ep: TraceEp, max: number): Promise<number> {
    const s = this.side(ep);
    const { wcs } = await s.iut.request('pollCq', { cq: s.cq, max }) as { wcs: R[] };
    const seen = wcs.map((wc) => {
      const wrId = wc.wrId as string;
      const wr = s.outstanding.get(wrId) ?? s.limbo.get(wrId);
      if (wr === undefined) throw new UnknownCompletion(`${ep} polled a completion (${wrId}:${wc.status}) for WR ${wrId}, which is not outstanding: never posted, or completed already`);
      s.outstanding.delete(wrId);
      s.limbo.delete(wrId);
      s.free.add(wr.buf);
      this.coverage.wcStatuses.add(wc.status as string);
      if (wc.status === 'SUCCESS') this.coverage.opcodes.add(wc.opcode as string);
      return { wr: wrId, q: wr.q, st: wc.status as string };
    });
    this.recorder.record({ t: 'poll', ep, max, wcs: seen });
    return seen.length;
  }

  private async query(ep: TraceEp): Promise<void> {
    const s = this.side(ep);
    const state = ((await s.iut.request('queryQp', { qp: s.qp })) as R).qpState as string;
    this.coverage.qpStates.add(state);
    this.recorder.record({ t: 'state', ep, qp: state });
    this.machines.query(ep, state as never);
  }

  private wait(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, RUN_MS));
  }
}

/** A target the kernel table refuses from each state (the call must fail with EINVAL). */
const INVALID_FROM: Record<string, string> = { RESET: 'RTS', INIT: 'RTS', RTR: 'SQD', RTS: 'RTR', SQD: 'INIT', SQE: 'SQD', ERR: 'RTS' };

/** Whether the call was accepted; EINVAL (what the spec's tables refuse) is the one refusal expected. */
async function accepted(call: Promise<unknown>): Promise<boolean> {
  try {
    await call;
    return true;
  } catch (error) {
    if (error instanceof AdapterRefused && error.errno === 'EINVAL') return false;
    throw error;
  }
}
