/**
 * The spec's Requester section: transmit; complete on ACK or error NAK; go back on RNR NAK;
 * time out when the peer has left the connected states.
 */
import { failHead, inHead } from './model-action-helpers.js';
import { CONNECTED, peer, set, type Ep, type ModelContext, type Msg, type SpecState } from './model-state.js';

/** Transmit(e). */
export function transmit(s: SpecState, e: Ep): SpecState | null {
  if (s.conn !== 'up') return null;
  const n = s.nic[e];
  const ok = (s.qp[e] === 'RTS' && n.inflight < s.sq[e].length) || (s.qp[e] === 'SQD' && n.inflight < n.started);
  if (!ok) return null;
  const w = s.sq[e][n.inflight]!;
  const inflight = n.inflight + 1;
  return {
    ...s,
    net: set(s.net, e, [...s.net[e], { k: 'REQ', id: w.id, op: w.op, tgt: w.tgt, why: 'none' }]),
    nic: set(s.nic, e, { ...n, inflight, started: inflight > n.started ? inflight : n.started }),
    audit: s.audit,
  };
}

/** ResponseReady(e): the response at the head of the stream, if it answers the oldest send WR. */
function responseReady(s: SpecState, e: Ep): Msg | null {
  const m = inHead(s, e);
  if (m === undefined || m.k === 'REQ') return null;
  if (s.qp[e] !== 'RTS' && s.qp[e] !== 'SQD') return null;
  if (!(s.nic[e].inflight > 0)) return null;
  return m.id === s.sq[e][0]!.id ? m : null;
}

/** RecvAck(e). */
export function recvAck(s: SpecState, e: Ep): SpecState | null {
  const m = responseReady(s, e);
  if (m === null || m.k !== 'ACK') return null;
  const head = s.sq[e][0]!;
  const n = s.nic[e];
  return {
    ...s,
    net: set(s.net, peer(e), s.net[peer(e)].slice(1)),
    cq: set(s.cq, e, [...s.cq[e], { id: head.id, q: 'S', st: 'SUCCESS', buf: head.buf }]),
    sq: set(s.sq, e, s.sq[e].slice(1)),
    nic: set(s.nic, e, { ...n, inflight: n.inflight - 1, started: n.started - 1, rnrCount: 0 }),
    audit: s.audit,
  };
}

/** RecvErrorNak(e). */
export function recvErrorNak(ctx: ModelContext, s: SpecState, e: Ep): SpecState | null {
  const m = responseReady(s, e);
  if (m === null || m.k !== 'NAK' || (m.why !== 'ACCESS' && m.why !== 'INVREQ')) return null;
  return failHead(ctx, s, e, m.why === 'ACCESS' ? 'REM_ACCESS_ERR' : 'REM_INV_REQ_ERR', 'REMOTE_NAK');
}

/** RecvRnrNak(e). */
export function recvRnrNak(ctx: ModelContext, s: SpecState, e: Ep): SpecState | null {
  const m = responseReady(s, e);
  if (m === null || m.k !== 'NAK' || m.why !== 'RNR' || !(s.nic[e].rnrCount < ctx.k.RnrRetry)) return null;
  return {
    ...s,
    net: set(s.net, peer(e), s.net[peer(e)].slice(1)),
    nic: set(s.nic, e, { ...s.nic[e], rnrCount: s.nic[e].rnrCount + 1, inflight: 0 }),
    audit: s.audit,
  };
}

/** RecvRnrExceeded(e). */
export function recvRnrExceeded(ctx: ModelContext, s: SpecState, e: Ep): SpecState | null {
  const m = responseReady(s, e);
  if (m === null || m.k !== 'NAK' || m.why !== 'RNR' || s.nic[e].rnrCount !== ctx.k.RnrRetry) return null;
  return failHead(ctx, s, e, 'RNR_RETRY_EXC_ERR', 'RETRY_EXCEEDED');
}

/** Timeout(e). */
export function timeout(ctx: ModelContext, s: SpecState, e: Ep): SpecState | null {
  if (!(s.nic[e].inflight > 0) || s.conn !== 'up') return null;
  if (s.qp[e] !== 'RTS' && s.qp[e] !== 'SQD') return null;
  if (CONNECTED.has(s.qp[peer(e)])) return null;
  return failHead(ctx, s, e, 'RETRY_EXC_ERR', 'RETRY_EXCEEDED');
}
