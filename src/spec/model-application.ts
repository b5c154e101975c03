/**
 * The spec's Application section: post, poll and modify. Each returns null where the spec's
 * action is disabled; a refused post or modify is a stuttering step there, so it is null here.
 */
import { auditQp, connAfterClose, netAfterClose, toErr } from './model-action-helpers.js';
import { addNum, IDLE, polledKey, set, type Ep, type ModelContext, type SpecState } from './model-state.js';

/** PostSendWr(e, op, t, b). */
export function postSendWr(ctx: ModelContext, s: SpecState, e: Ep, op: string, t: string, b: string): SpecState | null {
  if (!(s.hist[e].posted < ctx.k.MaxPosts)) return null;
  if (ctx.tables.PostSendVerdict[s.qp[e]] === 'refused') return null;
  if (s.owner[e][b] !== 'proc') return null;
  const id = s.hist[e].posted + 1;
  return {
    ...s,
    sq: set(s.sq, e, [...s.sq[e], { id, op, buf: b, tgt: t }]),
    owner: set(s.owner, e, { ...s.owner[e], [b]: 'hw' }),
    hist: set(s.hist, e, { ...s.hist[e], posted: id }),
    audit: s.audit,
  };
}

/** PostRecvWr(e, b). */
export function postRecvWr(ctx: ModelContext, s: SpecState, e: Ep, b: string): SpecState | null {
  if (!(s.hist[e].posted < ctx.k.MaxPosts)) return null;
  if (ctx.tables.PostRecvVerdict[s.qp[e]] === 'refused') return null;
  if (s.owner[e][b] !== 'proc') return null;
  const id = s.hist[e].posted + 1;
  return {
    ...s,
    rq: set(s.rq, e, [...s.rq[e], { id, op: 'RECV', buf: b, tgt: 'none' }]),
    owner: set(s.owner, e, { ...s.owner[e], [b]: 'hw' }),
    hist: set(s.hist, e, { ...s.hist[e], posted: id }),
    audit: s.audit,
  };
}

/** Poll(e). */
export function poll(s: SpecState, e: Ep): SpecState | null {
  const wc = s.cq[e][0];
  if (wc === undefined) return null;
  const polled = [...s.hist[e].polled.filter((p) => !(p.id === wc.id && p.q === wc.q)), { id: wc.id, q: wc.q }].sort((a, b) => polledKey(a) - polledKey(b));
  return {
    ...s,
    cq: set(s.cq, e, s.cq[e].slice(1)),
    hist: set(s.hist, e, { ...s.hist[e], polled }),
    owner: set(s.owner, e, { ...s.owner[e], [wc.buf]: 'proc' }),
    audit: s.audit,
  };
}

/** ModifyTo(e, to). */
export function modifyTo(ctx: ModelContext, s: SpecState, e: Ep, to: string): SpecState | null {
  if (to === 'RESET' || to === 'ERR' || to === s.qp[e]) return null;
  if (!ctx.tables.modifyAllowed(s.qp[e], to)) return null;
  return { ...s, qp: set(s.qp, e, to), audit: auditQp(ctx, s, e, 'MODIFY', to) };
}

/** ModifyToErr(e). */
export function modifyToErr(ctx: ModelContext, s: SpecState, e: Ep): SpecState | null {
  if (s.qp[e] === 'ERR' || !ctx.tables.modifyAllowed(s.qp[e], 'ERR')) return null;
  return { ...s, ...toErr(ctx, s, e, 'MODIFY') };
}

/** ModifyToReset(e). */
export function modifyToReset(ctx: ModelContext, s: SpecState, e: Ep): SpecState | null {
  if (s.qp[e] === 'RESET' || !ctx.tables.modifyAllowed(s.qp[e], 'RESET')) return null;
  const dropped = [...s.sq[e], ...s.rq[e]];
  const freed = new Set(dropped.map((w) => w.buf));
  const owner = Object.fromEntries(ctx.k.Buffers.map((b) => [b, freed.has(b) ? ('proc' as const) : s.owner[e][b]!]));
  return {
    ...s,
    qp: set(s.qp, e, 'RESET'),
    hist: set(s.hist, e, { ...s.hist[e], discarded: addNum(s.hist[e].discarded, dropped.map((w) => w.id)) }),
    owner: set(s.owner, e, owner),
    sq: set(s.sq, e, []),
    rq: set(s.rq, e, []),
    nic: set(s.nic, e, IDLE),
    net: netAfterClose(s, e, s.net),
    conn: connAfterClose(s, e),
    audit: auditQp(ctx, s, e, 'MODIFY', 'RESET'),
  };
}
