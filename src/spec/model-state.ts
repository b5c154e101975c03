/**
 * The transliteration's state and constants (spec/RcVerbs.tla's CONSTANTS, VARIABLES and the
 * definitions before its Helpers section), and the immutable-update helpers every action uses.
 * States are plain frozen-shape objects so that stateKey can be JSON: the graph comparison with
 * tla-checker identifies states by that key, so field order and set order must be canonical.
 */
import type { QpTables } from './qp-tables.js';

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

/** What every action reads besides the state: the config's constants and the QP tables. */
export interface ModelContext {
  readonly k: SpecConstants;
  readonly tables: QpTables;
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

export type PerEp<T> = Readonly<Record<Ep, T>>;

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
export const IDLE: Nic = { started: 0, inflight: 0, rnrCount: 0, rnrWait: 0 };
/** The spec's Connected: the states in which a QP owns the socket. */
export const CONNECTED = new Set(['RTR', 'RTS', 'SQD']);

export const SPEC_VARIABLES = ['qp', 'sq', 'rq', 'cq', 'nic', 'owner', 'hist', 'net', 'conn', 'audit'] as const;

/** [m EXCEPT ![e] = v], building A before B so that key order never depends on e. */
export const set = <T extends Ep, V>(m: PerEp<V>, e: T, v: V): PerEp<V> => (e === 'A' ? { A: v, B: m.B } : { A: m.A, B: v });
export const both = <V>(v: V): PerEp<V> => ({ A: v, B: v });
export const addNum = (xs: readonly number[], add: Iterable<number>): number[] => [...new Set([...xs, ...add])].sort((a, b) => a - b);
export const addStr = (xs: readonly string[], x: string): string[] => [...new Set([...xs, x])].sort();
/** The sort order of hist.polled, so that equal sets are equal arrays. */
export const polledKey = (p: Polled) => p.id * 2 + (p.q === 'S' ? 0 : 1);

/** A state's identity: key order is fixed by construction and sets are sorted arrays. */
export function stateKey(s: SpecState): string {
  return JSON.stringify(s);
}
