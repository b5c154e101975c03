/**
 * Trace validation: replays an implementation trace (trace.ts) against spec/RcVerbs.tla, through
 * its transliteration (model.ts, whose state graph check-spec ties to tla-checker's).
 *
 * The checker keeps the set of spec states the system may be in. Before each observed call it
 * closes the set under the spec's hidden actions (requester, responder, flush, network); the call
 * then keeps only the states that can take it -- the matching application action of Next, or, for
 * a refused call or a query, the states in which the spec says the same thing. An empty set is the
 * first step the spec cannot take; the report names it and what the spec allowed instead.
 */
import { fromTla, peer, RcVerbsModel, stateKey, toTla, type SpecState } from './model.js';
import { violatedInvariants } from './invariants.js';
import type { QpTables } from './qp-tables.js';
import type { Trace, TraceEvent } from './trace.js';
import { cfgForConstants } from './cfg.js';
import { CheckerStepper, inlineTables, readSpecText } from './tla-checker.js';

/** Who says what the spec's next steps are: its transliteration (fast) or tla-checker (the spec). */
export interface SpecStepper {
  readonly name: string;
  init(): SpecState[];
  next(s: SpecState): readonly { readonly action: string; readonly state: SpecState }[];
}

export function transliterationStepper(model: RcVerbsModel): SpecStepper {
  return { name: 'transliteration', init: () => [model.init()], next: (s) => model.next(s) };
}

/** The spec text itself through tla-checker's explore API (~20 ms a step: short traces only). */
export function tlaCheckerStepper(model: RcVerbsModel, specText: string = readSpecText()): SpecStepper {
  const checker = new CheckerStepper(inlineTables(specText), cfgForConstants(model.k));
  return {
    name: 'tla-checker',
    init: () => checker.init().map(fromTla),
    next: (s) => checker.next(toTla(s)).map((t) => ({ action: t.action, state: fromTla(t.vars) })),
  };
}

/** The application's actions: each observed call is one of them, the rest are hidden. */
const APPLICATION_ACTIONS = new Set(['PostSend', 'PostRecv', 'Poll', 'Modify', 'ModifyToErr', 'ModifyToReset']);

/** States one closure may hold before the search gives up (the trace is then too loose to judge). */
export const MAX_CANDIDATES = 200_000;

export interface TraceVerdict {
  readonly ok: boolean;
  /** Events replayed (all of them when ok). */
  readonly replayed: number;
  /** The most spec states the system could have been in at once. */
  readonly widest: number;
  /** The first event the spec cannot take, with why and what the spec allowed there. */
  readonly failure: { readonly index: number; readonly event: TraceEvent; readonly reason: string } | null;
}

type States = Map<string, SpecState>;

function add(into: States, s: SpecState): void {
  const k = stateKey(s);
  if (!into.has(k)) into.set(k, s);
}

class Overflow extends Error {}

function closeUnderHidden(stepper: SpecStepper, from: States): States {
  const seen: States = new Map(from);
  let frontier = [...from.values()];
  while (frontier.length > 0) {
    const next: SpecState[] = [];
    for (const s of frontier) {
      for (const t of stepper.next(s)) {
        if (APPLICATION_ACTIONS.has(t.action)) continue;
        const k = stateKey(t.state);
        if (seen.has(k)) continue;
        seen.set(k, t.state);
        next.push(t.state);
        if (seen.size > MAX_CANDIDATES) throw new Overflow(`more than ${MAX_CANDIDATES} spec states fit the trace here`);
      }
    }
    frontier = next;
  }
  return seen;
}

/** What the candidates say about ep, for a failure report: "qp in {RTS}, cq heads {...}". */
function describe(states: States, ep: 'A' | 'B'): string {
  const all = [...states.values()];
  const uniq = (xs: string[]) => [...new Set(xs)].sort().slice(0, 8).join(', ');
  const heads = uniq(all.map((s) => (s.cq[ep][0] === undefined ? 'empty' : `${s.cq[ep][0]!.q}${s.cq[ep][0]!.id}:${s.cq[ep][0]!.st}`)));
  return `the spec allowed ${all.length} states here: qp.${ep} in {${uniq(all.map((s) => s.qp[ep]))}}, head of cq.${ep} in {${heads}}`;
}

/**
 * Replays `trace` against the spec. The application's steps are matched by what they do to the
 * state (the WR appended, the completion removed, the QP state changed on that endpoint only), so
 * that the transliteration and tla-checker, which names only the disjunct of Next, judge alike.
 */
export function checkTrace(trace: Trace, tables: QpTables, chooseStepper: (model: RcVerbsModel) => SpecStepper = transliterationStepper): TraceVerdict {
  const model = new RcVerbsModel(trace.header.constants, tables);
  const stepper = chooseStepper(model);
  /** Trace wr id -> spec id (1.. in posting order per endpoint, as the spec numbers WRs). */
  const ids = { A: new Map<string, number>(), B: new Map<string, number>() };
  let current: States = new Map();
  for (const s of stepper.init()) add(current, s);
  let widest = current.size;
  const failed = (index: number, event: TraceEvent, reason: string): TraceVerdict => ({ ok: false, replayed: index, widest, failure: { index, event, reason } });

  for (const [index, event] of trace.events.entries()) {
    const e = event.ep;
    let candidates: States;
    try {
      candidates = closeUnderHidden(stepper, current);
    } catch (error) {
      if (error instanceof Overflow) return failed(index, event, error.message);
      throw error;
    }
    widest = Math.max(widest, candidates.size);
    const after: States = new Map();
    let reason = '';
    const steps = (s: SpecState, action: (name: string) => boolean) => stepper.next(s).filter((t) => action(t.action)).map((t) => t.state);

    switch (event.t) {
      case 'modify': {
        for (const s of candidates.values()) {
          if (!event.ok) {
            if (!tables.modifyAllowed(s.qp[e], event.to)) add(after, s);
          } else if (s.qp[e] === event.to) {
            if (tables.modifyAllowed(event.to, event.to)) add(after, s);
          } else {
            for (const n of steps(s, (a) => a.startsWith('Modify'))) {
              if (n.qp[e] === event.to && n.qp[peer(e)] === s.qp[peer(e)]) add(after, n);
            }
          }
        }
        reason = event.ok ? `the spec cannot modify ${e} to ${event.to} here` : `the spec would accept modify ${e} to ${event.to} here, the implementation refused it`;
        break;
      }
      case 'post_send':
      case 'post_recv': {
        const verdicts = event.t === 'post_send' ? tables.PostSendVerdict : tables.PostRecvVerdict;
        const action = event.t === 'post_send' ? 'PostSend' : 'PostRecv';
        for (const s of candidates.values()) {
          if (!event.ok) {
            if (verdicts[s.qp[e]] === 'refused') add(after, s);
            continue;
          }
          for (const n of steps(s, (a) => a === action)) {
            if (n.hist[e].posted !== s.hist[e].posted + 1) continue;
            const queue = event.t === 'post_send' ? n.sq[e] : n.rq[e];
            const wr = queue[queue.length - 1];
            if (wr === undefined || wr.buf !== event.buf) continue;
            if (event.t === 'post_send' && (wr.op !== event.op || wr.tgt !== event.tgt)) continue;
            add(after, n);
          }
        }
        if (event.ok) {
          if (ids[e].has(event.wr)) return failed(index, event, `wr ${event.wr} was posted on ${e} before; traces need unique wr ids`);
          ids[e].set(event.wr, ids[e].size + 1);
        }
        reason = event.ok ? `the spec cannot accept this ${event.t} on ${e} here (state, buffer ownership or MaxPosts)` : `the spec would admit this ${event.t} on ${e} here, the implementation refused it`;
        break;
      }
      case 'poll': {
        let polling: States = candidates;
        for (const [i, wc] of event.wcs.entries()) {
          const id = ids[e].get(wc.wr);
          if (id === undefined) return failed(index, event, `completion ${i + 1} names wr ${wc.wr}, which ${e} never posted`);
          const next: States = new Map();
          for (const s of polling.values()) {
            const head = s.cq[e][0];
            if (head === undefined || head.id !== id || head.q !== wc.q || head.st !== wc.st) continue;
            for (const n of steps(s, (a) => a === 'Poll')) if (n.cq[e].length === s.cq[e].length - 1) add(next, n);
          }
          if (next.size === 0) {
            return failed(index, event, `completion ${i + 1} (wr ${wc.wr} = spec id ${id}, ${wc.q}, ${wc.st}) is not what the spec's CQ can hold next; ${describe(polling, e)}`);
          }
          polling = next;
        }
        // Fewer completions than asked for: the CQ was empty then.
        for (const s of polling.values()) if (event.wcs.length === event.max || s.cq[e].length === 0) add(after, s);
        reason = `the implementation's CQ on ${e} was empty after ${event.wcs.length} completions, the spec's cannot be`;
        break;
      }
      case 'state': {
        for (const s of candidates.values()) if (s.qp[e] === event.qp) add(after, s);
        reason = `the implementation's QP ${e} is in ${event.qp}, the spec's cannot be`;
        break;
      }
    }

    if (after.size === 0) return failed(index, event, `${reason}; ${describe(candidates, e)}`);
    for (const s of after.values()) {
      const broken = violatedInvariants(model, s);
      if (broken.length > 0) return failed(index, event, `the spec state after this step breaks ${broken.join(', ')}`);
    }
    current = after;
  }
  return { ok: true, replayed: trace.events.length, widest, failure: null };
}

export function describeVerdict(v: TraceVerdict, source: string): string {
  if (v.ok) return `trace ${source}: ${v.replayed} events, the spec takes every one (at most ${v.widest} candidate states)`;
  const f = v.failure!;
  return `trace ${source}: event ${f.index + 1} ${JSON.stringify(f.event)} is a step the spec cannot take: ${f.reason}`;
}
