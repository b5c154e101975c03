/**
 * A TypeScript transliteration of spec/RcVerbs.tla: Init, every action of Next (with the same
 * names and parameters), and the invariants. It exists because tla-checker evaluates the spec at
 * about a thousand states a second, too slow to replay hundreds of traces or to size configs.
 *
 * It is tied to the spec mechanically, not by trust:
 *  - the QP tables are read from spec/QpTables.tla itself (qp-tables.ts), not from machines/;
 *  - test/spec/model-tie.test.ts has tla-checker export the full state graph of a config and
 *    requires the same states, the same edges and the same action labels from this file, and
 *    the same verdict of every invariant on sampled states (explore_invariants);
 *  - check-spec compares the distinct-state count of every config it runs with tla-checker's.
 * Any edit to the spec's Next or invariants that is not mirrored here fails those checks.
 */
import type { QpTables } from './qp-tables.js';
import type { TlaValue } from './tla-value.js';

export type Ep = 'A' | 'B';
export const EPS: readonly Ep[] = ['A', 'B'];
export const peer = (e: Ep): Ep => (e === 'A' ? 'B' : 'A');

export interface SpecConstants {
  readonly MaxPosts: number;
  readonly Buffers: readonly string[];
  readonly SendOps: readonly string[];
  readonly Regions: readonly string[];
  readonly RemoteWritable: readonly string[];
  readonly RnrRetry: number;
  readonly AllowBreak: boolean;
}

export interface Wr { readonly id: number; readonly op: string; readonly buf: string; readonly tgt: string }
export interface Wc { readonly id: number; readonly q: 'S' | 'R'; readonly st: string; readonly buf: string }
export interface Msg { readonly k: 'REQ' | 'ACK' | 'NAK'; readonly id: number; readonly op: string; readonly tgt: string; readonly why: string }
export interface Nic { readonly started: number; readonly inflight: number; readonly rnrCount: number; readonly rnrWait: number }
export interface Polled { readonly id: number; readonly q: 'S' | 'R' }
export interface Hist {
  readonly posted: number;
  /** Sets are kept as sorted arrays without duplicates. */
  readonly polled: readonly Polled[];
  readonly discarded: readonly number[];
  readonly placed: readonly number[];
}

type PerEp<T> = Readonly<Record<Ep, T>>;

export interface SpecState {
  readonly qp: PerEp<string>;
  readonly sq: PerEp<readonly Wr[]>;
  readonly rq: PerEp<readonly Wr[]>;
  readonly cq: PerEp<readonly Wc[]>;
  readonly nic: PerEp<Nic>;
  readonly owner: PerEp<Readonly<Record<string, 'proc' | 'hw'>>>;
  readonly hist: PerEp<Hist>;
  readonly net: PerEp<readonly Msg[]>;
  readonly conn: 'up' | 'down';
  /** The step properties some step broke (a sorted set; empty in every correct behaviour). */
  readonly audit: readonly string[];
}

/** One step of Next: the action's name as in the spec, its parameters, and the new state. */
export interface Transition {
  readonly action: string;
  readonly ep: Ep | null;
  readonly args: Readonly<Record<string, string | number>>;
  readonly state: SpecState;
}

export const STEP_PROPERTIES = ['DataPlacedSafely', 'QpTransitionsInTable'] as const;
const IDLE: Nic = { started: 0, inflight: 0, rnrCount: 0, rnrWait: 0 };
const CONNECTED = new Set(['RTR', 'RTS', 'SQD']);

export const SPEC_VARIABLES = ['qp', 'sq', 'rq', 'cq', 'nic', 'owner', 'hist', 'net', 'conn', 'audit'] as const;

const set = <T extends Ep, V>(m: PerEp<V>, e: T, v: V): PerEp<V> => (e === 'A' ? { A: v, B: m.B } : { A: m.A, B: v });
const both = <V>(v: V): PerEp<V> => ({ A: v, B: v });
const addNum = (xs: readonly number[], add: Iterable<number>): number[] => [...new Set([...xs, ...add])].sort((a, b) => a - b);
const addStr = (xs: readonly string[], x: string): string[] => [...new Set([...xs, x])].sort();
const polledKey = (p: Polled) => p.id * 2 + (p.q === 'S' ? 0 : 1);

export class RcVerbsModel {
  constructor(readonly k: SpecConstants, readonly tables: QpTables) {}

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

  // ---------------------------------------------------------------- helpers

  private emit(s: SpecState, ch: readonly Msg[], m: Msg): readonly Msg[] {
    return s.conn === 'up' ? [...ch, m] : ch;
  }

  private netAfterClose(s: SpecState, e: Ep, n: PerEp<readonly Msg[]>): PerEp<readonly Msg[]> {
    return CONNECTED.has(s.qp[e]) ? set(n, peer(e), []) : n;
  }

  private connAfterClose(s: SpecState, e: Ep): 'up' | 'down' {
    return CONNECTED.has(s.qp[e]) ? 'down' : s.conn;
  }

  /** AuditQp(e, ev, to). */
  private auditQp(s: SpecState, e: Ep, ev: string, to: string): readonly string[] {
    return this.tables.machineHasStep(s.qp[e], ev, to) ? s.audit : addStr(s.audit, 'QpTransitionsInTable');
  }

  /** AuditPlace(e, kind, where). */
  private auditPlace(s: SpecState, e: Ep, kind: 'buf' | 'mr', where: string): readonly string[] {
    const ok = kind === 'buf'
      ? s.owner[e][where] === 'hw' && s.rq[e].some((w) => w.buf === where)
      : this.k.RemoteWritable.includes(where);
    return ok ? s.audit : addStr(s.audit, 'DataPlacedSafely');
  }

  /** ToErr(e, ev): qp, nic, net, conn and last. */
  private toErr(s: SpecState, e: Ep, ev: string): Pick<SpecState, 'qp' | 'nic' | 'net' | 'conn' | 'audit'> {
    return {
      qp: set(s.qp, e, 'ERR'),
      nic: set(s.nic, e, IDLE),
      net: this.netAfterClose(s, e, s.net),
      conn: this.connAfterClose(s, e),
      audit: this.auditQp(s, e, ev, 'ERR'),
    };
  }

  private failHead(s: SpecState, e: Ep, st: string, ev: string): SpecState {
    const head = s.sq[e][0]!;
    return {
      ...s,
      cq: set(s.cq, e, [...s.cq[e], { id: head.id, q: 'S', st, buf: head.buf }]),
      sq: set(s.sq, e, s.sq[e].slice(1)),
      ...this.toErr(s, e, ev),
    };
  }

  private inHead(s: SpecState, e: Ep): Msg | undefined {
    return s.net[peer(e)][0];
  }

  // ---------------------------------------------------------------- application

  postSendWr(s: SpecState, e: Ep, op: string, t: string, b: string): SpecState | null {
    if (!(s.hist[e].posted < this.k.MaxPosts)) return null;
    if (this.tables.PostSendVerdict[s.qp[e]] === 'refused') return null;
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

  postRecvWr(s: SpecState, e: Ep, b: string): SpecState | null {
    if (!(s.hist[e].posted < this.k.MaxPosts)) return null;
    if (this.tables.PostRecvVerdict[s.qp[e]] === 'refused') return null;
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

  poll(s: SpecState, e: Ep): SpecState | null {
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

  modifyTo(s: SpecState, e: Ep, to: string): SpecState | null {
    if (to === 'RESET' || to === 'ERR' || to === s.qp[e]) return null;
    if (!this.tables.modifyAllowed(s.qp[e], to)) return null;
    return { ...s, qp: set(s.qp, e, to), audit: this.auditQp(s, e, 'MODIFY', to) };
  }

  modifyToErr(s: SpecState, e: Ep): SpecState | null {
    if (s.qp[e] === 'ERR' || !this.tables.modifyAllowed(s.qp[e], 'ERR')) return null;
    return { ...s, ...this.toErr(s, e, 'MODIFY') };
  }

  modifyToReset(s: SpecState, e: Ep): SpecState | null {
    if (s.qp[e] === 'RESET' || !this.tables.modifyAllowed(s.qp[e], 'RESET')) return null;
    const dropped = [...s.sq[e], ...s.rq[e]];
    const freed = new Set(dropped.map((w) => w.buf));
    const owner = Object.fromEntries(this.k.Buffers.map((b) => [b, freed.has(b) ? ('proc' as const) : s.owner[e][b]!]));
    return {
      ...s,
      qp: set(s.qp, e, 'RESET'),
      hist: set(s.hist, e, { ...s.hist[e], discarded: addNum(s.hist[e].discarded, dropped.map((w) => w.id)) }),
      owner: set(s.owner, e, owner),
      sq: set(s.sq, e, []),
      rq: set(s.rq, e, []),
      nic: set(s.nic, e, IDLE),
      net: this.netAfterClose(s, e, s.net),
      conn: this.connAfterClose(s, e),
      audit: this.auditQp(s, e, 'MODIFY', 'RESET'),
    };
  }

  // ---------------------------------------------------------------- requester

  transmit(s: SpecState, e: Ep): SpecState | null {
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

  private responseReady(s: SpecState, e: Ep): Msg | null {
    const m = this.inHead(s, e);
    if (m === undefined || m.k === 'REQ') return null;
    if (s.qp[e] !== 'RTS' && s.qp[e] !== 'SQD') return null;
    if (!(s.nic[e].inflight > 0)) return null;
    return m.id === s.sq[e][0]!.id ? m : null;
  }

  recvAck(s: SpecState, e: Ep): SpecState | null {
    const m = this.responseReady(s, e);
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

  recvErrorNak(s: SpecState, e: Ep): SpecState | null {
    const m = this.responseReady(s, e);
    if (m === null || m.k !== 'NAK' || (m.why !== 'ACCESS' && m.why !== 'INVREQ')) return null;
    return this.failHead(s, e, m.why === 'ACCESS' ? 'REM_ACCESS_ERR' : 'REM_INV_REQ_ERR', 'REMOTE_NAK');
  }

  recvRnrNak(s: SpecState, e: Ep): SpecState | null {
    const m = this.responseReady(s, e);
    if (m === null || m.k !== 'NAK' || m.why !== 'RNR' || !(s.nic[e].rnrCount < this.k.RnrRetry)) return null;
    return {
      ...s,
      net: set(s.net, peer(e), s.net[peer(e)].slice(1)),
      nic: set(s.nic, e, { ...s.nic[e], rnrCount: s.nic[e].rnrCount + 1, inflight: 0 }),
      audit: s.audit,
    };
  }

  recvRnrExceeded(s: SpecState, e: Ep): SpecState | null {
    const m = this.responseReady(s, e);
    if (m === null || m.k !== 'NAK' || m.why !== 'RNR' || s.nic[e].rnrCount !== this.k.RnrRetry) return null;
    return this.failHead(s, e, 'RNR_RETRY_EXC_ERR', 'RETRY_EXCEEDED');
  }

  timeout(s: SpecState, e: Ep): SpecState | null {
    if (!(s.nic[e].inflight > 0) || s.conn !== 'up') return null;
    if (s.qp[e] !== 'RTS' && s.qp[e] !== 'SQD') return null;
    if (CONNECTED.has(s.qp[peer(e)])) return null;
    return this.failHead(s, e, 'RETRY_EXC_ERR', 'RETRY_EXCEEDED');
  }

  // ---------------------------------------------------------------- responder

  private requestReady(s: SpecState, e: Ep): Msg | null {
    const m = this.inHead(s, e);
    if (m === undefined || m.k !== 'REQ' || !CONNECTED.has(s.qp[e])) return null;
    return m;
  }

  private inSequence(s: SpecState, e: Ep, m: Msg): boolean {
    return s.nic[e].rnrWait === 0 || m.id === s.nic[e].rnrWait;
  }

  respondDrop(s: SpecState, e: Ep): SpecState | null {
    const m = this.requestReady(s, e);
    if (m === null || this.inSequence(s, e, m)) return null;
    return { ...s, net: set(s.net, peer(e), s.net[peer(e)].slice(1)), audit: s.audit };
  }

  private reply(s: SpecState, e: Ep, r: Msg): PerEp<readonly Msg[]> {
    return set(set(s.net, peer(e), s.net[peer(e)].slice(1)), e, this.emit(s, s.net[e], r));
  }

  respondRnr(s: SpecState, e: Ep): SpecState | null {
    const m = this.requestReady(s, e);
    if (m === null || !this.inSequence(s, e, m) || m.op !== 'SEND' || s.rq[e].length !== 0) return null;
    return {
      ...s,
      net: this.reply(s, e, { k: 'NAK', id: m.id, op: 'none', tgt: 'none', why: 'RNR' }),
      nic: set(s.nic, e, { ...s.nic[e], rnrWait: m.id }),
      audit: s.audit,
    };
  }

  respondRecv(s: SpecState, e: Ep): SpecState | null {
    const m = this.requestReady(s, e);
    if (m === null || !this.inSequence(s, e, m) || m.op !== 'SEND' || s.rq[e].length === 0) return null;
    const r = s.rq[e][0]!;
    return {
      ...s,
      rq: set(s.rq, e, s.rq[e].slice(1)),
      cq: set(s.cq, e, [...s.cq[e], { id: r.id, q: 'R', st: 'SUCCESS', buf: r.buf }]),
      hist: set(s.hist, e, { ...s.hist[e], placed: addNum(s.hist[e].placed, [m.id]) }),
      net: this.reply(s, e, { k: 'ACK', id: m.id, op: 'none', tgt: 'none', why: 'none' }),
      nic: set(s.nic, e, { ...s.nic[e], rnrWait: 0 }),
      audit: this.auditPlace(s, e, 'buf', r.buf),
    };
  }

  respondWrite(s: SpecState, e: Ep): SpecState | null {
    const m = this.requestReady(s, e);
    if (m === null || !this.inSequence(s, e, m) || m.op !== 'WRITE' || !this.k.RemoteWritable.includes(m.tgt)) return null;
    return {
      ...s,
      hist: set(s.hist, e, { ...s.hist[e], placed: addNum(s.hist[e].placed, [m.id]) }),
      net: this.reply(s, e, { k: 'ACK', id: m.id, op: 'none', tgt: 'none', why: 'none' }),
      nic: set(s.nic, e, { ...s.nic[e], rnrWait: 0 }),
      audit: this.auditPlace(s, e, 'mr', m.tgt),
    };
  }

  private respondFault(s: SpecState, e: Ep, m: Msg, why: string): SpecState {
    const out = this.emit(s, s.net[e], { k: 'NAK', id: m.id, op: 'none', tgt: 'none', why });
    return {
      ...s,
      net: set(both<readonly Msg[]>([]), e, out),
      conn: 'down',
      qp: set(s.qp, e, 'ERR'),
      nic: set(s.nic, e, IDLE),
      audit: this.auditQp(s, e, 'LOCAL_ERROR', 'ERR'),
    };
  }

  respondAccessError(s: SpecState, e: Ep): SpecState | null {
    const m = this.requestReady(s, e);
    if (m === null || !this.inSequence(s, e, m) || m.op !== 'WRITE' || this.k.RemoteWritable.includes(m.tgt)) return null;
    return this.respondFault(s, e, m, 'ACCESS');
  }

  respondInvalid(s: SpecState, e: Ep): SpecState | null {
    const m = this.requestReady(s, e);
    if (m === null || !this.inSequence(s, e, m) || m.op !== 'BADREQ') return null;
    return this.respondFault(s, e, m, 'INVREQ');
  }

  // ---------------------------------------------------------------- ERR, connection

  flushSend(s: SpecState, e: Ep): SpecState | null {
    if (s.qp[e] !== 'ERR' || s.sq[e].length === 0) return null;
    const w = s.sq[e][0]!;
    return { ...s, cq: set(s.cq, e, [...s.cq[e], { id: w.id, q: 'S', st: 'WR_FLUSH_ERR', buf: w.buf }]), sq: set(s.sq, e, s.sq[e].slice(1)), audit: s.audit };
  }

  flushRecv(s: SpecState, e: Ep): SpecState | null {
    if (s.qp[e] !== 'ERR' || s.rq[e].length === 0) return null;
    const w = s.rq[e][0]!;
    return { ...s, cq: set(s.cq, e, [...s.cq[e], { id: w.id, q: 'R', st: 'WR_FLUSH_ERR', buf: w.buf }]), rq: set(s.rq, e, s.rq[e].slice(1)), audit: s.audit };
  }

  breakConn(s: SpecState): SpecState | null {
    if (!this.k.AllowBreak || s.conn !== 'up') return null;
    return { ...s, conn: 'down', net: both([]), audit: s.audit };
  }

  detectLoss(s: SpecState, e: Ep): SpecState | null {
    if (s.conn !== 'down' || s.net[peer(e)].length !== 0 || !CONNECTED.has(s.qp[e])) return null;
    return { ...s, ...this.toErr(s, e, 'CONNECTION_LOST') };
  }

  reconnect(s: SpecState): SpecState | null {
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

  // ---------------------------------------------------------------- Next

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
          for (const b of k.Buffers) push('PostSend', e, { op, tgt: t, buf: b }, this.postSendWr(s, e, op, t, b));
        }
      }
      for (const b of k.Buffers) push('PostRecv', e, { buf: b }, this.postRecvWr(s, e, b));
      push('Poll', e, {}, this.poll(s, e));
      for (const to of this.tables.ModifyTargets[s.qp[e]] ?? []) push('Modify', e, { to }, this.modifyTo(s, e, to));
      push('ModifyToErr', e, { to: 'ERR' }, this.modifyToErr(s, e));
      push('ModifyToReset', e, { to: 'RESET' }, this.modifyToReset(s, e));
      push('Transmit', e, {}, this.transmit(s, e));
      push('RecvAck', e, {}, this.recvAck(s, e));
      push('RecvErrorNak', e, {}, this.recvErrorNak(s, e));
      push('RecvRnrNak', e, {}, this.recvRnrNak(s, e));
      push('RecvRnrExceeded', e, {}, this.recvRnrExceeded(s, e));
      push('Timeout', e, {}, this.timeout(s, e));
      push('RespondDrop', e, {}, this.respondDrop(s, e));
      push('RespondRnr', e, {}, this.respondRnr(s, e));
      push('RespondRecv', e, {}, this.respondRecv(s, e));
      push('RespondWrite', e, {}, this.respondWrite(s, e));
      push('RespondAccessError', e, {}, this.respondAccessError(s, e));
      push('RespondInvalid', e, {}, this.respondInvalid(s, e));
      push('FlushSend', e, {}, this.flushSend(s, e));
      push('FlushRecv', e, {}, this.flushRecv(s, e));
      push('DetectLoss', e, {}, this.detectLoss(s, e));
    }
    push('Break', null, {}, this.breakConn(s));
    push('Reconnect', null, {}, this.reconnect(s));
    return out;
  }
}

/** A state's identity: key order is fixed by construction and sets are sorted arrays. */
export function stateKey(s: SpecState): string {
  return JSON.stringify(s);
}

// ---------------------------------------------------------------- TLA+ value form

const seq = (xs: readonly TlaValue[]): TlaValue => ({ seq: xs });
const setOf = (xs: readonly TlaValue[]): TlaValue => ({ set: xs });
const rec = (o: Record<string, TlaValue>): TlaValue => ({ rec: o });
const perEp = <V>(m: PerEp<V>, f: (v: V) => TlaValue): TlaValue => rec({ A: f(m.A), B: f(m.B) });
const recOf = (o: object): TlaValue => rec(Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v as TlaValue])));

/** The state as TLA+ values, variable by variable, to compare with what tla-checker prints. */
export function toTla(s: SpecState): Record<string, TlaValue> {
  return {
    qp: perEp(s.qp, (q) => q),
    sq: perEp(s.sq, (xs) => seq(xs.map(recOf))),
    rq: perEp(s.rq, (xs) => seq(xs.map(recOf))),
    cq: perEp(s.cq, (xs) => seq(xs.map(recOf))),
    nic: perEp(s.nic, recOf),
    owner: perEp(s.owner, (o) => recOf(o)),
    hist: perEp(s.hist, (h) => rec({
      posted: h.posted,
      polled: setOf(h.polled.map(recOf)),
      discarded: setOf(h.discarded),
      placed: setOf(h.placed),
    })),
    net: perEp(s.net, (xs) => seq(xs.map(recOf))),
    conn: s.conn,
    audit: setOf(s.audit),
  };
}

const str = (v: TlaValue | undefined): string => {
  if (typeof v !== 'string') throw new Error(`model: expected a string, got ${JSON.stringify(v)}`);
  return v;
};
const num = (v: TlaValue | undefined): number => {
  if (typeof v !== 'number') throw new Error(`model: expected a number, got ${JSON.stringify(v)}`);
  return v;
};
const fields = (v: TlaValue | undefined): Readonly<Record<string, TlaValue>> => {
  if (v === undefined || typeof v !== 'object' || !('rec' in v)) throw new Error(`model: expected a record, got ${JSON.stringify(v)}`);
  return v.rec;
};
const items = (v: TlaValue | undefined): readonly TlaValue[] => {
  if (v !== undefined && typeof v === 'object' && 'seq' in v) return v.seq;
  if (v !== undefined && typeof v === 'object' && 'set' in v) return v.set;
  // An empty function printed as a record: [] is not produced, but <<>> and {} are equal in TLA+.
  throw new Error(`model: expected a sequence or set, got ${JSON.stringify(v)}`);
};
const eps = <V>(v: TlaValue | undefined, f: (x: TlaValue | undefined) => V): PerEp<V> => {
  const r = fields(v);
  return { A: f(r.A), B: f(r.B) };
};
const wr = (v: TlaValue): Wr => { const r = fields(v); return { id: num(r.id), op: str(r.op), buf: str(r.buf), tgt: str(r.tgt) }; };
const wc = (v: TlaValue): Wc => { const r = fields(v); return { id: num(r.id), q: str(r.q) as 'S' | 'R', st: str(r.st), buf: str(r.buf) }; };
const msg = (v: TlaValue): Msg => { const r = fields(v); return { k: str(r.k) as Msg['k'], id: num(r.id), op: str(r.op), tgt: str(r.tgt), why: str(r.why) }; };

/** The inverse of toTla: a state printed by a checker, as the model's state. */
export function fromTla(vars: Readonly<Record<string, TlaValue>>): SpecState {
  return {
    qp: eps(vars.qp, str),
    sq: eps(vars.sq, (x) => items(x).map(wr)),
    rq: eps(vars.rq, (x) => items(x).map(wr)),
    cq: eps(vars.cq, (x) => items(x).map(wc)),
    nic: eps(vars.nic, (x) => { const r = fields(x); return { started: num(r.started), inflight: num(r.inflight), rnrCount: num(r.rnrCount), rnrWait: num(r.rnrWait) }; }),
    owner: eps(vars.owner, (x) => Object.fromEntries(Object.entries(fields(x)).map(([b, o]) => [b, str(o) as 'proc' | 'hw']))),
    hist: eps(vars.hist, (x) => {
      const r = fields(x);
      return {
        posted: num(r.posted),
        polled: items(r.polled).map((p) => { const f = fields(p); return { id: num(f.id), q: str(f.q) as 'S' | 'R' }; }).sort((a, b) => polledKey(a) - polledKey(b)),
        discarded: items(r.discarded).map(num).sort((a, b) => a - b),
        placed: items(r.placed).map(num).sort((a, b) => a - b),
      };
    }),
    net: eps(vars.net, (x) => items(x).map(msg)),
    conn: str(vars.conn) as 'up' | 'down',
    audit: items(vars.audit).map(str).sort(),
  };
}
