import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createActor } from 'xstate';
import { QpAttrMask, maskOf } from '../../machines/qp-attr-mask.js';
import { QP_MODIFY_TABLE, QP_STATES, checkModify, type QpState } from '../../machines/qp-modify-table.js';
import { QP_POST_ADMISSION } from '../../machines/qp-post-admission.js';
import { QP_ERROR_EVENTS_BY_STATE, qpMachine, type QpEvent, type QpAsyncEventType } from '../../machines/qp.machine.js';
import { extractRelation } from '../../machines/relation.js';
import { KERNEL_RC_TABLE, kernelModifyQpIsOk } from '../../src/conformance/kernel-qp-table.js';
import { compareGuardWithKernel, compareMachineWithKernel, describeMismatch, machineModify, qpSnapshotIn } from '../../src/conformance/qp-guard-check.js';
import { diagramModel } from '../../src/diagrams/model.js';

const qpState = fc.constantFrom(...QP_STATES);

/** A QP actor started in `state`, with the async events it raises collected. */
function qpIn(state: QpState) {
  const actor = createActor(qpMachine, { input: { qpType: 'RC' }, snapshot: qpSnapshotIn(state) });
  const raised: QpAsyncEventType[] = [];
  actor.on('ASYNC_EVENT', (e) => raised.push(e.event));
  actor.start();
  const top = () => {
    const value = actor.getSnapshot().value as string | Record<string, unknown>;
    return typeof value === 'string' ? value : Object.keys(value)[0];
  };
  return { actor, raised, top };
}

const kernelPairsBetweenDistinctStates = QP_STATES.flatMap((from) =>
  QP_STATES.filter((to) => to !== from && KERNEL_RC_TABLE[from][to] !== undefined).map((to) => `${from}->${to}`)).sort();

describe('QP modify guard against the kernel table', () => {
  it('agrees with ib_modify_qp_is_ok on every mask class of every (state, next) pair', () => {
    const result = compareGuardWithKernel();
    expect(result.mismatches.map(describeMismatch)).toEqual([]);
    expect(result.checked).toBeGreaterThan(400_000);
  });

  it('catches a guard that admits one pair too many or forgets one required bit', () => {
    const admitsResetToErr = compareGuardWithKernel(undefined, (c, n, m) =>
      checkModify(c, n, m).ok || (c === 'RESET' && n === 'ERR' && m === QpAttrMask.STATE));
    expect(admitsResetToErr.mismatches.map(describeMismatch)).toEqual(['RESET -> ERR mask STATE: model accepts, kernel rejects']);
    const forgetsMinRnr = compareGuardWithKernel(undefined, (c, n, m) =>
      checkModify(c, n, c === 'INIT' && n === 'RTR' ? m | QpAttrMask.MIN_RNR_TIMER : m).ok);
    expect(forgetsMinRnr.mismatches.length).toBeGreaterThan(0);
  });

  it('the machine itself moves exactly as the kernel allows on the decisive masks', () => {
    const result = compareMachineWithKernel();
    expect(result.mismatches.map(describeMismatch)).toEqual([]);
  });

  it('property: for any state, target and 32-bit mask the machine follows the kernel', () => {
    const anyMask = fc.integer({ min: 0, max: 0xffffffff });
    // Masks near a rule's required/optional sets, so that accepting cases are common too.
    const nearRule = fc.record({
      rule: fc.constantFrom(...QP_MODIFY_TABLE),
      drop: fc.integer({ min: 0, max: 0xffffffff }),
      add: fc.integer({ min: 0, max: 0xffffffff }),
      noise: fc.boolean(),
    }).map(({ rule, drop, add, noise }) => {
      const base = rule.required | (rule.optional & add) | (rule.from === rule.to ? 0 : QpAttrMask.STATE);
      return { current: rule.from, next: rule.to, mask: (noise ? base & ~(drop & (drop >>> 3)) : base) >>> 0 };
    });
    const arbitraryCall = fc.oneof(fc.record({ current: qpState, next: qpState, mask: anyMask }), nearRule);
    let accepted = 0;
    fc.assert(fc.property(arbitraryCall, ({ current, next, mask }) => {
      const asked = (mask & QpAttrMask.STATE) !== 0 ? next : current;
      const kernel = kernelModifyQpIsOk(current, asked, mask);
      const outcome = machineModify(current, next, mask);
      if (kernel) accepted++;
      expect(outcome.accepted).toBe(kernel);
      expect(outcome.state).toBe(kernel ? asked : current);
    }), { numRuns: 4000 });
    // The property must have exercised accepting modifies, not only rejections.
    expect(accepted).toBeGreaterThan(500);
  });

  it('rejects a CUR_STATE claim that is not the QP\'s state, and CUR_STATE from INIT', () => {
    const { actor, top } = qpIn('RTR');
    const toRts = maskOf('STATE', 'CUR_STATE', 'TIMEOUT', 'RETRY_CNT', 'RNR_RETRY', 'SQ_PSN', 'MAX_QP_RD_ATOMIC');
    actor.send({ type: 'MODIFY', attr: { qpState: 'RTS', curQpState: 'SQD' }, mask: toRts });
    expect(top()).toBe('RTR');
    expect(actor.getSnapshot().context.lastModify).toMatchObject({ ok: false, errno: 'EINVAL', reason: expect.stringContaining('curQpState (SQD)') });
    actor.send({ type: 'MODIFY', attr: { qpState: 'RTS', curQpState: 'RTR' }, mask: toRts });
    expect(top()).toBe('RTS');
    const init = qpIn('INIT');
    init.actor.send({ type: 'MODIFY', attr: { qpState: 'INIT', curQpState: 'INIT' }, mask: maskOf('STATE', 'CUR_STATE') });
    expect(init.actor.getSnapshot().context.lastModify).toMatchObject({ ok: false, reason: expect.stringContaining('only from RTR, RTS, SQD, SQE') });
  });

  it('says what was wrong and what is allowed when it rejects', () => {
    expect(checkModify('INIT', 'RTR', maskOf('STATE', 'AV'))).toMatchObject({
      ok: false, reason: expect.stringMatching(/requires .*PATH_MTU.*missing .*DEST_QPN/),
    });
    expect(checkModify('RESET', 'INIT', maskOf('STATE', 'PKEY_INDEX', 'PORT', 'ACCESS_FLAGS', 'QKEY'))).toMatchObject({
      ok: false, reason: expect.stringMatching(/does not accept QKEY; allowed: STATE\|ACCESS_FLAGS\|PKEY_INDEX\|PORT/),
    });
    expect(checkModify('RESET', 'ERR', QpAttrMask.STATE)).toMatchObject({
      ok: false, reason: 'RESET -> ERR is not a valid transition; from RESET a QP may go to RESET, INIT',
    });
    const { actor } = qpIn('RTS');
    actor.send({ type: 'MODIFY', attr: { qpState: 'BOGUS' as QpState }, mask: QpAttrMask.STATE });
    expect(actor.getSnapshot().context.lastModify).toMatchObject({ ok: false, reason: expect.stringContaining('must be one of RESET, INIT') });
  });
});

describe('QP diagram', () => {
  it('has one edge per valid kernel pair between distinct states, and no other edge between states', () => {
    const model = diagramModel(extractRelation(qpMachine));
    const topOf = (path: string) => path.split('.')[0] ?? path;
    const between = model.edges.filter((e) => topOf(e.from) !== topOf(e.to)).map((e) => `${e.from}->${e.to}`);
    expect([...between].sort()).toEqual(kernelPairsBetweenDistinctStates);
    expect(new Set(between).size).toBe(between.length);
    // The only other edge is SQD's own drain.
    expect(model.edges.filter((e) => topOf(e.from) === topOf(e.to)).map((e) => `${e.from}->${e.to}`)).toEqual(['SQD.draining->SQD.drained']);
  });
});

describe('posting in every state', () => {
  it.each(QP_STATES)('%s admits posts as the table says', (state) => {
    const { actor } = qpIn(state);
    actor.send({ type: 'POST_SEND' });
    expect(actor.getSnapshot().context.lastPost).toEqual({ queue: 'send', verdict: QP_POST_ADMISSION[state].postSend });
    actor.send({ type: 'POST_RECV' });
    expect(actor.getSnapshot().context.lastPost).toEqual({ queue: 'recv', verdict: QP_POST_ADMISSION[state].postRecv });
  });

  it('follows DESIGN.md §3: send refused before RTS, receive refused only in RESET, ERR flushes both, SQD queues sends', () => {
    expect(QP_POST_ADMISSION.RESET).toEqual({ postSend: 'refused', postRecv: 'refused' });
    expect(QP_POST_ADMISSION.INIT).toEqual({ postSend: 'refused', postRecv: 'accepted' });
    expect(QP_POST_ADMISSION.RTR).toEqual({ postSend: 'refused', postRecv: 'accepted' });
    expect(QP_POST_ADMISSION.RTS).toEqual({ postSend: 'accepted', postRecv: 'accepted' });
    expect(QP_POST_ADMISSION.SQD.postSend).toBe('accepted');
    expect(QP_POST_ADMISSION.ERR).toEqual({ postSend: 'flushed', postRecv: 'flushed' });
  });
});

describe('errors and draining', () => {
  const errorEvents: Record<string, { event: QpEvent; raises: QpAsyncEventType }[]> = {
    LOCAL_ERROR: [
      { event: { type: 'LOCAL_ERROR', kind: 'access' }, raises: 'QP_ACCESS_ERR' },
      { event: { type: 'LOCAL_ERROR', kind: 'invalid-request' }, raises: 'QP_REQ_ERR' },
      { event: { type: 'LOCAL_ERROR', kind: 'fatal' }, raises: 'QP_FATAL' },
    ],
    REMOTE_NAK: [
      { event: { type: 'REMOTE_NAK', nak: 'REM_ACCESS_ERR' }, raises: 'QP_ACCESS_ERR' },
      { event: { type: 'REMOTE_NAK', nak: 'REM_INV_REQ_ERR' }, raises: 'QP_REQ_ERR' },
      { event: { type: 'REMOTE_NAK', nak: 'REM_OP_ERR' }, raises: 'QP_FATAL' },
    ],
    CONNECTION_LOST: [{ event: { type: 'CONNECTION_LOST' }, raises: 'QP_FATAL' }],
    CQ_OVERRUN: [{ event: { type: 'CQ_OVERRUN' }, raises: 'QP_FATAL' }],
    RETRY_EXCEEDED: [
      { event: { type: 'RETRY_EXCEEDED', rnr: false }, raises: 'QP_FATAL' },
      { event: { type: 'RETRY_EXCEEDED', rnr: true }, raises: 'QP_FATAL' },
    ],
  };

  it.each(QP_STATES)('in %s each error either moves to ERR raising its async event or is not an event of that state', (state) => {
    for (const [type, cases] of Object.entries(errorEvents)) {
      for (const { event, raises } of cases) {
        const qp = qpIn(state);
        const handled = qp.actor.getSnapshot().can(event);
        expect(handled).toBe(QP_ERROR_EVENTS_BY_STATE[state].includes(type as never));
        qp.actor.send(event);
        expect(qp.top()).toBe(handled ? 'ERR' : state);
        expect(qp.raised).toEqual(handled ? [raises] : []);
      }
    }
  });

  it('raises SQ_DRAINED once the send queue is empty, only when EN_SQD_ASYNC_NOTIFY asked for it', () => {
    for (const notify of [true, false]) {
      const qp = qpIn('RTS');
      const mask = notify ? maskOf('STATE', 'EN_SQD_ASYNC_NOTIFY') : QpAttrMask.STATE;
      qp.actor.send({ type: 'MODIFY', attr: { qpState: 'SQD', enSqdAsyncNotify: true }, mask });
      expect(qp.actor.getSnapshot().value).toEqual({ SQD: 'draining' });
      qp.actor.send({ type: 'POST_SEND' });
      expect(qp.actor.getSnapshot().context.lastPost?.verdict).toBe('accepted');
      qp.actor.send({ type: 'SQ_EMPTY' });
      expect(qp.actor.getSnapshot().value).toEqual({ SQD: 'drained' });
      expect(qp.raised).toEqual(notify ? ['SQ_DRAINED'] : []);
      qp.actor.send({ type: 'MODIFY', attr: { qpState: 'RTS' }, mask: QpAttrMask.STATE });
      expect(qp.top()).toBe('RTS');
    }
  });

  it('an ERR QP is reusable only through RESET', () => {
    const qp = qpIn('ERR');
    qp.actor.send({ type: 'MODIFY', attr: { qpState: 'INIT' }, mask: maskOf('STATE', 'PKEY_INDEX', 'PORT', 'ACCESS_FLAGS') });
    expect(qp.top()).toBe('ERR');
    qp.actor.send({ type: 'MODIFY', attr: { qpState: 'RESET' }, mask: QpAttrMask.STATE });
    qp.actor.send({ type: 'MODIFY', attr: { qpState: 'INIT' }, mask: maskOf('STATE', 'PKEY_INDEX', 'PORT', 'ACCESS_FLAGS') });
    expect(qp.top()).toBe('INIT');
    expect(qp.actor.getSnapshot().context.errorCause).toBeNull();
  });
});
