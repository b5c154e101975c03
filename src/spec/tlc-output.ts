/**
 * TLC's console output read as a ConfigReport. Written against real transcripts
 * (test/fixtures/tlc/, TLC2 2026.12): TLC prints counts in `Progress(...)` lines while it runs and
 * once more, final, just before `The depth of the complete state graph search is D.`, so every
 * count is taken from the last line that has one.
 */
import type { ConfigReport } from './config-report.js';

/** TLC's exit codes (tlc2.output.EC.ExitStatus), for messages that say more than a number. */
const EXIT_MEANING: Readonly<Record<number, string>> = {
  10: 'an assumption is false',
  11: 'deadlock',
  12: 'safety violation',
  13: 'liveness violation',
  14: 'assertion failed',
  75: 'TLC could not start',
  150: 'spec parse error',
  151: 'config parse error',
  152: 'state space too large',
  153: 'system error',
  255: 'error',
};

const exitText = (code: number | null) =>
  code === null ? 'no exit code (killed)' : `exit ${code}${EXIT_MEANING[code] === undefined ? '' : ` (${EXIT_MEANING[code]})`}`;

const toNumber = (digits: string) => Number(digits.replace(/,/g, ''));

/** The last capture of `re` (global) in `text`, as a number. */
function lastNumber(text: string, re: RegExp): number | null {
  let found: string | null = null;
  for (const m of text.matchAll(re)) found = m[1]!;
  return found === null ? null : toNumber(found);
}

/** One `Progress(D) at T: X states generated, Y distinct states found, Z states left on queue.` line. */
export interface TlcProgress {
  readonly depth: number;
  readonly distinct: number;
  readonly queued: number;
}

export function parseTlcProgress(line: string): TlcProgress | null {
  // The timestamp has colons and the counts have commas: lazy matches, anchored on the words.
  const m = /^Progress\(([\d,]+)\) at .*?: [\d,]+ states generated.*?, ([\d,]+) distinct states found.*?, ([\d,]+) states left on queue/
    .exec(line.trim());
  return m === null ? null : { depth: toNumber(m[1]!), distinct: toNumber(m[2]!), queued: toNumber(m[3]!) };
}

/** What SANY said when the spec or the config does not parse, one `|`-separated sentence. */
function parseErrorMessage(output: string): string | null {
  const start = output.search(/^\*\*\*Parse Error\*\*\*|^\*\*\* Errors: \d+|^Semantic errors:/m);
  if (start < 0 && !/Parsing or semantic analysis failed/.test(output)) return null;
  const body = start < 0 ? '' : output.slice(start).split(/^Starting\.\.\.|^Error: Parsing or semantic analysis failed/m)[0]!;
  // Keep what names the error and its place; drop SANY's headings and its parser stack.
  const noise = /^(\*\*\*Parse Error\*\*\*|\*\*\* Errors: \d+|Semantic errors:|Residual stack trace follows:|.* starting at line \d+, column \d+\.|In module \w+|Fatal errors while parsing .*)$/;
  const lines = [...new Set(body.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !noise.test(l)))];
  return lines.length > 0 ? lines.join(' | ') : 'parsing or semantic analysis failed (no message)';
}

/**
 * The counterexample TLC printed, from its "Error: The behavior ..." line to the summary after it.
 * A lasso's loop is marked: TLC ends it with "Back to state N" (the state the loop starts at) or
 * with "State N: Stuttering" (the behaviour stays in state N-1 for ever).
 */
function counterexampleText(output: string): string | null {
  const lines = output.split('\n');
  const from = lines.findIndex((l) => /^Error: The behavior up to this point is:|^Error: The following behavior constitutes a counter-example:/.test(l));
  if (from < 0) return null;
  const end = lines.findIndex((l, i) => i > from && /^(Finished checking temporal properties|[\d,]+ states generated|The depth of the complete|Finished in |Progress\()/.test(l));
  const trace = lines.slice(from, end < 0 ? lines.length : end);
  while (trace.length > 0 && trace[trace.length - 1]!.trim() === '') trace.pop();
  const back = trace.map((l) => /^Back to state (\d+)/.exec(l)?.[1]).find((n) => n !== undefined);
  if (back !== undefined) {
    const at = trace.findIndex((l) => l.startsWith(`State ${back}:`));
    if (at >= 0) trace.splice(at, 0, `-- the loop starts here: from state ${back} on, the behaviour repeats for ever --`);
  }
  const stutter = trace.map((l) => /^State (\d+): Stuttering/.exec(l)?.[1]).find((n) => n !== undefined);
  if (stutter !== undefined) trace.push(`-- from state ${Number(stutter) - 1} on, nothing changes for ever (stuttering) --`);
  return trace.join('\n');
}

/** The property names in "Temporal property X was violated." / "Temporal properties A and B were violated.". */
function temporalViolation(output: string): string | null {
  const named = /^Error: Temporal propert(?:y|ies) (.+?) (?:was|were) violated\./m.exec(output);
  if (named !== null) return named[1]!.split(/\s*,\s*|\s+and\s+/).filter((n) => n !== '').join(', ');
  // Older TLC versions do not name the property.
  return /Temporal properties were violated/.test(output) ? 'a temporal property' : null;
}

export interface TlcRunFacts {
  /** Set when the run was killed for taking longer than this many seconds. */
  readonly timeoutSeconds?: number;
}

/** What TLC printed, in the report's terms. */
export function readTlcOutput(config: string, output: string, exitCode: number | null, seconds: number, facts: TlcRunFacts = {}): ConfigReport {
  const states = lastNumber(output, /([\d,]+) distinct states found/g);
  const depth = lastNumber(output, /The depth of the complete state graph search is ([\d,]+)\./g)
    ?? lastNumber(output, /^Progress\(([\d,]+)\)/gm);
  const violated = /Invariant (\w+) is violated/.exec(output)?.[1]
    ?? temporalViolation(output)
    ?? /Action property (\w+) is violated/.exec(output)?.[1]
    ?? (/^Error: Deadlock reached\./m.test(output) ? 'deadlock' : null);
  const completed = /Model checking completed\. No error has been found\./.test(output);
  const passed = completed && exitCode === 0 && facts.timeoutSeconds === undefined;
  const problems: string[] = [];
  const parseError = parseErrorMessage(output);
  if (facts.timeoutSeconds !== undefined) {
    problems.push(`TLC did not finish within ${facts.timeoutSeconds} s and was killed (raise TLC_TIMEOUT to wait longer); `
      + `the states and depth shown are from its last progress report`);
  } else if (parseError !== null) {
    problems.push(`TLC could not parse the spec or config (${exitText(exitCode)}): ${parseError}`);
  } else if (completed && exitCode !== 0) {
    problems.push(`TLC reported no error but ended with ${exitText(exitCode)}`);
  } else if (!completed && violated === null) {
    const errors = output.split('\n').filter((l) => /^Error:|Exception|^\*\*\*/.test(l)).slice(0, 5).map((l) => l.trim());
    problems.push(`TLC ended without a verdict (${exitText(exitCode)}): ${errors.join(' | ') || (output.trim() === '' ? 'no output' : 'no error line')}`);
  }
  return {
    config,
    checker: 'TLC',
    ok: passed,
    states,
    depth,
    seconds,
    violated,
    counterexample: counterexampleText(output),
    problems,
  };
}
