import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createActor, type Actor } from 'xstate';
import { completionQueueMachine } from '../../machines/completion-queue.machine.js';

type CqActor = Actor<typeof completionQueueMachine>;

interface CqModel {
  cqe: number;
  depth: number;
  arming: 'disarmed' | 'any' | 'solicited';
  attached: number;
  overrun: boolean;
  destroyed: boolean;
  channelEvents: number;
  cqErrors: number;
}
interface CqReal {
  actor: CqActor;
  channelEvents: number;
  cqErrors: number;
}
type CqCommand = fc.Command<CqModel, CqReal>;

const live = (m: CqModel) => !m.destroyed;

function agree(m: CqModel, r: CqReal) {
  const snapshot = r.actor.getSnapshot();
  expect(snapshot.value).toBe(m.destroyed ? 'destroyed' : m.overrun ? 'error' : 'ok');
  if (!m.destroyed) {
    expect(snapshot.context.depth).toBe(m.depth);
    expect(snapshot.context.arming).toBe(m.arming);
  }
  expect(r.channelEvents).toBe(m.channelEvents);
  expect(r.cqErrors).toBe(m.cqErrors);
}

class Completion implements CqCommand {
  constructor(readonly solicited: boolean) {}
  check = live;
  run(m: CqModel, r: CqReal) {
    r.actor.send({ type: 'COMPLETION', solicited: this.solicited });
    if (!m.overrun) {
      if (m.depth === m.cqe) {
        m.overrun = true;
        m.cqErrors++;
      } else {
        m.depth++;
        if (m.arming === 'any' || (m.arming === 'solicited' && this.solicited)) {
          m.channelEvents++;
          m.arming = 'disarmed';
        }
      }
    }
    agree(m, r);
  }
  toString = () => `Completion(${this.solicited ? 'solicited' : 'plain'})`;
}

class Poll implements CqCommand {
  constructor(readonly max: number) {}
  check = live;
  run(m: CqModel, r: CqReal) {
    r.actor.send({ type: 'POLL', max: this.max });
    const polled = Math.min(this.max, m.depth);
    m.depth -= polled;
    expect(r.actor.getSnapshot().context.lastPolled).toBe(polled);
    agree(m, r);
  }
  toString = () => `Poll(${this.max})`;
}

class Arm implements CqCommand {
  constructor(readonly solicitedOnly: boolean) {}
  check = (m: CqModel) => live(m) && !m.overrun;
  run(m: CqModel, r: CqReal) {
    r.actor.send({ type: 'REQ_NOTIFY', solicitedOnly: this.solicitedOnly });
    m.arming = this.solicitedOnly ? 'solicited' : 'any';
    agree(m, r);
  }
  toString = () => `Arm(${this.solicitedOnly ? 'solicited' : 'any'})`;
}

class Attach implements CqCommand {
  constructor(readonly detach: boolean) {}
  check = (m: CqModel) => live(m) && (!this.detach || m.attached > 0);
  run(m: CqModel, r: CqReal) {
    r.actor.send({ type: this.detach ? 'DETACH_QP' : 'ATTACH_QP' });
    m.attached += this.detach ? -1 : 1;
    expect(r.actor.getSnapshot().context.attachedQps).toBe(m.attached);
  }
  toString = () => (this.detach ? 'DetachQp' : 'AttachQp');
}

class Destroy implements CqCommand {
  check = live;
  run(m: CqModel, r: CqReal) {
    r.actor.send({ type: 'DESTROY' });
    if (m.attached === 0) m.destroyed = true;
    else expect(r.actor.getSnapshot().context.lastError).toMatch(/^EBUSY: \d+ QP\(s\) still use this CQ/);
    agree(m, r);
  }
  toString = () => 'Destroy';
}

describe('completion queue', () => {
  it('overrun raises CQ_ERR once and keeps the stored completions pollable', () => {
    const actor = createActor(completionQueueMachine, { input: { cqe: 1 } });
    const raised: string[] = [];
    actor.on('ASYNC_EVENT', (e) => raised.push(e.event));
    actor.start();
    actor.send({ type: 'COMPLETION', solicited: false });
    actor.send({ type: 'COMPLETION', solicited: false });
    expect(actor.getSnapshot().value).toBe('error');
    expect(raised).toEqual(['CQ_ERR']);
    actor.send({ type: 'POLL', max: 4 });
    expect(actor.getSnapshot().context.lastPolled).toBe(1);
  });

  it('model-based: any command sequence agrees with the plain model (fast-check, size medium)', () => {
    const commands = fc.commands([
      fc.boolean().map((s) => new Completion(s)),
      fc.integer({ min: 0, max: 5 }).map((n) => new Poll(n)),
      fc.boolean().map((s) => new Arm(s)),
      fc.boolean().map((d) => new Attach(d)),
      fc.constant(new Destroy()),
    ], { size: 'medium' });
    fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), commands, (cqe, cmds) => {
      fc.modelRun(() => {
        const real: CqReal = { actor: createActor(completionQueueMachine, { input: { cqe } }), channelEvents: 0, cqErrors: 0 };
        real.actor.on('COMPLETION_EVENT', () => { real.channelEvents++; });
        real.actor.on('ASYNC_EVENT', () => { real.cqErrors++; });
        real.actor.start();
        const model: CqModel = { cqe, depth: 0, arming: 'disarmed', attached: 0, overrun: false, destroyed: false, channelEvents: 0, cqErrors: 0 };
        return { model, real };
      }, cmds);
    }), { numRuns: 300 });
  });
});
