import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkTrace, describeVerdict, tlaCheckerStepper } from '../../src/spec/trace-check.js';
import { formatTrace, parseTrace } from '../../src/spec/trace.js';
import { loadQpTables } from '../../src/spec/qp-tables.js';
import { TraceDriver, type Op, type Scenario } from '../support/trace-driver.js';
import { simScenario } from '../support/trace-scenarios.js';

/**
 * Trace validation: runs of the reference implementation (simulated stream and real loopback TCP)
 * are recorded as NDJSON traces, written to disk, read back and replayed against the spec. Every
 * call the application made must be a step the spec can take.
 */
const TRACE_DIR = mkdtempSync(join(tmpdir(), 'tcpverbs-traces-'));
const tables = loadQpTables();
let written = 0;

/**
 * Every trace is replayed through the spec's transliteration; `throughChecker` traces also through
 * the spec text itself (tla-checker's explore API, ~20 ms a step), which must agree step for step.
 */
async function recordAndCheck(scenario: Scenario, throughChecker: boolean): Promise<string> {
  const trace = await (await TraceDriver.create(scenario)).runScenario();
  const file = join(TRACE_DIR, `trace-${String(++written).padStart(4, '0')}.ndjson`);
  writeFileSync(file, formatTrace(trace));
  const replayed = parseTrace(readFileSync(file, 'utf8'));
  const verdict = checkTrace(replayed, tables);
  const text = describeVerdict(verdict, `${file} (${trace.header.source})`);
  expect(verdict.ok, text).toBe(true);
  if (throughChecker) {
    const bySpec = checkTrace(replayed, tables, (model) => tlaCheckerStepper(model));
    expect(bySpec, `tla-checker on ${file}`).toEqual(verdict);
    checkedBySpec++;
  }
  return text;
}
let checkedBySpec = 0;

/**
 * Every trace goes through the transliteration (~10 ms each); one simulated trace in this many,
 * and every other TCP trace, also through tla-checker's explore API, which parses the spec again
 * for every step (~7 s a trace): 8 of the 125, the costliest minute and a half of `npm test`.
 */
const THROUGH_CHECKER_EVERY = 24;

describe('trace validation: implementation runs replayed against spec/RcVerbs.tla', () => {
  it('120 generated runs on the simulated stream (chunking, delays, breaks, silent peer, RNR) are all spec behaviours', async () => {
    const verdicts: string[] = [];
    await fc.assert(fc.asyncProperty(simScenario, async (scenario) => {
      verdicts.push(await recordAndCheck(scenario, verdicts.length % THROUGH_CHECKER_EVERY === 0));
    }), { numRuns: 120, seed: Number(process.env.TRACE_SEED ?? 20261201) });
    console.log(`${verdicts.length} traces validated (${checkedBySpec} also through tla-checker), written to ${TRACE_DIR}; e.g.\n  ${verdicts.slice(0, 3).join('\n  ')}`);
    expect(readdirSync(TRACE_DIR).length).toBeGreaterThanOrEqual(100);
  }, 900_000);

  it('runs over real loopback TCP are spec behaviours too', async () => {
    const scenarios: Op[][] = [
      [{ k: 'recv', ep: 'B' }, { k: 'send', ep: 'A', op: 'SEND', tgt: 'none' }, { k: 'send', ep: 'A', op: 'WRITE', tgt: 'r1' }, { k: 'run' }, { k: 'poll', ep: 'A', max: 4 }, { k: 'poll', ep: 'B', max: 4 }],
      [{ k: 'send', ep: 'A', op: 'SEND', tgt: 'none' }, { k: 'run' }, { k: 'recv', ep: 'B' }, { k: 'run' }, { k: 'poll', ep: 'A', max: 4 }],
      [{ k: 'send', ep: 'B', op: 'WRITE', tgt: 'r2' }, { k: 'send', ep: 'B', op: 'SEND', tgt: 'none' }, { k: 'recv', ep: 'A' }, { k: 'run' }, { k: 'query', ep: 'A' }],
      [{ k: 'send', ep: 'A', op: 'BADREQ', tgt: 'none' }, { k: 'recv', ep: 'A' }, { k: 'run' }, { k: 'query', ep: 'B' }],
      [{ k: 'recv', ep: 'A' }, { k: 'modify', ep: 'A', to: 'ERR' }, { k: 'send', ep: 'A', op: 'SEND', tgt: 'none' }, { k: 'run' }, { k: 'modify', ep: 'B', to: 'RESET' }],
    ];
    for (const [i, ops] of scenarios.entries()) {
      await recordAndCheck({ transport: 'tcp', seed: i, silentPeer: false, rnrRetry: i % 3, ops }, i % 2 === 0);
    }
  }, 120_000);
});

describe('trace validation can fail: a trace the implementation did not produce is rejected at its first wrong step', () => {
  const base = async () => (await TraceDriver.create({
    transport: 'sim', seed: 11, silentPeer: false, rnrRetry: 1,
    ops: [{ k: 'recv', ep: 'B' }, { k: 'recv', ep: 'B' }, { k: 'send', ep: 'A', op: 'SEND', tgt: 'none' }, { k: 'send', ep: 'A', op: 'SEND', tgt: 'none' }, { k: 'run' }],
  })).runScenario();

  it('the recorded trace passes, through the transliteration and through tla-checker', async () => {
    const trace = await base();
    expect(checkTrace(trace, tables).ok).toBe(true);
    expect(checkTrace(trace, tables, (model) => tlaCheckerStepper(model)).ok).toBe(true);
  });

  it('completions swapped, a status changed, a refused post admitted, a state misreported: each fails where it happens', async () => {
    const trace = await base();
    const pollA = trace.events.findIndex((e) => e.t === 'poll' && e.ep === 'A' && e.wcs.length === 2);
    expect(pollA).toBeGreaterThan(0);
    const poll = trace.events[pollA] as Extract<(typeof trace.events)[number], { t: 'poll' }>;
    const variants: [string, typeof trace.events, RegExp][] = [
      ['completions out of posting order', trace.events.map((e, i) => (i === pollA ? { ...poll, wcs: [poll.wcs[1]!, poll.wcs[0]!] } : e)), /not what the spec's CQ can hold next/],
      ['a SUCCESS reported as RNR_RETRY_EXC_ERR', trace.events.map((e, i) => (i === pollA ? { ...poll, wcs: [{ ...poll.wcs[0]!, st: 'RNR_RETRY_EXC_ERR' }, poll.wcs[1]!] } : e)), /not what the spec's CQ can hold next/],
      ['post_send admitted in RTR', [...trace.events.slice(0, 3), { t: 'post_send', ep: 'A', wr: '99', op: 'SEND', buf: 'b3', tgt: 'none', ok: true }, ...trace.events.slice(3)] as typeof trace.events, /cannot accept this post_send on A/],
      ['a QP reported in ERR that cannot be', [...trace.events.slice(0, 6), { t: 'state', ep: 'B', qp: 'ERR' }, ...trace.events.slice(6)] as typeof trace.events, /QP B is in ERR, the spec's cannot be/],
    ];
    for (const [what, events, reason] of variants) {
      const verdict = checkTrace({ header: trace.header, events }, tables);
      expect(verdict.ok, what).toBe(false);
      expect(verdict.failure?.reason, what).toMatch(reason);
      // The spec text itself rejects the same step for the same reason.
      expect(checkTrace({ header: trace.header, events }, tables, (model) => tlaCheckerStepper(model)), what).toEqual(verdict);
    }
  });

  it('malformed trace lines are refused with the line and what is allowed', () => {
    const header = '{"t":"header","version":1,"source":"x","constants":{"MaxPosts":2,"Buffers":["b1"],"SendOps":["SEND"],"Regions":["r1"],"RemoteWritable":["r1"],"RnrRetry":1,"AllowBreak":false}}';
    expect(() => parseTrace('')).toThrow(/empty/);
    expect(() => parseTrace('not json')).toThrow(/line 1: is not JSON/);
    expect(() => parseTrace(header.replace('"RnrRetry":1', '"RnrRetry":7'))).toThrow(/RnrRetry.*0\.\.6/);
    expect(() => parseTrace(`${header}\n{"t":"post_send","ep":"C","wr":"1","op":"SEND","buf":"b1","tgt":"none","ok":true}`)).toThrow(/line 2: field "ep" is "C"; allowed: "A" or "B"/);
    expect(() => parseTrace(`${header}\n{"t":"post_recv","ep":"A","wr":"1","buf":"b9","ok":true}`)).toThrow(/line 2: field "buf".*Buffers/);
    expect(() => parseTrace(`${header}\n{"t":"poll","ep":"A","max":1,"wcs":[{"wr":"1","q":"S","st":"SUCCESS"},{"wr":"2","q":"S","st":"SUCCESS"}]}`)).toThrow(/at most max=1/);
    expect(() => parseTrace(`${header}\n{"t":"teleport","ep":"A"}`)).toThrow(/event type t="teleport"; allowed/);
  });
});
