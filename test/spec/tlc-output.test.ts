import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTlcProgress, readTlcOutput } from '../../src/spec/tlc-output.js';

/** Real TLC transcripts (TLC2 2026.12.01), copied verbatim from the runs described in their README. */
const transcript = (name: string) => readFileSync(resolve(import.meta.dirname, '../fixtures/tlc', name), 'utf8');

describe('readTlcOutput on real TLC transcripts', () => {
  it('a pass with Progress lines reports the final count and depth, not the first progress count', () => {
    const report = readTlcOutput('RcVerbs_ci.cfg', transcript('rcverbs-ci-pass.txt'), 0, 23);
    expect(report).toMatchObject({ checker: 'TLC', ok: true, states: 26_366, depth: 36, violated: null, counterexample: null, problems: [] });
  });

  it('an invariant violation names the invariant and keeps the trace, without the summary after it', () => {
    const report = readTlcOutput('inv.cfg', transcript('invariant-violation.txt'), 12, 0.5);
    expect(report).toMatchObject({ ok: false, violated: 'Small', states: 4, depth: 4, problems: [] });
    const trace = report.counterexample!.split('\n');
    expect(trace[0]).toBe('Error: The behavior up to this point is:');
    expect(trace).toContain('State 4: <Next line 5, col 9 to line 5, col 24 of module Counter>');
    expect(trace[trace.length - 1]).toBe('n = 3');
    expect(report.counterexample).not.toMatch(/states generated|depth of the complete/);
  });

  it('a liveness violation names the temporal property and marks where the lasso loops back to', () => {
    const report = readTlcOutput('live.cfg', transcript('liveness-violation.txt'), 13, 0.5);
    expect(report).toMatchObject({ ok: false, violated: 'Stays', states: 4, depth: 4, problems: [] });
    const trace = report.counterexample!.split('\n');
    expect(trace[0]).toBe('Error: The following behavior constitutes a counter-example:');
    const marker = trace.findIndex((l) => l.startsWith('-- the loop starts here: from state 1 on'));
    expect(trace[marker + 1]).toBe('State 1: <Initial predicate>');
    expect(trace[trace.length - 1]).toMatch(/^Back to state 1: /);
    expect(report.counterexample).not.toMatch(/Finished checking temporal properties/);
  });

  it('a violation of two temporal properties names both', () => {
    const report = readTlcOutput('live2.cfg', transcript('liveness-two-properties.txt'), 13, 0.5);
    expect(report).toMatchObject({ ok: false, violated: 'Stays, NeverTwo', problems: [] });
    expect(report.counterexample).toContain('Back to state 1');
  });

  it('a parse error is a problem that carries SANY\'s message and where it is', () => {
    const report = readTlcOutput('broken.cfg', transcript('parse-error.txt'), 150, 0.5);
    expect(report).toMatchObject({ ok: false, states: null, depth: null, violated: null, counterexample: null });
    expect(report.problems).toEqual([
      'TLC could not parse the spec or config (exit 150 (spec parse error)): '
        + 'Encountered "====" at line 4, column 1 and token "=" | Could not parse module Broken from file Broken.tla',
    ]);
  });

  it('a run killed at its time bound fails, with the counts of its last progress line', () => {
    const firstLines = transcript('rcverbs-ci-pass.txt').split('\n').slice(0, 21).join('\n');
    const report = readTlcOutput('RcVerbs_ci.cfg', firstLines, null, 5, { timeoutSeconds: 5 });
    expect(report).toMatchObject({ ok: false, states: 1_678, depth: 10 });
    expect(report.problems.join('\n')).toMatch(/did not finish within 5 s and was killed/);
    // Even a complete transcript does not pass when the run was killed.
    expect(readTlcOutput('RcVerbs_ci.cfg', transcript('rcverbs-ci-pass.txt'), null, 5, { timeoutSeconds: 5 }).ok).toBe(false);
  });

  it('a transcript that says it passed but ends with an error code does not pass', () => {
    const report = readTlcOutput('RcVerbs_ci.cfg', transcript('rcverbs-ci-pass.txt'), 255, 23);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual(['TLC reported no error but ended with exit 255 (error)']);
  });

  it('output with no verdict is a problem quoting TLC\'s error lines', () => {
    const report = readTlcOutput('x.cfg', 'TLC2 Version 2026.12.01\nError: The constant parameter MaxPosts is not assigned a value by the configuration file.\n', 151, 0.1);
    expect(report.problems).toEqual(['TLC ended without a verdict (exit 151 (config parse error)): '
      + 'Error: The constant parameter MaxPosts is not assigned a value by the configuration file.']);
    expect(readTlcOutput('x.cfg', '', 1, 0.1).problems).toEqual(['TLC ended without a verdict (exit 1): no output']);
  });
});

describe('parseTlcProgress', () => {
  const lines = transcript('rcverbs-ci-pass.txt').split('\n');

  it('reads depth, distinct states and queue from a Progress line, with or without rates', () => {
    expect(parseTlcProgress(lines[20]!)).toEqual({ depth: 10, distinct: 1_678, queued: 668 });
    expect(parseTlcProgress(lines[21]!)).toEqual({ depth: 36, distinct: 26_366, queued: 0 });
  });

  it('ignores every other line, the final summary included', () => {
    const others = lines.filter((l) => !l.startsWith('Progress('));
    expect(others.some((l) => /distinct states found/.test(l))).toBe(true);
    expect(others.map(parseTlcProgress).filter((p) => p !== null)).toEqual([]);
  });
});
