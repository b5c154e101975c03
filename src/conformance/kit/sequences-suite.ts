import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { checkTrace, describeVerdict } from '../../spec/trace-check.js';
import { formatTrace, parseTrace } from '../../spec/trace.js';
import { loadQpTables } from '../../spec/qp-tables.js';
import { AdapterBroken, type AdapterClient } from './adapter-client.js';
import { failure, type CaseResult, type Coverage } from './cases.js';
import { SequenceDriver, UnknownCompletion, type Command, type Sequence } from './sequence-driver.js';
import { REPLAY_FORMAT, type ReplayFile } from './replay-file.js';

export const SEQUENCES_GROUP = 'sequences';

const RULE = 'machines/ (qp-modify-table, qp-post-admission) step by step, then spec/RcVerbs.tla: every call the application makes, and what it returns, is a step of the spec (trace checker, src/spec/trace-check.ts); every completion is for an outstanding WR';

const ep = fc.constantFrom('A' as const, 'B' as const);
/** One command of a sequence (also the simulated trace driver's operations, test/support). */
export const commandArbitrary: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('send' as const), ep, op: fc.constant('SEND' as const), tgt: fc.constant('none' as const) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('send' as const), ep, op: fc.constant('WRITE' as const), tgt: fc.constantFrom('r1' as const, 'r1' as const, 'r2' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('send' as const), ep, op: fc.constant('BADREQ' as const), tgt: fc.constant('none' as const) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('recv' as const), ep }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('poll' as const), ep, max: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 4, arbitrary: fc.constant({ k: 'run' as const }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('modify' as const), ep, to: fc.constantFrom('ERR' as const, 'RESET' as const, 'INIT' as const, 'SQD' as const, 'RTS' as const, 'invalid' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('query' as const), ep }) },
);

export const sequenceArbitrary: fc.Arbitrary<Sequence> = fc.record({
  silentPeer: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  rnrRetry: fc.integer({ min: 0, max: 3 }),
  commands: fc.array(commandArbitrary, { minLength: 5, maxLength: 60, size: 'medium' }),
});

export interface SequencesOptions {
  readonly seed: number;
  readonly runs: number;
  /** Runs exactly this sequence, once, instead of generated ones. */
  readonly replay?: ReplayFile;
  /** Where a shrunk failure is written. */
  readonly replayOut: string;
  /** The implementation's name, for the replay file. */
  readonly implementation: string;
}

type Judged = { ok: true; events: number } | { ok: false; reason: string; trace: string };

/** One sequence through both endpoints; the trace goes through NDJSON and back before it is judged. */
async function judge(iut: AdapterClient, peer: AdapterClient, sequence: Sequence, coverage: Coverage, source: string): Promise<Judged> {
  let text = '';
  let machines: string | null = null;
  try {
    const driver = await SequenceDriver.open(iut, peer, sequence, coverage, source);
    text = formatTrace(await driver.run());
    machines = driver.machines.violation;
  } catch (error) {
    if (error instanceof AdapterBroken) throw error;
    const reason = error instanceof UnknownCompletion ? error.message : `the IUT refused a step: ${error instanceof Error ? error.message : String(error)}`;
    return { ok: false, reason, trace: text };
  }
  if (machines !== null) return { ok: false, reason: `the machines: ${machines}`, trace: text };
  const verdict = checkTrace(parseTrace(text), loadQpTables());
  return verdict.ok ? { ok: true, events: verdict.replayed } : { ok: false, reason: describeVerdict(verdict, source), trace: text };
}

const describe = (s: Sequence) => `${s.commands.length} commands, rnrRetry ${s.rnrRetry}${s.silentPeer ? ', silent peer' : ''}`;

/**
 * Random command sequences across both endpoints (fast-check, seeded), each checked step by step
 * against the machines, recorded as the project's NDJSON trace and replayed against the spec by
 * the trace checker. A failure shrinks to
 * a minimal sequence, written as a replay file that `--replay FILE` runs again, exactly.
 */
export async function runSequencesSuite(iut: AdapterClient, peer: AdapterClient, options: SequencesOptions, coverage: Coverage, record: (result: CaseResult) => void): Promise<void> {
  if (options.replay !== undefined) {
    const judged = await judge(iut, peer, options.replay.sequence, coverage, `replay of seed ${options.replay.seed}`);
    const name = `replay (${describe(options.replay.sequence)})`;
    record(judged.ok ? { name, group: SEQUENCES_GROUP, status: 'passed' } : { name, group: SEQUENCES_GROUP, status: 'failed', message: failure(`the replayed sequence (${describe(options.replay.sequence)})`, 'a spec behaviour', judged.reason, RULE) });
    return;
  }
  let runs = 0;
  let failing = false;
  let broken: AdapterBroken | null = null;
  let last: { sequence: Sequence; judged: Judged & { ok: false } } | null = null;
  const details = await fc.check(fc.asyncProperty(sequenceArbitrary, async (sequence) => {
    if (broken !== null) throw broken;
    let judged: Judged;
    try {
      judged = await judge(iut, peer, sequence, coverage, `conform seed ${options.seed}`);
    } catch (error) {
      if (error instanceof AdapterBroken) broken = error;
      throw error;
    }
    if (!failing) runs++;
    if (judged.ok) {
      if (!failing) record({ name: `sequence ${runs} (${describe(sequence)})`, group: SEQUENCES_GROUP, status: 'passed' });
      return true;
    }
    failing = true;
    last = { sequence, judged };
    return false;
  }), { seed: options.seed, numRuns: options.runs });
  if (broken !== null) throw broken;
  if (!details.failed || last === null) return;
  const { sequence, judged } = last as { sequence: Sequence; judged: Judged & { ok: false } };
  const replay: ReplayFile = { format: REPLAY_FORMAT, version: 1, implementation: options.implementation, seed: options.seed, sequence, failure: judged.reason, trace: judged.trace };
  const path = resolve(options.replayOut);
  writeFileSync(path, `${JSON.stringify(replay, null, 2)}\n`);
  record({
    name: `sequence ${runs} (shrunk to ${describe(sequence)})`, group: SEQUENCES_GROUP, status: 'failed',
    message: failure(`random sequence ${runs} of seed ${options.seed}, shrunk in ${details.numShrinks} steps to ${describe(sequence)}; replay: --replay ${path}`, 'a spec behaviour', judged.reason, RULE),
  });
}
