import { defineConfig } from 'vitest/config';
import SlowestFirstSequencer from './test/support/slowest-first-sequencer.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    sequence: { sequencer: SlowestFirstSequencer },
    reporters: ['default', './test/support/closing-line-reporter.ts'],
  },
});
