import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createActor, type Actor } from 'xstate';
import { workRequestMachine, type WorkQueue } from '../../machines/work-request.machine.js';

type WrActor = Actor<typeof workRequestMachine>;

function wr(queue: WorkQueue, signaled: boolean): WrActor {
  return createActor(workRequestMachine, { input: { queue, signaled } }).start();
}

const stateOf = (actor: WrActor) => actor.getSnapshot().value;

describe('work request lifecycle', () => {
  it('a signaled send: posted -> hardware-owned -> in progress -> completed -> polled', () => {
    const a = wr('send', true);
    a.send({ type: 'FETCH', olderUnfetched: 0 });
    expect(stateOf(a)).toBe('hardwareOwned');
    a.send({ type: 'START' });
    a.send({ type: 'COMPLETE', status: 'SUCCESS', olderOutstanding: 0 });
    expect(stateOf(a)).toBe('completed');
    a.send({ type: 'POLL' });
    expect(stateOf(a)).toBe('polled');
    expect(a.getSnapshot().status).toBe('done');
  });

  it('an unsignaled send that succeeds retires without a completion; one that fails still completes', () => {
    const ok = wr('send', false);
    ok.send({ type: 'FETCH', olderUnfetched: 0 });
    ok.send({ type: 'START' });
    ok.send({ type: 'COMPLETE', status: 'SUCCESS', olderOutstanding: 0 });
    expect(stateOf(ok)).toBe('retired');
    const failed = wr('send', false);
    failed.send({ type: 'FETCH', olderUnfetched: 0 });
    failed.send({ type: 'START' });
    failed.send({ type: 'COMPLETE', status: 'REM_ACCESS_ERR', olderOutstanding: 0 });
    expect(stateOf(failed)).toBe('completed');
    expect(failed.getSnapshot().context.status).toBe('REM_ACCESS_ERR');
  });

  it('a receive WR always completes, whatever it was created with', () => {
    const r = wr('recv', false);
    expect(r.getSnapshot().context.signaled).toBe(true);
    r.send({ type: 'FETCH', olderUnfetched: 0 });
    r.send({ type: 'START' });
    r.send({ type: 'COMPLETE', status: 'SUCCESS', olderOutstanding: 0 });
    expect(stateOf(r)).toBe('completed');
  });

  it('flush and discard: a flushed WR completes with WR_FLUSH_ERR; a discarded one never completes', () => {
    const f = wr('send', false);
    f.send({ type: 'FLUSH', olderOutstanding: 0 });
    expect(stateOf(f)).toBe('flushed');
    expect(f.getSnapshot().context.status).toBe('WR_FLUSH_ERR');
    const d = wr('recv', true);
    d.send({ type: 'FETCH', olderUnfetched: 0 });
    d.send({ type: 'DISCARD' });
    expect(stateOf(d)).toBe('discarded');
  });

  it('a completion that overtakes an older WR of its queue is a violation, not silence', () => {
    const a = wr('send', true);
    a.send({ type: 'FETCH', olderUnfetched: 0 });
    a.send({ type: 'START' });
    a.send({ type: 'COMPLETE', status: 'SUCCESS', olderOutstanding: 1 });
    expect(stateOf(a)).toBe('violation');
    expect(a.getSnapshot().context.violation).toMatch(/overtook 1 older WR/);
  });
});

/**
 * Model-based: a work queue of WR machines driven by random command sequences. The model is the
 * queue discipline written plainly (a FIFO of outstanding WRs); the machines must agree with it.
 */
interface QueueModel {
  outstanding: number[];
  completions: number[];
  polled: number[];
  nextId: number;
}
interface QueueReal {
  readonly actors: Map<number, WrActor>;
}
type QueueCommand = fc.Command<QueueModel, QueueReal>;

const MAX_WRS = 12;

class Post implements QueueCommand {
  constructor(readonly signaled: boolean) {}
  check = (m: QueueModel) => m.nextId < MAX_WRS;
  run(m: QueueModel, r: QueueReal) {
    const id = m.nextId++;
    r.actors.set(id, wr('send', this.signaled));
    m.outstanding.push(id);
  }
  toString = () => `Post(${this.signaled ? 'signaled' : 'unsignaled'})`;
}

/** Executes the oldest outstanding WR; the queue rule says only it may complete. */
class CompleteHead implements QueueCommand {
  constructor(readonly fail: boolean) {}
  check = (m: QueueModel) => m.outstanding.length > 0;
  run(m: QueueModel, r: QueueReal) {
    const id = m.outstanding.shift()!;
    const actor = r.actors.get(id)!;
    actor.send({ type: 'FETCH', olderUnfetched: 0 });
    actor.send({ type: 'START' });
    actor.send({ type: 'COMPLETE', status: this.fail ? 'REM_OP_ERR' : 'SUCCESS', olderOutstanding: 0 });
    const expectWc = this.fail || actor.getSnapshot().context.signaled;
    expect(actor.getSnapshot().value).toBe(expectWc ? 'completed' : 'retired');
    if (expectWc) m.completions.push(id);
  }
  toString = () => `CompleteHead(${this.fail ? 'error' : 'ok'})`;
}

/** Tries to complete a WR behind the head: the machine must flag it and the model is unchanged. */
class CompleteBehindHead implements QueueCommand {
  constructor(readonly pick: number) {}
  check = (m: QueueModel) => m.outstanding.length > 1;
  run(m: QueueModel, r: QueueReal) {
    const position = 1 + (this.pick % (m.outstanding.length - 1));
    const probe = createActor(workRequestMachine, { input: { queue: 'send', signaled: true } }).start();
    probe.send({ type: 'FETCH', olderUnfetched: 0 });
    probe.send({ type: 'START' });
    probe.send({ type: 'COMPLETE', status: 'SUCCESS', olderOutstanding: position });
    expect(probe.getSnapshot().value).toBe('violation');
    expect(r.actors.get(m.outstanding[position]!)!.getSnapshot().value).toBe('posted');
  }
  toString = () => `CompleteBehindHead(${this.pick})`;
}

class FlushAll implements QueueCommand {
  check = (m: QueueModel) => m.outstanding.length > 0;
  run(m: QueueModel, r: QueueReal) {
    for (const [i, id] of m.outstanding.entries()) {
      const actor = r.actors.get(id)!;
      // Each WR is flushed once the ones before it are: olderOutstanding counts down to 0.
      actor.send({ type: 'FLUSH', olderOutstanding: 0 });
      expect(actor.getSnapshot().value, `WR ${id} at position ${i}`).toBe('flushed');
      m.completions.push(id);
    }
    m.outstanding = [];
  }
  toString = () => 'FlushAll';
}

class PollOne implements QueueCommand {
  check = (m: QueueModel) => m.completions.length > 0;
  run(m: QueueModel, r: QueueReal) {
    const id = m.completions.shift()!;
    const actor = r.actors.get(id)!;
    actor.send({ type: 'POLL' });
    expect(actor.getSnapshot().value).toBe('polled');
    m.polled.push(id);
    // Completions are polled in posting order among the WRs that produce one.
    expect([...m.polled].sort((a, b) => a - b)).toEqual(m.polled);
  }
  toString = () => 'PollOne';
}

describe('work queue discipline (fast-check commands)', () => {
  it('WRs complete and are polled in posting order, unsignaled successes leave no completion', () => {
    const commands = fc.commands([
      fc.boolean().map((s) => new Post(s)),
      fc.boolean().map((f) => new CompleteHead(f)),
      fc.nat().map((p) => new CompleteBehindHead(p)),
      fc.constant(new FlushAll()),
      fc.constant(new PollOne()),
    ], { size: 'medium' });
    fc.assert(fc.property(commands, (cmds) => {
      fc.modelRun(() => ({ model: { outstanding: [], completions: [], polled: [], nextId: 0 }, real: { actors: new Map() } }), cmds);
    }), { numRuns: 300 });
  });
});
