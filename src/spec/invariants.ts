/**
 * The invariants of spec/RcVerbs.tla, transliterated (same names, same meaning). The trace
 * checker evaluates them on every state a trace passes through, and the exhaustive exploration
 * (explore.ts) on every state it reaches; the state graph they run on is tied to the spec's by
 * `compareGraphs` in check-spec.ts.
 */
import { EPS, STEP_PROPERTIES, peer, type RcVerbsModel, type SpecState } from './model.js';

export const SPEC_INVARIANTS = [
  'TypeOK',
  'EveryWrInOnePlace',
  'BufferOwnership',
  'CompletionsInPostingOrder',
  'DataPlacedSafely',
  'SendSuccessMeansPlaced',
  'QpTransitionsInTable',
  'QueuesAdmittedByState',
  'ResponsesMatchRequests',
] as const;

export type InvariantName = (typeof SPEC_INVARIANTS)[number];

const STATUSES = new Set(['SUCCESS', 'REM_ACCESS_ERR', 'REM_INV_REQ_ERR', 'RNR_RETRY_EXC_ERR', 'RETRY_EXC_ERR', 'WR_FLUSH_ERR']);
const within = (n: number, lo: number, hi: number) => Number.isInteger(n) && n >= lo && n <= hi;

function typeOK(m: RcVerbsModel, s: SpecState): boolean {
  const k = m.k;
  const ids = (n: number) => within(n, 1, k.MaxPosts);
  const targets = new Set([...k.Regions, 'none']);
  const wrOK = (w: { id: number; op: string; buf: string; tgt: string }) =>
    ids(w.id) && (k.SendOps.includes(w.op) || w.op === 'RECV') && k.Buffers.includes(w.buf) && targets.has(w.tgt);
  return EPS.every((e) => m.tables.QpStates.includes(s.qp[e]))
    && (s.conn === 'up' || s.conn === 'down')
    && s.audit.every((p) => (STEP_PROPERTIES as readonly string[]).includes(p))
    && EPS.every((e) => {
      const n = s.nic[e];
      const h = s.hist[e];
      return s.sq[e].every((w) => wrOK(w) && w.op !== 'RECV')
        && s.rq[e].every((w) => wrOK(w) && w.op === 'RECV')
        && s.cq[e].every((c) => ids(c.id) && (c.q === 'S' || c.q === 'R') && STATUSES.has(c.st) && k.Buffers.includes(c.buf))
        && s.net[e].every((x) => ['REQ', 'ACK', 'NAK'].includes(x.k) && ids(x.id) && (k.SendOps.includes(x.op) || x.op === 'none')
          && targets.has(x.tgt) && ['none', 'RNR', 'ACCESS', 'INVREQ'].includes(x.why))
        && within(n.started, 0, s.sq[e].length) && within(n.inflight, 0, n.started)
        && within(n.rnrCount, 0, k.RnrRetry) && within(n.rnrWait, 0, k.MaxPosts)
        && k.Buffers.every((b) => s.owner[e][b] === 'proc' || s.owner[e][b] === 'hw')
        && Object.keys(s.owner[e]).length === k.Buffers.length
        && within(h.posted, 0, k.MaxPosts)
        && h.polled.every((p) => ids(p.id) && (p.q === 'S' || p.q === 'R'))
        && h.discarded.every(ids) && h.placed.every(ids);
    });
}

function everyWrInOnePlace(s: SpecState): boolean {
  return EPS.every((e) => {
    const h = s.hist[e];
    const count = (i: number) =>
      s.sq[e].filter((w) => w.id === i).length + s.rq[e].filter((w) => w.id === i).length
      + s.cq[e].filter((c) => c.id === i).length + h.polled.filter((p) => p.id === i).length
      + (h.discarded.includes(i) ? 1 : 0);
    for (let i = 1; i <= h.posted; i++) if (count(i) !== 1) return false;
    const known = [...s.sq[e], ...s.rq[e], ...s.cq[e]].map((x) => x.id).concat(h.discarded, h.polled.map((p) => p.id));
    return known.every((i) => i <= h.posted);
  });
}

function bufferOwnership(m: RcVerbsModel, s: SpecState): boolean {
  return EPS.every((e) => m.k.Buffers.every((b) => {
    const users = [...s.sq[e], ...s.rq[e], ...s.cq[e]].filter((x) => x.buf === b).length;
    return s.owner[e][b] === 'proc' ? users === 0 : users === 1;
  }));
}

function completionsInPostingOrder(s: SpecState): boolean {
  return EPS.every((e) => {
    const cq = s.cq[e];
    const queued = { S: s.sq[e].map((w) => w.id), R: s.rq[e].map((w) => w.id) };
    for (let j = 0; j < cq.length; j++) {
      for (let k = j + 1; k < cq.length; k++) if (cq[j]!.q === cq[k]!.q && !(cq[j]!.id < cq[k]!.id)) return false;
      if (!queued[cq[j]!.q].every((i) => cq[j]!.id < i)) return false;
    }
    return s.hist[e].polled.every((x) => queued[x.q].every((i) => x.id < i) && cq.every((c) => c.q !== x.q || x.id < c.id));
  });
}

function dataPlacedSafely(s: SpecState): boolean {
  return !s.audit.includes('DataPlacedSafely');
}

function sendSuccessMeansPlaced(s: SpecState): boolean {
  return EPS.every((e) => s.cq[e].every((c) => c.q !== 'S' || c.st !== 'SUCCESS' || s.hist[peer(e)].placed.includes(c.id)));
}

function qpTransitionsInTable(s: SpecState): boolean {
  return !s.audit.includes('QpTransitionsInTable');
}

function queuesAdmittedByState(m: RcVerbsModel, s: SpecState): boolean {
  return EPS.every((e) =>
    (s.sq[e].length === 0 || m.tables.PostSendVerdict[s.qp[e]] !== 'refused')
    && (s.rq[e].length === 0 || m.tables.PostRecvVerdict[s.qp[e]] !== 'refused'));
}

function responsesMatchRequests(s: SpecState): boolean {
  return EPS.every((e) => s.net[peer(e)].every((x) =>
    x.k === 'REQ' || s.sq[e].slice(0, s.nic[e].started).some((w) => w.id === x.id)));
}

export function invariantHolds(m: RcVerbsModel, s: SpecState, name: string): boolean {
  switch (name) {
    case 'TypeOK': return typeOK(m, s);
    case 'EveryWrInOnePlace': return everyWrInOnePlace(s);
    case 'BufferOwnership': return bufferOwnership(m, s);
    case 'CompletionsInPostingOrder': return completionsInPostingOrder(s);
    case 'DataPlacedSafely': return dataPlacedSafely(s);
    case 'SendSuccessMeansPlaced': return sendSuccessMeansPlaced(s);
    case 'QpTransitionsInTable': return qpTransitionsInTable(s);
    case 'QueuesAdmittedByState': return queuesAdmittedByState(m, s);
    case 'ResponsesMatchRequests': return responsesMatchRequests(s);
    default: throw new Error(`invariants: the spec has no invariant ${name}`);
  }
}

/** The names, in the given order, of the invariants s violates. */
export function violatedInvariants(m: RcVerbsModel, s: SpecState, names: readonly string[] = SPEC_INVARIANTS): string[] {
  return names.filter((n) => !invariantHolds(m, s, n));
}
