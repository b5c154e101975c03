/**
 * A TypeScript transliteration of spec/RcVerbs.tla: Init and every action of Next, with the same
 * names and parameters (the invariants are in invariants.ts). It exists because tla-checker
 * evaluates the spec at about a thousand states a second, too slow to replay hundreds of traces
 * or to size configs.
 *
 * The actions live one file per section of the spec, so a spec edit maps to one file:
 * model-state (constants, variables), model-action-helpers (Helpers), model-application,
 * model-requester, model-responder, model-flush-and-connection (ERR, the connection);
 * model-tla-value converts states to and from the checker's values. This file is Init and Next,
 * and the one module the rest of the code imports the transliteration from.
 *
 * It is tied to the spec mechanically, not by trust:
 *  - the QP tables are read from spec/QpTables.tla itself (qp-tables.ts), not from machines/;
 *  - check:spec has tla-checker export the full state graph of every config it runs and
 *    requires the same states and the same steps from this file (compareGraphs in check-spec.ts).
 * Any edit to the spec's Next that is not mirrored in these files fails that check.
 */
import { modifyTo, modifyToErr, modifyToReset, poll, postRecvWr, postSendWr } from './model-application.js';
import { breakConn, detectLoss, flushRecv, flushSend, reconnect } from './model-flush-and-connection.js';
import { recvAck, recvErrorNak, recvRnrExceeded, recvRnrNak, timeout, transmit } from './model-requester.js';
import { respondAccessError, respondDrop, respondInvalid, respondRecv, respondRnr, respondWrite } from './model-responder.js';
import { both, EPS, IDLE, type Ep, type ModelContext, type SpecConstants, type SpecState, type Transition } from './model-state.js';
import type { QpTables } from './qp-tables.js';

export {
  EPS, peer, SPEC_VARIABLES, STEP_PROPERTIES, stateKey,
  type Ep, type Hist, type Msg, type Nic, type Polled, type SpecConstants, type SpecState, type Transition, type Wc, type Wr,
} from './model-state.js';
export { fromTla, toTla } from './model-tla-value.js';

export class RcVerbsModel implements ModelContext {
  constructor(readonly k: SpecConstants, readonly tables: QpTables) {}

  /** Init. */
  init(): SpecState {
    const k = this.k;
    return {
      qp: both('RESET'),
      sq: both([]),
      rq: both([]),
      cq: both([]),
      nic: both(IDLE),
      owner: both(Object.fromEntries(k.Buffers.map((b) => [b, 'proc' as const]))),
      hist: both({ posted: 0, polled: [], discarded: [], placed: [] }),
      net: both([]),
      conn: 'up',
      audit: [],
    };
  }

  /** Every successor of s, labelled with the disjunct of Next that produces it. */
  next(s: SpecState): Transition[] {
    const out: Transition[] = [];
    const push = (action: string, ep: Ep | null, args: Record<string, string | number>, state: SpecState | null) => {
      if (state !== null) out.push({ action, ep, args, state });
    };
    const k = this.k;
    for (const e of EPS) {
      for (const op of k.SendOps) {
        for (const t of op === 'WRITE' ? k.Regions : ['none']) {
          for (const b of k.Buffers) push('PostSend', e, { op, tgt: t, buf: b }, postSendWr(this, s, e, op, t, b));
        }
      }
      for (const b of k.Buffers) push('PostRecv', e, { buf: b }, postRecvWr(this, s, e, b));
      push('Poll', e, {}, poll(s, e));
      for (const to of this.tables.ModifyTargets[s.qp[e]] ?? []) push('Modify', e, { to }, modifyTo(this, s, e, to));
      push('ModifyToErr', e, { to: 'ERR' }, modifyToErr(this, s, e));
      push('ModifyToReset', e, { to: 'RESET' }, modifyToReset(this, s, e));
      push('Transmit', e, {}, transmit(s, e));
      push('RecvAck', e, {}, recvAck(s, e));
      push('RecvErrorNak', e, {}, recvErrorNak(this, s, e));
      push('RecvRnrNak', e, {}, recvRnrNak(this, s, e));
      push('RecvRnrExceeded', e, {}, recvRnrExceeded(this, s, e));
      push('Timeout', e, {}, timeout(this, s, e));
      push('RespondDrop', e, {}, respondDrop(s, e));
      push('RespondRnr', e, {}, respondRnr(s, e));
      push('RespondRecv', e, {}, respondRecv(this, s, e));
      push('RespondWrite', e, {}, respondWrite(this, s, e));
      push('RespondAccessError', e, {}, respondAccessError(this, s, e));
      push('RespondInvalid', e, {}, respondInvalid(this, s, e));
      push('FlushSend', e, {}, flushSend(s, e));
      push('FlushRecv', e, {}, flushRecv(s, e));
      push('DetectLoss', e, {}, detectLoss(this, s, e));
    }
    push('Break', null, {}, breakConn(this, s));
    push('Reconnect', null, {}, reconnect(s));
    return out;
  }
}
