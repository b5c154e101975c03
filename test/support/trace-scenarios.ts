import fc from 'fast-check';
import { commandArbitrary } from '../../src/conformance/kit/sequences-suite.js';
import type { Op, Scenario } from './trace-driver.js';

/** Generated trace scenarios: the operations of both endpoints, as conform's random sequences generate them. */
export const op: fc.Arbitrary<Op> = commandArbitrary;

export const simScenario: fc.Arbitrary<Scenario> = fc.record({
  transport: fc.constant('sim' as const),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  rnrRetry: fc.integer({ min: 0, max: 3 }),
  ops: fc.array(op, { minLength: 5, maxLength: 30 }),
}).chain((s) => fc.record({
  silentPeer: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  // One run in four breaks the stream somewhere in its first few kilobytes.
  breakAfterBytes: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 3000 }) }),
}).map((extra) => ({ ...s, ...extra })));

