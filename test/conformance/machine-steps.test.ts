import { describe, expect, it } from 'vitest';
import { QpAttrMask as M } from '../../machines/qp-attr-mask.js';
import { MachineSteps } from '../../src/conformance/kit/machine-steps.js';
import { INIT_MASK, RTR_MASK, RTS_MASK } from '../../src/conformance/kit/qp-attrs.js';

/** The random sequences' step-by-step check against the machines: what it accepts and what it names. */
describe('MachineSteps', () => {
  const connected = () => {
    const m = new MachineSteps();
    m.modify('A', 'INIT', INIT_MASK, true);
    m.modify('A', 'RTR', RTR_MASK, true);
    m.modify('A', 'RTS', RTS_MASK, true);
    return m;
  };

  it('follows a connection set-up, posts, a spontaneous ERR, and refusals the table makes', () => {
    const m = connected();
    m.post('A', 'send', true);
    m.post('A', 'recv', true);
    // An error may have moved the QP to ERR unasked: a refused RTS→SQD-like call is then explained.
    m.query('A', 'ERR');
    m.modify('A', 'RTS', M.STATE, false);
    m.modify('A', 'RESET', M.STATE, true);
    m.post('A', 'recv', false);
    expect(m.violation).toBeNull();
  });

  it('names the first call no machine state explains', () => {
    const m = new MachineSteps();
    m.modify('B', 'INIT', INIT_MASK, true);
    m.post('B', 'send', true);
    m.post('B', 'recv', true);
    expect(m.violation).toBe('call 2, post_send on B accepted: the QP machine allows this from none of the states B may be in (INIT)');
  });

  it('rejects a modify the kernel table refuses but the implementation accepted, and a wrong query', () => {
    const lax = connected();
    lax.modify('A', 'RTR', M.STATE, true);
    expect(lax.violation).toMatch(/^call 4, modify A to RTR \(mask 0x1\) accepted: .*\(RTS, ERR\)$/);
    const wrong = connected();
    wrong.query('A', 'SQD');
    expect(wrong.violation).toMatch(/query of A answered SQD/);
  });
});
