import net from 'node:net';
import { openDevice, Access, QpAttrMask as M, SendFlags, VerbsError } from '../../src/index.js';
import type { CompletionQueue, Context, MemoryRegion, QueuePair } from '../../src/index.js';
import type { Transport } from '../../src/transport/types.js';
import { VirtualClock } from '../../src/transport/clock.js';
import { createSimulatedPair, type SimulatedEvent } from '../../src/transport/simulated.js';
import { Monitor } from '../../src/monitor/monitor.js';
import { TraceRecorder, type Trace, type TraceEp, type TraceQueue } from '../../src/spec/trace.js';
import { socketPair } from './verbs-harness.js';
import type { Command } from '../../src/conformance/kit/sequence-driver.js';

/**
 * Drives two RC endpoints through the verbs API and records what the application saw as a trace
 * for the spec (src/spec/trace.ts): every modify, post, poll and query. The abstraction the spec
 * uses is fixed here: buffers b1..b3 are 256-byte slots of each endpoint's MR; region r1 is a range
 * of the peer's MR (REMOTE_WRITE granted), r2 a range past its end; BADREQ is a misaligned atomic.
 */
export const BUFFERS = ['b1', 'b2', 'b3'] as const;
const SLOT = 256;
const MR_BYTES = 4096;
const R1_OFFSET = 2048;
const PAYLOAD = 64;

/** The spec-vocabulary operations, shared with conform's random sequences. */
export type Op = Command;

export interface Scenario {
  readonly transport: 'sim' | 'tcp';
  readonly seed: number;
  /** The peer B never takes the connection (stays in INIT): A's requests meet silence. */
  readonly silentPeer: boolean;
  /** Simulated stream only: the A->B direction breaks after this many bytes. */
  readonly breakAfterBytes?: number;
  readonly rnrRetry: number;
  readonly ops: readonly Op[];
}

interface Endpoint {
  readonly ep: TraceEp;
  readonly ctx: Context;
  readonly mr: MemoryRegion;
  readonly cq: CompletionQueue;
  readonly qp: QueuePair;
  readonly monitor: Monitor;
  /** Buffers the process may post (no WR of ours holds them). */
  readonly free: Set<string>;
  /** Outstanding WRs: wr id -> queue and buffer. */
  readonly outstanding: Map<bigint, { q: TraceQueue; buf: string }>;
  /** WRs outstanding at a RESET: discarded, or completed before it and still in the CQ. */
  readonly limbo: Map<bigint, { q: TraceQueue; buf: string }>;
  nextWr: bigint;
  transport: Transport | { socket: net.Socket } | null;
}

/** Posts per endpoint the driver allows: the spec's WR ids run 1..MaxPosts (at most 9). */
const MAX_POSTS = 6;

/** Whether the verb took the call; EINVAL (what the spec's tables refuse) is the one refusal expected. */
function accepted(call: () => unknown): boolean {
  try {
    call();
    return true;
  } catch (error) {
    if (!(error instanceof VerbsError) || error.errno !== 'EINVAL') throw error;
    return false;
  }
}

const slotAddr = (e: Endpoint, buf: string) => e.mr.addr + BUFFERS.indexOf(buf as (typeof BUFFERS)[number]) * SLOT;

export class TraceDriver {
  private readonly a: Endpoint;
  private readonly b: Endpoint;
  readonly recorder: TraceRecorder;

  private constructor(
    private readonly scenario: Scenario,
    private readonly clock: VirtualClock | null,
    peers: [Transport | { socket: net.Socket }, Transport | { socket: net.Socket }],
    private readonly cleanup: () => void,
    /** What the simulated stream did, step by step (empty on real TCP). */
    readonly linkEvents: readonly SimulatedEvent[] = [],
  ) {
    const endpoint = (ep: TraceEp, peer: Transport | { socket: net.Socket }): Endpoint => {
      const monitor = new Monitor();
      const ctx = openDevice(undefined, { observer: monitor, ...(clock === null ? {} : { clock }) });
      const pd = ctx.allocPd();
      const mr = pd.regMr(new Uint8Array(MR_BYTES), Access.LOCAL_WRITE | Access.REMOTE_WRITE | Access.REMOTE_ATOMIC);
      const cq = ctx.createCq(64);
      const qp = pd.createQp({ qpType: 'RC', sendCq: cq, recvCq: cq, cap: { maxSendWr: 16, maxRecvWr: 16, maxSendSge: 1, maxRecvSge: 1 } });
      return { ep, ctx, mr, cq, qp, monitor, free: new Set(BUFFERS), outstanding: new Map(), limbo: new Map(), nextWr: 1n, transport: peer };
    };
    this.a = endpoint('A', peers[0]);
    this.b = endpoint('B', peers[1]);
    this.recorder = new TraceRecorder(
      `${scenario.transport} seed=${scenario.seed}${scenario.silentPeer ? ' silent-peer' : ''}${scenario.breakAfterBytes === undefined ? '' : ` break-after=${scenario.breakAfterBytes}`} rnrRetry=${scenario.rnrRetry}`,
      { Buffers: [...BUFFERS], SendOps: ['BADREQ', 'SEND', 'WRITE'], Regions: ['r1', 'r2'], RemoteWritable: ['r1'], RnrRetry: scenario.rnrRetry, AllowBreak: scenario.breakAfterBytes !== undefined },
    );
  }

  static async create(scenario: Scenario): Promise<TraceDriver> {
    if (scenario.transport === 'sim') {
      const clock = new VirtualClock();
      const faults = scenario.breakAfterBytes === undefined ? undefined : { aToB: { breakAfterBytes: scenario.breakAfterBytes } };
      const linkEvents: SimulatedEvent[] = [];
      const [ta, tb] = createSimulatedPair({ clock, seed: scenario.seed, maxChunk: 1 + (scenario.seed % 400), maxDelayMs: 1, faults, trace: (event) => linkEvents.push(event) });
      return new TraceDriver(scenario, clock, [{ transport: ta } as never, { transport: tb } as never], () => {}, linkEvents);
    }
    const [client, server, stop] = await socketPair();
    return new TraceDriver(scenario, null, [{ socket: client }, { socket: server }], () => { client.destroy(); server.destroy(); stop(); });
  }

  private side(ep: TraceEp): Endpoint {
    return ep === 'A' ? this.a : this.b;
  }

  private peer(e: Endpoint): Endpoint {
    return e === this.a ? this.b : this.a;
  }

  /** The modify call the driver makes for a target, with the attributes the transition requires. */
  private modifyCall(e: Endpoint, to: string): { attr: Record<string, unknown>; mask: number } {
    switch (to) {
      case 'INIT': return { attr: { qpState: 'INIT', pkeyIndex: 0, portNum: 1, qpAccessFlags: Access.REMOTE_WRITE | Access.REMOTE_ATOMIC }, mask: M.STATE | M.PKEY_INDEX | M.PORT | M.ACCESS_FLAGS };
      case 'RTR': return {
        attr: { qpState: 'RTR', ahAttr: e.transport, pathMtu: 4096, destQpNum: this.peer(e).qp.qpNum, rqPsn: 0, maxDestRdAtomic: 4, minRnrTimer: 1 },
        mask: M.STATE | M.AV | M.PATH_MTU | M.DEST_QPN | M.RQ_PSN | M.MAX_DEST_RD_ATOMIC | M.MIN_RNR_TIMER,
      };
      case 'RTS':
        if (e.qp.state === 'RTR') {
          return { attr: { qpState: 'RTS', sqPsn: 0, timeout: 18, retryCnt: 2, rnrRetry: this.scenario.rnrRetry, maxRdAtomic: 4 }, mask: M.STATE | M.SQ_PSN | M.TIMEOUT | M.RETRY_CNT | M.RNR_RETRY | M.MAX_QP_RD_ATOMIC };
        }
        return { attr: { qpState: 'RTS' }, mask: M.STATE };
      default: return { attr: { qpState: to }, mask: M.STATE };
    }
  }

  modify(ep: TraceEp, to: string): void {
    const e = this.side(ep);
    const { attr, mask } = this.modifyCall(e, to);
    const ok = accepted(() => e.qp.modify(attr as never, mask));
    if (ok && to === 'RTR') e.transport = null;
    if (ok && to === 'RESET') {
      // Whatever was outstanding is discarded or sits in the CQ: reuse a buffer only once its
      // completion is polled.
      for (const [wrId, wr] of e.outstanding) e.limbo.set(wrId, wr);
      e.outstanding.clear();
    }
    this.recorder.record({ t: 'modify', ep, to, ok });
  }

  /** A target the kernel table refuses from the current state (the call must fail with EINVAL). */
  private invalidTarget(e: Endpoint): string {
    const refused: Record<string, string> = { RESET: 'RTS', INIT: 'RTS', RTR: 'SQD', RTS: 'RTR', SQD: 'INIT', SQE: 'SQD', ERR: 'RTS' };
    return refused[e.qp.state]!;
  }

  postSend(ep: TraceEp, op: 'SEND' | 'WRITE' | 'BADREQ', tgt: 'none' | 'r1' | 'r2'): void {
    const e = this.side(ep);
    const buf = [...e.free][0];
    if (buf === undefined || this.recorder.postsOn(ep) >= MAX_POSTS) return;
    const peer = this.peer(e);
    const wrId = e.nextWr++;
    const local = { addr: slotAddr(e, buf), length: op === 'BADREQ' ? 8 : PAYLOAD, lkey: e.mr.lkey };
    const remoteAddr = tgt === 'r2' ? peer.mr.addr + MR_BYTES + SLOT : peer.mr.addr + R1_OFFSET + (op === 'BADREQ' ? 1 : 0);
    const wr = op === 'SEND'
      ? { wrId, opcode: 'SEND' as const, sendFlags: SendFlags.SIGNALED, sgList: [local] }
      : op === 'WRITE'
        ? { wrId, opcode: 'RDMA_WRITE' as const, sendFlags: SendFlags.SIGNALED, sgList: [local], rdma: { remoteAddr, rkey: peer.mr.rkey } }
        : { wrId, opcode: 'ATOMIC_FETCH_AND_ADD' as const, sendFlags: SendFlags.SIGNALED, sgList: [local], atomic: { remoteAddr, rkey: peer.mr.rkey, compareAdd: 1n, swap: 0n } };
    const ok = accepted(() => e.qp.postSend(wr));
    if (ok) {
      e.free.delete(buf);
      e.outstanding.set(wrId, { q: 'S', buf });
    }
    this.recorder.record({ t: 'post_send', ep, wr: String(wrId), op, buf, tgt: op === 'WRITE' ? tgt : 'none', ok });
  }

  postRecv(ep: TraceEp): void {
    const e = this.side(ep);
    const buf = [...e.free][0];
    if (buf === undefined || this.recorder.postsOn(ep) >= MAX_POSTS) return;
    const wrId = e.nextWr++;
    const ok = accepted(() => e.qp.postRecv({ wrId, sgList: [{ addr: slotAddr(e, buf), length: SLOT, lkey: e.mr.lkey }] }));
    if (ok) {
      e.free.delete(buf);
      e.outstanding.set(wrId, { q: 'R', buf });
    }
    this.recorder.record({ t: 'post_recv', ep, wr: String(wrId), buf, ok });
  }

  poll(ep: TraceEp, max: number): number {
    const e = this.side(ep);
    const wcs = e.cq.poll(max).map((wc) => {
      const wr = e.outstanding.get(wc.wrId) ?? e.limbo.get(wc.wrId);
      if (wr === undefined) throw new Error(`trace driver: ${ep} polled a completion for wr ${wc.wrId}, which it has no record of`);
      e.outstanding.delete(wc.wrId);
      e.limbo.delete(wc.wrId);
      e.free.add(wr.buf);
      return { wr: String(wc.wrId), q: wr.q, st: wc.status };
    });
    this.recorder.record({ t: 'poll', ep, max, wcs });
    return wcs.length;
  }

  query(ep: TraceEp): void {
    this.recorder.record({ t: 'state', ep, qp: this.side(ep).qp.query().qpState });
  }

  /**
   * Lets the NICs and the stream run until nothing is due soon. Simulated runs advance the
   * virtual clock tick by tick (every NIC task and link step is on it: no real event loop turn is
   * involved, so a run is a function of its seed); real TCP gets ~20 ms of real time.
   */
  async run(): Promise<void> {
    const clock = this.clock;
    if (clock === null) {
      for (let i = 0; i < 10; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      return;
    }
    for (let i = 0; i < 5000; i++) {
      const due = clock.nextDue();
      if (due === undefined) return;
      // The ACK timeout is 1.07 s at timeout=18; nothing the spec sees waits longer than 5 s.
      if (due - clock.now() > 5000) return;
      clock.advance(Math.max(0, due - clock.now()));
    }
  }

  async execute(op: Op): Promise<void> {
    switch (op.k) {
      case 'send': this.postSend(op.ep, op.op, op.tgt); break;
      case 'recv': this.postRecv(op.ep); break;
      case 'poll': this.poll(op.ep, op.max); break;
      case 'query': this.query(op.ep); break;
      case 'run': await this.run(); break;
      case 'modify': {
        const e = this.side(op.ep);
        const to = op.to === 'invalid' ? this.invalidTarget(e) : op.to;
        // RTS from SQD only (RTR -> RTS belongs to the connection set-up).
        if (to === 'RTS' && op.to !== 'invalid' && e.qp.state !== 'SQD') return;
        if (to === 'INIT' && op.to !== 'invalid' && e.qp.state !== 'RESET') return;
        this.modify(op.ep, to);
        break;
      }
    }
  }

  /** Connection set-up as rc_pingpong does it, the scenario's operations, then a drain. */
  async runScenario(): Promise<Trace> {
    try {
      this.modify('A', 'INIT');
      this.modify('B', 'INIT');
      this.modify('A', 'RTR');
      if (!this.scenario.silentPeer) this.modify('B', 'RTR');
      this.modify('A', 'RTS');
      if (!this.scenario.silentPeer) this.modify('B', 'RTS');
      for (const op of this.scenario.ops) await this.execute(op);
      for (let round = 0; round < 3; round++) {
        await this.run();
        for (const ep of ['A', 'B'] as const) while (this.poll(ep, 8) === 8);
      }
      this.query('A');
      this.query('B');
      this.a.monitor.assertAgreement();
      this.b.monitor.assertAgreement();
      return this.recorder.trace();
    } finally {
      this.a.ctx.close();
      this.b.ctx.close();
      this.cleanup();
    }
  }
}
