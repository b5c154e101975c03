/**
 * The spec's Responder section: e executes the request next on the stream from Peer(e), or
 * drops it while it waits for the retry of a request it RNR-NAKed.
 */
import { auditPlace, auditQp, emit, inHead } from './model-action-helpers.js';
import { addNum, both, CONNECTED, IDLE, peer, set, type Ep, type ModelContext, type Msg, type PerEp, type SpecState } from './model-state.js';

/** RequestReady(e): the request at the head of the stream, if e may execute one. */
function requestReady(s: SpecState, e: Ep): Msg | null {
  const m = inHead(s, e);
  if (m === undefined || m.k !== 'REQ' || !CONNECTED.has(s.qp[e])) return null;
  return m;
}

/** InSequence(e). */
function inSequence(s: SpecState, e: Ep, m: Msg): boolean {
  return s.nic[e].rnrWait === 0 || m.id === s.nic[e].rnrWait;
}

/** RespondDrop(e). */
export function respondDrop(s: SpecState, e: Ep): SpecState | null {
  const m = requestReady(s, e);
  if (m === null || inSequence(s, e, m)) return null;
  return { ...s, net: set(s.net, peer(e), s.net[peer(e)].slice(1)), audit: s.audit };
}

/** net after e consumes the request and answers r. */
function reply(s: SpecState, e: Ep, r: Msg): PerEp<readonly Msg[]> {
  return set(set(s.net, peer(e), s.net[peer(e)].slice(1)), e, emit(s, s.net[e], r));
}

/** RespondRnr(e). */
export function respondRnr(s: SpecState, e: Ep): SpecState | null {
  const m = requestReady(s, e);
  if (m === null || !inSequence(s, e, m) || m.op !== 'SEND' || s.rq[e].length !== 0) return null;
  return {
    ...s,
    net: reply(s, e, { k: 'NAK', id: m.id, op: 'none', tgt: 'none', why: 'RNR' }),
    nic: set(s.nic, e, { ...s.nic[e], rnrWait: m.id }),
    audit: s.audit,
  };
}

/** RespondRecv(e). */
export function respondRecv(ctx: ModelContext, s: SpecState, e: Ep): SpecState | null {
  const m = requestReady(s, e);
  if (m === null || !inSequence(s, e, m) || m.op !== 'SEND' || s.rq[e].length === 0) return null;
  const r = s.rq[e][0]!;
  return {
    ...s,
    rq: set(s.rq, e, s.rq[e].slice(1)),
    cq: set(s.cq, e, [...s.cq[e], { id: r.id, q: 'R', st: 'SUCCESS', buf: r.buf }]),
    hist: set(s.hist, e, { ...s.hist[e], placed: addNum(s.hist[e].placed, [m.id]) }),
    net: reply(s, e, { k: 'ACK', id: m.id, op: 'none', tgt: 'none', why: 'none' }),
    nic: set(s.nic, e, { ...s.nic[e], rnrWait: 0 }),
    audit: auditPlace(ctx, s, e, 'buf', r.buf),
  };
}

/** RespondWrite(e). */
export function respondWrite(ctx: ModelContext, s: SpecState, e: Ep): SpecState | null {
  const m = requestReady(s, e);
  if (m === null || !inSequence(s, e, m) || m.op !== 'WRITE' || !ctx.k.RemoteWritable.includes(m.tgt)) return null;
  return {
    ...s,
    hist: set(s.hist, e, { ...s.hist[e], placed: addNum(s.hist[e].placed, [m.id]) }),
    net: reply(s, e, { k: 'ACK', id: m.id, op: 'none', tgt: 'none', why: 'none' }),
    nic: set(s.nic, e, { ...s.nic[e], rnrWait: 0 }),
    audit: auditPlace(ctx, s, e, 'mr', m.tgt),
  };
}

/** RespondFault(e, why). */
function respondFault(ctx: ModelContext, s: SpecState, e: Ep, m: Msg, why: string): SpecState {
  const out = emit(s, s.net[e], { k: 'NAK', id: m.id, op: 'none', tgt: 'none', why });
  return {
    ...s,
    net: set(both<readonly Msg[]>([]), e, out),
    conn: 'down',
    qp: set(s.qp, e, 'ERR'),
    nic: set(s.nic, e, IDLE),
    audit: auditQp(ctx, s, e, 'LOCAL_ERROR', 'ERR'),
  };
}

/** RespondAccessError(e). */
export function respondAccessError(ctx: ModelContext, s: SpecState, e: Ep): SpecState | null {
  const m = requestReady(s, e);
  if (m === null || !inSequence(s, e, m) || m.op !== 'WRITE' || ctx.k.RemoteWritable.includes(m.tgt)) return null;
  return respondFault(ctx, s, e, m, 'ACCESS');
}

/** RespondInvalid(e). */
export function respondInvalid(ctx: ModelContext, s: SpecState, e: Ep): SpecState | null {
  const m = requestReady(s, e);
  if (m === null || !inSequence(s, e, m) || m.op !== 'BADREQ') return null;
  return respondFault(ctx, s, e, m, 'INVREQ');
}
