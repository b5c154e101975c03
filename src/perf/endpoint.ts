// The module's binding: the global `performance` is a lazy accessor, a call through a getter per read.
import { performance } from 'node:perf_hooks';
import type net from 'node:net';
import { randomInt } from 'node:crypto';
import { openDevice, Access, QpAttrMask as M } from '../index.js';
import type { CompletionChannel, CompletionQueue, Context, Counters, MemoryRegion, QueuePair, WorkCompletion } from '../index.js';
import type { PerfOptions } from './options.js';
import { verbOf } from './options.js';

/** How long busy polling spins on an empty CQ before it sleeps on the CQ's event. */
const SPIN_MS = 1;

/** What each side tells the other before the first test (perftest's LID:QPN:PSN:RKEY:VADDR). */
export interface PeerAddress {
  readonly qpNum: number;
  readonly psn: number;
  readonly rkey: number;
  readonly addr: number;
}

/** One side's verbs resources: a QP, one MR sized for the largest message, one CQ. */
export class PerfEndpoint {
  readonly ctx: Context;
  readonly mr: MemoryRegion;
  readonly cq: CompletionQueue;
  readonly qp: QueuePair;
  readonly channel: CompletionChannel;
  readonly psn = randomInt(0, 0x1000000);
  /** Why the QP failed, from its async event: what an error completion is reported with. */
  private failure: string | null = null;

  constructor(readonly options: PerfOptions) {
    this.ctx = openDevice(undefined, { observer: null });
    const pd = this.ctx.allocPd();
    const bytes = Math.max(8, ...options.sizes);
    this.mr = pd.regMr(new Uint8Array(bytes), Access.LOCAL_WRITE | Access.REMOTE_WRITE | Access.REMOTE_READ | Access.REMOTE_ATOMIC);
    this.channel = this.ctx.createCompChannel();
    const depth = Math.max(options.txDepth, options.rxDepth);
    this.cq = this.ctx.createCq(options.txDepth + options.rxDepth + 1, { channel: this.channel });
    this.qp = pd.createQp({ qpType: 'RC', sendCq: this.cq, recvCq: this.cq, cap: { maxSendWr: depth, maxRecvWr: options.rxDepth, maxSendSge: 1, maxRecvSge: 1 } });
    this.qp.modify({ qpState: 'INIT', pkeyIndex: 0, portNum: 1, qpAccessFlags: Access.REMOTE_WRITE | Access.REMOTE_READ | Access.REMOTE_ATOMIC }, M.STATE | M.PKEY_INDEX | M.PORT | M.ACCESS_FLAGS);
    void this.watchAsyncEvents();
  }

  private async watchAsyncEvents(): Promise<void> {
    try {
      for (;;) {
        const event = await this.ctx.getAsyncEvent();
        this.failure ??= `${event.type}${event.reason === undefined ? '' : `: ${event.reason}`}`;
      }
    } catch {
      // The context was closed.
    }
  }

  get address(): PeerAddress {
    return { qpNum: this.qp.qpNum, psn: this.psn, rkey: this.mr.rkey, addr: this.mr.addr };
  }

  connect(socket: net.Socket, remote: PeerAddress): void {
    const readCredits = verbOf(this.options.test) === 'read' || verbOf(this.options.test) === 'atomic' ? 16 : 1;
    this.qp.modify({ qpState: 'RTR', ahAttr: { socket }, pathMtu: 4096, destQpNum: remote.qpNum, rqPsn: remote.psn, maxDestRdAtomic: 16, minRnrTimer: 12 },
      M.STATE | M.AV | M.PATH_MTU | M.DEST_QPN | M.RQ_PSN | M.MAX_DEST_RD_ATOMIC | M.MIN_RNR_TIMER);
    this.qp.modify({ qpState: 'RTS', sqPsn: this.psn, timeout: 14, retryCnt: 7, rnrRetry: 7, maxRdAtomic: readCredits },
      M.STATE | M.SQ_PSN | M.TIMEOUT | M.RETRY_CNT | M.RNR_RETRY | M.MAX_QP_RD_ATOMIC);
  }

  /** A local SGE over the first `length` bytes of the MR. */
  sge(length: number) {
    return { addr: this.mr.addr, length, lkey: this.mr.lkey };
  }

  /** Receives over the MR's first `size` bytes; one WR object serves every post of a size, as perftest reuses its ibv_recv_wr. */
  postRecvs(count: number, size: number): void {
    if (count <= 0) return;
    if (this.recvWr?.sgList[0]!.length !== size) {
      this.recvWr = { wrId: 0n, sgList: [this.sge(size)] };
      this.recvLists.length = 0;
    }
    const wr = this.recvWr;
    if (count === 1) return this.qp.postRecv(wr);
    // Lists of the same WR by length, kept: a refill posts one without building it.
    let list = this.recvLists[count];
    if (list === undefined) this.recvLists[count] = list = Array.from({ length: count }, () => wr);
    this.qp.postRecv(list);
  }

  private recvWr: { wrId: bigint; sgList: { addr: number; length: number; lkey: number }[] } | null = null;
  private readonly recvLists: { wrId: bigint; sgList: { addr: number; length: number; lkey: number }[] }[][] = [];

  /** Completions, waiting for at least one: those ready now, else the first batch `eachCompletions` finds. */
  async completions(max: number): Promise<WorkCompletion[]> {
    const ready = this.cq.poll(max);
    if (ready.length > 0) return this.failOnError(ready);
    let first: WorkCompletion[] = [];
    await this.eachCompletions(max, (wcs) => {
      first = wcs;
      return false;
    });
    return first;
  }

  /**
   * Waits for completions: `onBatch` gets every non-empty poll, in the turn of the event loop
   * that found it, until it returns false. Busy polling (perftest's default) yields to the event
   * loop between empty polls so the stack's own I/O runs, for up to SPIN_MS; then, as Linux's
   * busy_poll does, it sleeps on the CQ's event: two spinning processes on two cores would
   * otherwise be preempted by everything else and stall for a scheduler slice. With -e the
   * process sleeps at once. One promise per wait, not per turn or per batch: an empty turn costs
   * one Immediate (a fresh promise per turn allocated ~300 bytes, and the GC pauses those made
   * stalled the peer), and the bandwidth loops refill the window in the turn whose completions
   * freed it (an async resumption per batch sat between them, ~3 % of the client per cycle).
   */
  eachCompletions(max: number, onBatch: (wcs: WorkCompletion[]) => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      let spinUntil = performance.now() + SPIN_MS;
      const deliver = (wcs: WorkCompletion[]): void => {
        if (!onBatch(this.failOnError(wcs))) return resolve();
        spinUntil = performance.now() + SPIN_MS;
        setImmediate(turn);
      };
      const sleep = (): void => {
        this.cq.reqNotify(false);
        const again = this.cq.poll(max);
        if (again.length > 0) return deliver(again);
        this.channel.getEvent().then(() => {
          this.cq.ackEvents(1);
          turn();
        }, reject);
      };
      const turn = (): void => {
        try {
          const wcs = this.cq.poll(max);
          if (wcs.length > 0) deliver(wcs);
          else if (!this.options.useEvents && performance.now() < spinUntil) setImmediate(turn);
          else sleep();
        } catch (error) {
          reject(error);
        }
      };
      turn();
    });
  }

  private failOnError(wcs: WorkCompletion[]): WorkCompletion[] {
    let bad: WorkCompletion | undefined;
    for (let i = 0; i < wcs.length && bad === undefined; i++) if (wcs[i]!.status !== 'SUCCESS') bad = wcs[i];
    if (bad !== undefined) throw new Error(`Completion with error: ${bad.status} for wr_id ${bad.wrId} (${bad.opcode})${this.failure === null ? '' : `; the QP failed: ${this.failure}`}`);
    return wcs;
  }

  counters(): Counters {
    return this.ctx.queryCounters();
  }

  close(): void {
    this.ctx.close();
  }
}


/** Counter deltas over one measured run, per message: what the data path cost. */
export function countersPerMessage(before: Counters, after: Counters, messages: number) {
  const per = (key: keyof Counters) => (after[key] - before[key]) / messages;
  return {
    readsPerMessage: per('readCallbacks'),
    writesPerMessage: per('writeSyscalls'),
    framesSentPerMessage: per('framesSent'),
    framesReceivedPerMessage: per('framesReceived'),
    rxCopiedBytesPerMessage: per('rxPayloadBytesCopied'),
    txCopiedBytesPerMessage: per('txPayloadBytesCopied'),
  };
}
