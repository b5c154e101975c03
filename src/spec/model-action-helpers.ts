/**
 * The spec's Helpers section: the sub-steps several actions share (writing to the stream,
 * closing the socket, auditing a step, going to ERR). Kept apart so each action file mirrors
 * only its own section of spec/RcVerbs.tla and these are written once, as in the spec.
 */
import { addStr, CONNECTED, IDLE, peer, set, type Ep, type ModelContext, type Msg, type PerEp, type SpecState } from './model-state.js';

/** Emit(ch, m). */
export function emit(s: SpecState, ch: readonly Msg[], m: Msg): readonly Msg[] {
  return s.conn === 'up' ? [...ch, m] : ch;
}

/** NetAfterClose(e, n). */
export function netAfterClose(s: SpecState, e: Ep, n: PerEp<readonly Msg[]>): PerEp<readonly Msg[]> {
  return CONNECTED.has(s.qp[e]) ? set(n, peer(e), []) : n;
}

/** ConnAfterClose(e). */
export function connAfterClose(s: SpecState, e: Ep): 'up' | 'down' {
  return CONNECTED.has(s.qp[e]) ? 'down' : s.conn;
}

/** AuditQp(e, ev, to). */
export function auditQp(ctx: ModelContext, s: SpecState, e: Ep, ev: string, to: string): readonly string[] {
  return ctx.tables.machineHasStep(s.qp[e], ev, to) ? s.audit : addStr(s.audit, 'QpTransitionsInTable');
}

/** AuditPlace(e, kind, where). */
export function auditPlace(ctx: ModelContext, s: SpecState, e: Ep, kind: 'buf' | 'mr', where: string): readonly string[] {
  const ok = kind === 'buf'
    ? s.owner[e][where] === 'hw' && s.rq[e].some((w) => w.buf === where)
    : ctx.k.RemoteWritable.includes(where);
  return ok ? s.audit : addStr(s.audit, 'DataPlacedSafely');
}

/** ToErr(e, ev): the variables it sets (qp, nic, net, conn, audit), to spread over a state. */
export function toErr(ctx: ModelContext, s: SpecState, e: Ep, ev: string): Pick<SpecState, 'qp' | 'nic' | 'net' | 'conn' | 'audit'> {
  return {
    qp: set(s.qp, e, 'ERR'),
    nic: set(s.nic, e, IDLE),
    net: netAfterClose(s, e, s.net),
    conn: connAfterClose(s, e),
    audit: auditQp(ctx, s, e, ev, 'ERR'),
  };
}

/** FailHead(e, st, ev). */
export function failHead(ctx: ModelContext, s: SpecState, e: Ep, st: string, ev: string): SpecState {
  const head = s.sq[e][0]!;
  return {
    ...s,
    cq: set(s.cq, e, [...s.cq[e], { id: head.id, q: 'S', st, buf: head.buf }]),
    sq: set(s.sq, e, s.sq[e].slice(1)),
    ...toErr(ctx, s, e, ev),
  };
}

/** InHead(e): the next unread message of the stream into e. */
export function inHead(s: SpecState, e: Ep): Msg | undefined {
  return s.net[peer(e)][0];
}
