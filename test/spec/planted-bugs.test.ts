import { describe, expect, it } from 'vitest';
import { checkWithTlaChecker, describeReport } from '../../src/spec/check-spec.js';
import { PLANTED_BUGS, PLANTED_BUG_CFG, PLANTED_LIVENESS_CFG } from '../../src/spec/planted-bugs.js';
import { readSpecText } from '../../src/spec/tla-checker.js';

const LIVENESS = new Set(['SendWrsComplete', 'ErrQueuesDrain']);

describe('planted bugs: wrong variants of the spec are caught by the property they break', () => {
  const spec = readSpecText();

  it.each(PLANTED_BUGS.map((bug) => [bug.name, bug] as const))('%s', (_name, bug) => {
    const mutant = bug.apply(spec);
    expect(mutant).not.toBe(spec);
    const report = checkWithTlaChecker(`planted: ${bug.name}`, {
      specText: mutant,
      cfgText: LIVENESS.has(bug.caughtBy) ? PLANTED_LIVENESS_CFG : PLANTED_BUG_CFG,
      compareWithModel: false,
      maxStates: 200_000,
    });
    console.log(`${bug.name} (${bug.description}):\n${describeReport(report)}`);
    expect(report.ok).toBe(false);
    expect(report.violated).toBe(bug.caughtBy);
    expect(report.counterexample).toContain(`${bug.caughtBy} is violated`);
    expect(report.counterexample).toMatch(/ 1\. Init/);
  }, 120_000);

  it('the unmutated spec passes the planted-bug config (the bugs, not the config, fail)', () => {
    const report = checkWithTlaChecker('planted: none', { cfgText: PLANTED_LIVENESS_CFG, compareWithModel: false });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
  }, 120_000);

  it('a mutation whose target the spec no longer has fails loudly instead of planting nothing', () => {
    const renamed = spec
      .replace(/^FlushSend\(e\) ==/m, 'FlushSendRenamed(e) ==')
      .replace(/^RecvAck\(e\) ==/m, 'RecvAckRenamed(e) ==')
      .replace(/^PostSend\(e\) ==/m, 'PostSendRenamed(e) ==');
    for (const bug of PLANTED_BUGS) expect(() => bug.apply(renamed)).toThrow(/planted bug/);
  });
});
