import fc from 'fast-check';
import type { Op, Scenario } from './trace-driver.js';

/** Generated trace scenarios: the operations of both endpoints on the simulated stream. */
const ep = fc.constantFrom('A' as const, 'B' as const);
export const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('send' as const), ep, op: fc.constant('SEND' as const), tgt: fc.constant('none' as const) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('send' as const), ep, op: fc.constant('WRITE' as const), tgt: fc.constantFrom('r1' as const, 'r1' as const, 'r2' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('send' as const), ep, op: fc.constant('BADREQ' as const), tgt: fc.constant('none' as const) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('recv' as const), ep }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('poll' as const), ep, max: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 4, arbitrary: fc.constant({ k: 'run' as const }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('modify' as const), ep, to: fc.constantFrom('ERR' as const, 'RESET' as const, 'INIT' as const, 'SQD' as const, 'RTS' as const, 'invalid' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('query' as const), ep }) },
);

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

