/**
 * Traces of the implementation as the application sees it, in the spec's vocabulary: one NDJSON
 * line per verbs call (post, poll, modify, query) on endpoint "A" or "B". The trace checker
 * (trace-check.ts) replays them against spec/RcVerbs.tla; everything the NIC and the network do
 * between two calls is left for the spec to explain.
 *
 * A trace is input from outside: every line is validated before it is used.
 */
import type { SpecConstants } from './model.js';

export type TraceEp = 'A' | 'B';
export type TraceQueue = 'S' | 'R';

export interface TraceHeader {
  readonly t: 'header';
  readonly version: 1;
  /** What produced the trace (transport, seed, scenario): for the person reading a failure. */
  readonly source: string;
  readonly constants: SpecConstants;
}

export type TraceEvent =
  | { readonly t: 'modify'; readonly ep: TraceEp; readonly to: string; readonly ok: boolean }
  | { readonly t: 'post_send'; readonly ep: TraceEp; readonly wr: string; readonly op: string; readonly buf: string; readonly tgt: string; readonly ok: boolean }
  | { readonly t: 'post_recv'; readonly ep: TraceEp; readonly wr: string; readonly buf: string; readonly ok: boolean }
  | { readonly t: 'poll'; readonly ep: TraceEp; readonly max: number; readonly wcs: readonly { readonly wr: string; readonly q: TraceQueue; readonly st: string }[] }
  | { readonly t: 'state'; readonly ep: TraceEp; readonly qp: string };

export interface Trace {
  readonly header: TraceHeader;
  readonly events: readonly TraceEvent[];
}

/** Limits on what a trace may hold: the checker's search is sized by them. */
export const TRACE_LIMITS = { maxEvents: 10_000, maxPostsPerEp: 9, maxPoll: 1024 } as const;

const QP_STATES = new Set(['RESET', 'INIT', 'RTR', 'RTS', 'SQD', 'SQE', 'ERR']);
const SEND_OPS = new Set(['SEND', 'WRITE', 'BADREQ']);

class TraceError extends Error {}

function fail(line: number, what: string): never {
  throw new TraceError(`trace line ${line}: ${what}`);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function field<T>(line: number, o: Record<string, unknown>, name: string, ok: (v: unknown) => v is T, allowed: string): T {
  const v = o[name];
  if (!ok(v)) fail(line, `field "${name}" is ${JSON.stringify(v)}; allowed: ${allowed}`);
  return v;
}

const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 64;
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const isEp = (v: unknown): v is TraceEp => v === 'A' || v === 'B';
const isState = (v: unknown): v is string => typeof v === 'string' && QP_STATES.has(v);
const isStrs = (v: unknown): v is string[] => Array.isArray(v) && v.length <= 16 && v.every(isStr);

function parseHeader(o: Record<string, unknown>): TraceHeader {
  if (o.t !== 'header') fail(1, `the first line must be the header ({"t":"header",...}), got t=${JSON.stringify(o.t)}`);
  if (o.version !== 1) fail(1, `version ${JSON.stringify(o.version)} is not supported; allowed: 1`);
  const k = field(1, o, 'constants', isObj, 'an object with MaxPosts, Buffers, SendOps, Regions, RemoteWritable, RnrRetry, AllowBreak');
  const maxPosts = field(1, k, 'MaxPosts', (v): v is number => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= TRACE_LIMITS.maxPostsPerEp, `an integer in 1..${TRACE_LIMITS.maxPostsPerEp}`);
  const sendOps = field(1, k, 'SendOps', isStrs, 'a list of "SEND", "WRITE", "BADREQ"');
  if (!sendOps.every((op) => SEND_OPS.has(op))) fail(1, `SendOps ${JSON.stringify(sendOps)}: allowed "SEND", "WRITE", "BADREQ"`);
  const regions = field(1, k, 'Regions', isStrs, 'a list of region names');
  const writable = field(1, k, 'RemoteWritable', isStrs, 'a list of region names');
  if (!writable.every((r) => regions.includes(r))) fail(1, 'RemoteWritable must be a subset of Regions');
  const constants: SpecConstants = {
    MaxPosts: maxPosts,
    Buffers: [...field(1, k, 'Buffers', isStrs, 'a list of 1..16 buffer names')].sort(),
    SendOps: [...sendOps].sort(),
    Regions: [...regions].sort(),
    RemoteWritable: [...writable].sort(),
    RnrRetry: field(1, k, 'RnrRetry', (v): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 6, 'an integer in 0..6 (7, retry forever, is not modelled)'),
    AllowBreak: field(1, k, 'AllowBreak', isBool, 'true or false'),
  };
  if (constants.Buffers.length === 0) fail(1, 'Buffers must name at least one buffer');
  return { t: 'header', version: 1, source: field(1, o, 'source', (v): v is string => typeof v === 'string' && v.length <= 1000, 'a string of at most 1000 characters'), constants };
}

function parseEvent(line: number, o: Record<string, unknown>, k: SpecConstants): TraceEvent {
  const ep = field(line, o, 'ep', isEp, '"A" or "B"');
  const buf = () => field(line, o, 'buf', (v): v is string => isStr(v) && k.Buffers.includes(v), `one of the header's Buffers ${JSON.stringify(k.Buffers)}`);
  switch (o.t) {
    case 'modify':
      return { t: 'modify', ep, to: field(line, o, 'to', isState, 'a QP state RESET..ERR'), ok: field(line, o, 'ok', isBool, 'true or false') };
    case 'post_send': {
      const op = field(line, o, 'op', (v): v is string => isStr(v) && k.SendOps.includes(v), `one of the header's SendOps ${JSON.stringify(k.SendOps)}`);
      const targets = op === 'WRITE' ? k.Regions : ['none'];
      const tgt = field(line, o, 'tgt', (v): v is string => isStr(v) && targets.includes(v), `${op === 'WRITE' ? 'one of the header\'s Regions' : '"none"'} for ${op}`);
      return { t: 'post_send', ep, wr: field(line, o, 'wr', isStr, 'a work request id (string)'), op, buf: buf(), tgt, ok: field(line, o, 'ok', isBool, 'true or false') };
    }
    case 'post_recv':
      return { t: 'post_recv', ep, wr: field(line, o, 'wr', isStr, 'a work request id (string)'), buf: buf(), ok: field(line, o, 'ok', isBool, 'true or false') };
    case 'poll': {
      const max = field(line, o, 'max', (v): v is number => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= TRACE_LIMITS.maxPoll, `an integer in 1..${TRACE_LIMITS.maxPoll}`);
      const wcs = field(line, o, 'wcs', (v): v is unknown[] => Array.isArray(v) && v.length <= max, `a list of at most max=${max} completions`);
      return {
        t: 'poll', ep, max,
        wcs: wcs.map((wc) => {
          if (!isObj(wc)) fail(line, `a completion is ${JSON.stringify(wc)}; allowed: {"wr","q","st"}`);
          return {
            wr: field(line, wc, 'wr', isStr, 'a work request id (string)'),
            q: field(line, wc, 'q', (v): v is TraceQueue => v === 'S' || v === 'R', '"S" or "R"'),
            st: field(line, wc, 'st', isStr, 'a completion status'),
          };
        }),
      };
    }
    case 'state':
      return { t: 'state', ep, qp: field(line, o, 'qp', isState, 'a QP state RESET..ERR') };
    default:
      return fail(line, `event type t=${JSON.stringify(o.t)}; allowed: modify, post_send, post_recv, poll, state`);
  }
}

/** Reads an NDJSON trace; throws with the line and what was wrong on anything malformed. */
export function parseTrace(text: string): Trace {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) fail(1, 'the trace is empty; it must start with a header line');
  if (lines.length > TRACE_LIMITS.maxEvents + 1) fail(TRACE_LIMITS.maxEvents + 2, `a trace holds at most ${TRACE_LIMITS.maxEvents} events`);
  const json = lines.map((l, i) => {
    let v: unknown;
    try { v = JSON.parse(l); } catch { fail(i + 1, 'is not JSON'); }
    if (!isObj(v)) fail(i + 1, 'is not a JSON object');
    return v;
  });
  const header = parseHeader(json[0]!);
  return { header, events: json.slice(1).map((o, i) => parseEvent(i + 2, o, header.constants)) };
}

export function formatTrace(trace: Trace): string {
  return [trace.header, ...trace.events].map((x) => JSON.stringify(x)).join('\n') + '\n';
}

/** Collects a trace while a driver calls the verbs API; MaxPosts is set from what was posted. */
export class TraceRecorder {
  readonly events: TraceEvent[] = [];
  private readonly posted: Record<TraceEp, number> = { A: 0, B: 0 };

  constructor(private readonly source: string, private readonly constants: Omit<SpecConstants, 'MaxPosts'>) {}

  record(event: TraceEvent): void {
    if (this.events.length >= TRACE_LIMITS.maxEvents) throw new Error(`trace recorder: more than ${TRACE_LIMITS.maxEvents} events`);
    if ((event.t === 'post_send' || event.t === 'post_recv') && event.ok) this.posted[event.ep]++;
    this.events.push(event);
  }

  /** Accepted posts so far on ep (the spec numbers them 1..MaxPosts). */
  postsOn(ep: TraceEp): number {
    return this.posted[ep];
  }

  trace(): Trace {
    const maxPosts = Math.max(1, this.posted.A, this.posted.B);
    return { header: { t: 'header', version: 1, source: this.source, constants: { ...this.constants, MaxPosts: maxPosts } }, events: this.events };
  }
}
