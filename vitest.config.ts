import { defineConfig } from 'vitest/config';
import SlowestFirstSequencer from './test/support/slowest-first-sequencer.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // vitest's default on 2 cores is one worker; the long spec files need both cores.
    maxWorkers: 2,
    sequence: { sequencer: SlowestFirstSequencer },
    reporters: ['default', './test/support/closing-line-reporter.ts'],
  },
});
