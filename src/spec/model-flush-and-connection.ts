/**
 * The spec's ERR section (both queues flushed, oldest first, with WR_FLUSH_ERR) and its
 * connection section (the stream breaks, each QP notices, the control path reconnects). One
 * file because together they are how a failure is driven to quiescence and back.
 */
import { toErr } from './model-action-helpers.js';
import { both, CONNECTED, EPS, peer, set, type Ep, type ModelContext, type SpecState } from './model-state.js';

/** FlushSend(e). */
export function flushSend(s: SpecState, e: Ep): SpecState | null {
  if (s.qp[e] !== 'ERR' || s.sq[e].length === 0) return null;
  const w = s.sq[e][0]!;
  return { ...s, cq: set(s.cq, e, [...s.cq[e], { id: w.id, q: 'S', st: 'WR_FLUSH_ERR', buf: w.buf }]), sq: set(s.sq, e, s.sq[e].slice(1)), audit: s.audit };
}

/** FlushRecv(e). */
export function flushRecv(s: SpecState, e: Ep): SpecState | null {
  if (s.qp[e] !== 'ERR' || s.rq[e].length === 0) return null;
  const w = s.rq[e][0]!;
  return { ...s, cq: set(s.cq, e, [...s.cq[e], { id: w.id, q: 'R', st: 'WR_FLUSH_ERR', buf: w.buf }]), rq: set(s.rq, e, s.rq[e].slice(1)), audit: s.audit };
}

/** Break (named breakConn: break is a keyword). */
export function breakConn(ctx: ModelContext, s: SpecState): SpecState | null {
  if (!ctx.k.AllowBreak || s.conn !== 'up') return null;
  return { ...s, conn: 'down', net: both([]), audit: s.audit };
}

/** DetectLoss(e). */
export function detectLoss(ctx: ModelContext, s: SpecState, e: Ep): SpecState | null {
  if (s.conn !== 'down' || s.net[peer(e)].length !== 0 || !CONNECTED.has(s.qp[e])) return null;
  return { ...s, ...toErr(ctx, s, e, 'CONNECTION_LOST') };
}

/** Reconnect. */
export function reconnect(s: SpecState): SpecState | null {
  if (s.conn !== 'down') return null;
  if (!EPS.every((e) => s.qp[e] === 'RESET' || s.qp[e] === 'INIT')) return null;
  return {
    ...s,
    conn: 'up',
    net: both([]),
    nic: { A: { ...s.nic.A, rnrWait: 0 }, B: { ...s.nic.B, rnrWait: 0 } },
    audit: s.audit,
  };
}
