import { createActor, type Actor } from 'xstate';
import { completionQueueMachine } from '../../machines/completion-queue.machine.js';
import { memoryRegionMachine } from '../../machines/memory-region.machine.js';
import { judgeModify, qpMachine, type QpEvent } from '../../machines/qp.machine.js';
import { workRequestMachine, type ExecutionStatus } from '../../machines/work-request.machine.js';
import type { QpErrorCause, VerbsObserver } from '../abi/observer.js';
import type { AsyncEventType, QpState, QpType, WcStatus } from '../abi/types.js';

export interface Disagreement {
  /** Sequence number of the observed step at which the models and the stack parted. */
  readonly step: number;
  readonly subject: string;
  readonly message: string;
}

type QpActor = Actor<typeof qpMachine>;
type WrActor = Actor<typeof workRequestMachine>;
type CqActor = Actor<typeof completionQueueMachine>;
type MrActor = Actor<typeof memoryRegionMachine>;

interface TrackedWr {
  readonly wrId: bigint;
  readonly actor: WrActor;
  fetched: boolean;
}

interface TrackedQp {
  readonly actor: QpActor;
  readonly queues: { send: TrackedWr[]; recv: TrackedWr[] };
  /** Async events the machine raised that the stack has not reported yet. */
  readonly expectedAsync: AsyncEventType[];
}

/** Disagreements kept before the monitor stops recording (the first is what matters). */
const MAX_DISAGREEMENTS = 100;

const topState = (actor: QpActor): QpState => {
  const value = actor.getSnapshot().value as string | Record<string, unknown>;
  return (typeof value === 'string' ? value : Object.keys(value)[0]) as QpState;
};

function errorEvent(cause: QpErrorCause): QpEvent {
  switch (cause.kind) {
    case 'LOCAL_ERROR': return { type: 'LOCAL_ERROR', kind: cause.fault };
    case 'REMOTE_NAK': return { type: 'REMOTE_NAK', nak: cause.nak };
    case 'CONNECTION_LOST': return { type: 'CONNECTION_LOST' };
    case 'CQ_OVERRUN': return { type: 'CQ_OVERRUN' };
    case 'RETRY_EXCEEDED': return { type: 'RETRY_EXCEEDED', rnr: cause.rnr };
  }
}

/**
 * The runtime check of the stack against machines/ (DESIGN.md §2): every observable step of the
 * implementation is fed to the machines and compared with what they allow. It never changes what
 * the stack does; it records where the two descriptions disagree.
 */
export class Monitor implements VerbsObserver {
  readonly disagreements: Disagreement[] = [];
  private step = 0;
  private readonly qps = new Map<number, TrackedQp>();
  private readonly cqs = new Map<number, CqActor>();
  private readonly expectedCqErr: number[] = [];
  /** Memory regions by key, kept after dereg: a dead key must stay refused. */
  private readonly mrByLkey = new Map<number, MrActor>();
  private readonly mrByRkey = new Map<number, MrActor>();

  private disagree(subject: string, message: string): void {
    if (this.disagreements.length < MAX_DISAGREEMENTS) this.disagreements.push({ step: this.step, subject, message });
  }

  get first(): Disagreement | undefined {
    return this.disagreements[0];
  }

  /** Throws with the first disagreement, if any (for tests). */
  assertAgreement(): void {
    const first = this.first;
    if (first !== undefined) throw new Error(`monitor: step ${first.step}, ${first.subject}: ${first.message} (${this.disagreements.length} disagreement(s))`);
  }

  private qp(qpNum: number): TrackedQp | undefined {
    const tracked = this.qps.get(qpNum);
    if (tracked === undefined) this.disagree(`QP ${qpNum}`, 'event for a QP the monitor never saw created');
    return tracked;
  }

  qpCreated(qpNum: number, qpType: QpType): void {
    this.step++;
    const actor = createActor(qpMachine, { input: { qpType } });
    const tracked: TrackedQp = { actor, queues: { send: [], recv: [] }, expectedAsync: [] };
    actor.on('ASYNC_EVENT', (e) => tracked.expectedAsync.push(e.event));
    actor.start();
    this.qps.set(qpNum, tracked);
  }

  qpDestroyed(qpNum: number): void {
    this.step++;
    this.qps.get(qpNum)?.actor.stop();
    this.qps.delete(qpNum);
  }

  modify(qpNum: number, call: Parameters<NonNullable<VerbsObserver['modify']>>[1]): void {
    this.step++;
    const tracked = this.qp(qpNum);
    if (tracked === undefined) return;
    const machineState = topState(tracked.actor);
    if (machineState !== call.from) this.disagree(`QP ${qpNum}`, `modify from ${call.from}, but the model has the QP in ${machineState}`);
    const event = { type: 'MODIFY' as const, attr: call.attr, mask: call.mask };
    const verdict = judgeModify(machineState, event);
    if (call.accepted || call.refusedBy === 'value') {
      if (!verdict.ok) return this.disagree(`QP ${qpNum}`, `the stack ${call.accepted ? 'accepted' : 'judged the table satisfied for'} ${machineState} -> ${String(call.attr.qpState)} mask 0x${call.mask.toString(16)}; the model refuses: ${verdict.reason}`);
      if (!call.accepted) return;
      if (verdict.to !== call.to) this.disagree(`QP ${qpNum}`, `modify went to ${call.to}; the model goes to ${verdict.to}`);
      tracked.actor.send(event);
      if (call.to === 'RESET') this.resetQueues(tracked);
    } else if (verdict.ok) {
      this.disagree(`QP ${qpNum}`, `the stack refused ${machineState} -> ${String(call.attr.qpState)} (${call.reason ?? ''}); the model accepts it`);
    }
  }

  qpError(qpNum: number, from: QpState, cause: QpErrorCause): void {
    this.step++;
    const tracked = this.qp(qpNum);
    if (tracked === undefined) return;
    const event = errorEvent(cause);
    if (!tracked.actor.getSnapshot().can(event)) {
      return this.disagree(`QP ${qpNum}`, `the stack failed the QP in ${from} with ${event.type}; the model does not allow ${event.type} in ${topState(tracked.actor)}`);
    }
    tracked.actor.send(event);
    if (topState(tracked.actor) !== 'ERR') this.disagree(`QP ${qpNum}`, `${event.type} left the model in ${topState(tracked.actor)}, not ERR`);
  }

  post(qpNum: number, queue: 'send' | 'recv', wrId: bigint, outcome: 'accepted' | 'refused' | 'flushed', signaled: boolean): void {
    this.step++;
    const tracked = this.qp(qpNum);
    if (tracked === undefined) return;
    tracked.actor.send({ type: queue === 'send' ? 'POST_SEND' : 'POST_RECV' });
    const verdict = tracked.actor.getSnapshot().context.lastPost?.verdict;
    if (verdict !== outcome) this.disagree(`QP ${qpNum}`, `post_${queue} in ${topState(tracked.actor)} was ${outcome}; the model says ${String(verdict)}`);
    if (outcome === 'refused') return;
    const actor = createActor(workRequestMachine, { input: { queue, signaled } }).start();
    tracked.queues[queue].push({ wrId, actor, fetched: false });
  }

  started(qpNum: number, queue: 'send' | 'recv', wrId: bigint): void {
    this.step++;
    const tracked = this.qp(qpNum);
    const wrs = tracked?.queues[queue];
    if (wrs === undefined) return;
    const index = wrs.findIndex((w) => w.wrId === wrId && w.actor.getSnapshot().value === 'posted');
    if (index < 0) {
      // A rewound WR (RNR or sequence NAK) starts again: the model keeps it in progress.
      if (!wrs.some((w) => w.wrId === wrId)) this.disagree(`QP ${qpNum}`, `${queue} WR ${wrId} started but is not outstanding`);
      return;
    }
    this.fetch(wrs, index);
  }

  private fetch(wrs: TrackedWr[], index: number): void {
    const wr = wrs[index]!;
    const olderUnfetched = wrs.slice(0, index).filter((w) => !w.fetched).length;
    wr.actor.send({ type: 'FETCH', olderUnfetched });
    wr.actor.send({ type: 'START' });
    wr.fetched = true;
  }

  completion(qpNum: number, queue: 'send' | 'recv', wrId: bigint, status: WcStatus, generatedWc: boolean): void {
    this.step++;
    const tracked = this.qp(qpNum);
    const wrs = tracked?.queues[queue];
    if (wrs === undefined) return;
    const index = wrs.findIndex((w) => w.wrId === wrId);
    if (index < 0) return this.disagree(`QP ${qpNum}`, `completion of ${queue} WR ${wrId}, which is not outstanding`);
    const wr = wrs[index]!;
    const olderOutstanding = index;
    if (status === 'WR_FLUSH_ERR') {
      wr.actor.send({ type: 'FLUSH', olderOutstanding });
    } else {
      // A WR that failed its checks at execution was fetched to be executed.
      if (wr.actor.getSnapshot().value === 'posted') this.fetch(wrs, index);
      wr.actor.send({ type: 'COMPLETE', status: status as ExecutionStatus, olderOutstanding });
    }
    const state = wr.actor.getSnapshot().value;
    if (state === 'violation') this.disagree(`QP ${qpNum}`, `${queue} WR ${wrId}: ${wr.actor.getSnapshot().context.violation ?? 'out of order'}`);
    else if ((state === 'retired') === generatedWc) this.disagree(`QP ${qpNum}`, `${queue} WR ${wrId} ${generatedWc ? 'produced' : 'did not produce'} a WC; the model says it ${state === 'retired' ? 'must not' : 'must'}`);
    wrs.splice(index, 1);
  }

  discarded(qpNum: number, queue: 'send' | 'recv', wrIds: readonly bigint[]): void {
    this.step++;
    const wrs = this.qp(qpNum)?.queues[queue];
    if (wrs === undefined) return;
    for (const wrId of wrIds) {
      const index = wrs.findIndex((w) => w.wrId === wrId);
      if (index < 0) { this.disagree(`QP ${qpNum}`, `discard of ${queue} WR ${wrId}, which is not outstanding`); continue; }
      wrs[index]!.actor.send({ type: 'DISCARD' });
      if (wrs[index]!.actor.getSnapshot().value !== 'discarded') this.disagree(`QP ${qpNum}`, `${queue} WR ${wrId} cannot be discarded in ${String(wrs[index]!.actor.getSnapshot().value)}`);
      wrs.splice(index, 1);
    }
  }

  private resetQueues(tracked: TrackedQp): void {
    for (const queue of [tracked.queues.send, tracked.queues.recv]) {
      if (queue.length > 0) this.disagree('QP', `${queue.length} WR(s) still outstanding after RESET; the stack must discard them`);
      queue.length = 0;
    }
  }

  sqDrained(qpNum: number): void {
    this.step++;
    const tracked = this.qp(qpNum);
    if (tracked === undefined) return;
    if (!tracked.actor.getSnapshot().matches({ SQD: 'draining' })) return this.disagree(`QP ${qpNum}`, `SQ drained reported while the model is in ${JSON.stringify(tracked.actor.getSnapshot().value)}`);
    tracked.actor.send({ type: 'SQ_EMPTY' });
  }

  asyncEvent(type: AsyncEventType, qpNum?: number): void {
    this.step++;
    if (type === 'CQ_ERR') {
      if (this.expectedCqErr.shift() === undefined) this.disagree('CQ', 'CQ_ERR raised without an overrun the model saw');
      return;
    }
    if (qpNum === undefined) return;
    const tracked = this.qp(qpNum);
    if (tracked === undefined) return;
    const expected = tracked.expectedAsync.shift();
    if (expected !== type) this.disagree(`QP ${qpNum}`, `async event ${type}; the model raised ${expected ?? 'none'}`);
  }

  mrRegistered(lkey: number, rkey: number, length: number, access: number): void {
    this.step++;
    const actor = createActor(memoryRegionMachine, { input: { lkey, rkey, length } }).start();
    actor.send({ type: 'REGISTER', access });
    if (actor.getSnapshot().value !== 'registered') this.disagree(`MR 0x${lkey.toString(16)}`, `the stack registered access 0x${access.toString(16)}; the model refuses: ${actor.getSnapshot().context.lastError ?? ''}`);
    this.mrByLkey.set(lkey, actor);
    this.mrByRkey.set(rkey, actor);
  }

  mrDeregistered(lkey: number): void {
    this.step++;
    this.mrByLkey.get(lkey)?.send({ type: 'DEREGISTER' });
  }

  memoryAccess(check: Parameters<NonNullable<VerbsObserver['memoryAccess']>>[0]): void {
    this.step++;
    const actor = (check.side === 'local' ? this.mrByLkey : this.mrByRkey).get(check.key);
    // A key the stack never issued names no region: nothing for the model to judge.
    if (actor === undefined) {
      if (check.granted) this.disagree('MR', `access granted with ${check.side} key 0x${check.key.toString(16)}, which no region ever had`);
      return;
    }
    const offset = check.offset ?? -1;
    actor.send(check.side === 'local'
      ? { type: 'LOCAL_ACCESS', lkey: check.key, offset, length: check.length, write: check.op !== 'read' }
      : { type: 'REMOTE_ACCESS', rkey: check.key, offset, length: check.length, op: check.op });
    const verdict = actor.getSnapshot().context.lastAccess;
    if (verdict?.granted !== check.granted) {
      this.disagree(`MR key 0x${check.key.toString(16)}`, `${check.side} ${check.op} of ${check.length} B at offset ${offset} was ${check.granted ? 'granted' : 'refused'}; the model ${verdict?.granted ? 'grants it' : `refuses it (${verdict?.granted === false ? verdict.reason : '?'})`}`);
    }
  }

  cqCreated(cqId: number, cqe: number): void {
    this.step++;
    const actor = createActor(completionQueueMachine, { input: { cqe } });
    actor.on('ASYNC_EVENT', () => this.expectedCqErr.push(cqId));
    this.cqs.set(cqId, actor.start());
  }

  cqStored(cqId: number, solicited: boolean): void {
    this.step++;
    const actor = this.cqs.get(cqId);
    if (actor === undefined) return this.disagree(`CQ ${cqId}`, 'completion stored in a CQ the monitor never saw');
    actor.send({ type: 'COMPLETION', solicited });
    if (actor.getSnapshot().value !== 'ok') this.disagree(`CQ ${cqId}`, `stored a completion; the model overran (depth ${actor.getSnapshot().context.depth} of ${actor.getSnapshot().context.cqe})`);
  }

  cqOverrun(cqId: number): void {
    this.step++;
    const actor = this.cqs.get(cqId);
    if (actor === undefined) return;
    actor.send({ type: 'COMPLETION', solicited: false });
    if (actor.getSnapshot().value !== 'error') this.disagree(`CQ ${cqId}`, `overran with ${actor.getSnapshot().context.depth} of ${actor.getSnapshot().context.cqe} entries; the model had room`);
  }

  cqPolled(cqId: number, count: number): void {
    this.step++;
    const actor = this.cqs.get(cqId);
    if (actor === undefined) return;
    actor.send({ type: 'POLL', max: count });
    if (actor.getSnapshot().context.lastPolled !== count) this.disagree(`CQ ${cqId}`, `polled ${count}; the model holds only ${actor.getSnapshot().context.lastPolled}`);
  }

  cqDestroyed(cqId: number): void {
    this.step++;
    this.cqs.get(cqId)?.stop();
    this.cqs.delete(cqId);
  }
}

export function createMonitor(): Monitor {
  return new Monitor();
}
