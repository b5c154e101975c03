import { AdapterBroken, outcomeOf, type AdapterClient } from './adapter-client.js';
import { failure, unclaimed, type CaseResult, type Capabilities, type Coverage } from './cases.js';
import { DEFAULT_CAP, PairFixture, eventsAfter, type ConnectedPair, type Endpoint, type LinkAttrs } from './pair-fixture.js';

type R = Record<string, unknown>;

export const MR_BYTES = 4096;
export const ACCESS = { LOCAL_WRITE: 1, REMOTE_WRITE: 2, REMOTE_READ: 4, REMOTE_ATOMIC: 8, ALL_REMOTE: 2 | 4 | 8 } as const;
export const SEND_FLAGS = { SIGNALED: 2, SOLICITED: 4, INLINE: 8 } as const;

/** What a two-endpoint case is given: the fixture, and helpers that record coverage and clean up. */
export interface PairCaseContext {
  readonly fx: PairFixture;
  readonly a: Endpoint;
  readonly b: Endpoint;
  /** A 4096-byte region on `e` (deregistered after the case unless the case did). */
  mr(e: Endpoint, access?: number): Promise<{ mr: string; addr: number; lkey: number; rkey: number }>;
  /** A new connected pair (destroyed after the case). */
  connect(accessB?: number, link?: LinkAttrs, cap?: R, qpType?: 'RC' | 'STREAM'): Promise<ConnectedPair>;
  /** A QP the case made itself, destroyed after the case. */
  adopt(e: Endpoint, qp: string): void;
  /** A QP of A connected to nobody (destroyed after the case). */
  silent(link?: LinkAttrs, cap?: R): Promise<{ qp: string; qpNum: number; cap: R }>;
  /** Completions of `e`, up to `count` within `ms`, each recorded in the coverage. */
  wcs(e: Endpoint, count: number, ms?: number): Promise<R[]>;
  state(e: Endpoint, qp: string): Promise<string>;
  /** Events of `e` since the case began that match. */
  events(e: Endpoint, match: (event: R) => boolean, ms: number): Promise<R[]>;
  /** `call`'s errno, or 'ok'. */
  outcome(call: Promise<unknown>): Promise<string>;
  /** `length` bytes of `mr` on `e` from `offset`. */
  read(e: Endpoint, mr: string, offset: number, length: number): Promise<Buffer>;
}

export interface PairCase {
  readonly name: string;
  /** Opcodes and features the IUT must claim for the case to run. */
  readonly needs: readonly string[];
  /** What the case does and what IB RC says must come of it. */
  readonly did: string;
  readonly expected: string;
  readonly rule: string;
  /** Runs the case; returns what departed from `expected` (empty when it passed). */
  run(t: PairCaseContext): Promise<string[]>;
}

export const wcText = (wc: R) => `${wc.wrId}:${wc.status}`;
export const wcsText = (wcs: readonly R[]) => wcs.map(wcText).join(' ') || 'none';

/**
 * Runs two-endpoint cases, each on fresh QPs and regions of one pair of endpoints; a case whose
 * set-up the IUT refuses fails with the refusal; a broken adapter ends the group (the caller
 * reports it).
 */
export async function runPairCases(group: string, cases: readonly PairCase[], iut: AdapterClient, peer: AdapterClient, capabilities: Capabilities, coverage: Coverage, record: (result: CaseResult) => void): Promise<void> {
  const fx = await PairFixture.open(iut, peer);
  for (const c of cases) {
    const missing = unclaimed(c.needs, capabilities);
    if (missing.length > 0) {
      record({ name: c.name, group, status: 'not claimed', message: `needs ${missing.join(', ')}` });
      continue;
    }
    const qps: [Endpoint, string][] = [];
    const mrs: [Endpoint, string][] = [];
    const marks = new Map<Endpoint, number>([[fx.a, fx.a.iut.events.length], [fx.b, fx.b.iut.events.length]]);
    const t: PairCaseContext = {
      fx, a: fx.a, b: fx.b,
      mr: async (e, access = ACCESS.LOCAL_WRITE | ACCESS.ALL_REMOTE) => {
        const mr = await e.iut.request('regMr', { pd: e.pd, length: MR_BYTES, access }) as { mr: string; addr: number; lkey: number; rkey: number };
        mrs.push([e, mr.mr]);
        return mr;
      },
      connect: async (accessB = ACCESS.ALL_REMOTE, link = {}, cap = DEFAULT_CAP, qpType = 'RC') => {
        const pair = await fx.connect(accessB, cap, link, false, qpType);
        qps.push([fx.a, pair.qpA], [fx.b, pair.qpB]);
        return pair;
      },
      adopt: (e, qp) => { qps.push([e, qp]); },
      silent: async (link = {}, cap = DEFAULT_CAP) => {
        const q = await fx.connectSilent(cap, link);
        qps.push([fx.a, q.qp]);
        return q;
      },
      wcs: async (e, count, ms = 3000) => {
        const wcs = await fx.poll(e, count, ms);
        for (const wc of wcs) {
          coverage.wcStatuses.add(wc.status as string);
          if (wc.status === 'SUCCESS') coverage.opcodes.add(wc.opcode as string);
        }
        return wcs;
      },
      state: async (e, qp) => {
        const state = ((await e.iut.request('queryQp', { qp })) as R).qpState as string;
        coverage.qpStates.add(state);
        return state;
      },
      events: (e, match, ms) => eventsAfter(e.iut, marks.get(e)!, match, ms),
      outcome: outcomeOf,
      read: async (e, mr, offset, length) => Buffer.from((await e.iut.request('readMr', { mr, offset, length }) as R).data as string, 'base64'),
    };
    let problems: string[];
    fx.violations.length = 0;
    try {
      problems = [...await c.run(t), ...fx.violations];
    } catch (error) {
      if (error instanceof AdapterBroken) throw error;
      problems = [`the IUT refused a step of the case: ${error instanceof Error ? error.message : String(error)}`];
    }
    record(problems.length === 0 ? { name: c.name, group, status: 'passed' } : { name: c.name, group, status: 'failed', message: failure(c.did, c.expected, problems.join('; '), c.rule) });
    // Clean-up refusals are the case's business (an MR already gone); a broken adapter is not.
    for (const [e, qp] of qps) await t.outcome(e.iut.request('destroyQp', { qp }));
    await fx.drain();
    for (const [e, mr] of mrs) await t.outcome(e.iut.request('deregMr', { mr }));
  }
  await fx.close();
}
