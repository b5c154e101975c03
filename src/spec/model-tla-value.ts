/**
 * The transliteration's state in TLA+ value form and back: how its states are compared with the
 * ones tla-checker prints (graph comparison, counterexamples, trace replay through both).
 * fromTla re-sorts sets because the checker's printing order is not the model's canonical one.
 */
import { polledKey, type Msg, type PerEp, type SpecState, type Wc, type Wr } from './model-state.js';
import type { TlaValue } from './tla-value.js';

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
