import type { Reporter, TestModule } from 'vitest/node';

/** How many of the slowest tests the run lists before its closing line. */
const SLOWEST_SHOWN = 10;

/**
 * Ends the run with the ten slowest tests (where the time of `npm test` goes) and then the plain
 * `N passed, N failed[, N skipped]` line that CI reads; a module that failed to load counts as a
 * failure so a broken import can never look like a green run.
 */
export default class ClosingLineReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = unhandledErrors.length;
    let skipped = 0;
    const timed: { ms: number; name: string }[] = [];
    for (const module of testModules) {
      if (module.state() === 'failed' && [...module.children.allTests()].length === 0) failed++;
      for (const test of module.children.allTests()) {
        const ms = test.diagnostic()?.duration;
        if (ms !== undefined) timed.push({ ms, name: `${module.relativeModuleId} > ${test.fullName}` });
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
    }
    const slowest = timed.sort((a, b) => b.ms - a.ms).slice(0, SLOWEST_SHOWN);
    if (slowest.length > 0) {
      process.stdout.write(`\nslowest ${slowest.length} tests:\n${slowest.map((t) => `${(t.ms / 1000).toFixed(1).padStart(7)} s  ${t.name}`).join('\n')}\n`);
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`);
  }
}
