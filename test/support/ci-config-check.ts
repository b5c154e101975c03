import { describe, expect, it } from 'vitest';
import { checkWithTlaChecker, describeReport } from '../../src/spec/check-spec.js';

/**
 * npm run check:spec for one CI config: tla-checker checks every invariant and liveness property,
 * and its state graph must equal the TypeScript transliteration's, state for state and step for
 * step. One test file per config, so that vitest runs them side by side.
 */
export function checkCiConfig(cfg: string): void {
  describe(`spec/${cfg} under tla-checker`, () => {
    it('passes every invariant and property, and the transliteration explores the same graph', () => {
      const report = checkWithTlaChecker(cfg);
      console.log(describeReport(report));
      expect(report.problems).toEqual([]);
      expect(report.counterexample).toBeNull();
      expect(report.ok).toBe(true);
      expect(report.states).toBeGreaterThan(20_000);
      expect(report.depth).toBeGreaterThan(20);
    }, 300_000);
  });
}
