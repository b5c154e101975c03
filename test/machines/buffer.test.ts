import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createActor } from 'xstate';
import { bufferMachine, type BufferEvent } from '../../machines/buffer.machine.js';

function buffer(...events: BufferEvent['type'][]) {
  const actor = createActor(bufferMachine).start();
  for (const type of events) actor.send({ type } as BufferEvent);
  return actor;
}

describe('buffer ownership', () => {
  it('cycles process -> registered -> posted -> filled -> polled -> process-owned again', () => {
    const b = buffer('REGISTER', 'PROCESS_WRITE', 'POST_RECV');
    expect(b.getSnapshot().value).toEqual({ hardwareOwned: 'posted' });
    b.send({ type: 'HW_FILLED' });
    expect(b.getSnapshot().value).toEqual({ hardwareOwned: 'filled' });
    b.send({ type: 'COMPLETION_POLLED' });
    expect(b.getSnapshot().value).toBe('registered');
    b.send({ type: 'POST_SEND' });
    b.send({ type: 'HW_SENT' });
    b.send({ type: 'COMPLETION_POLLED' });
    b.send({ type: 'DEREGISTER' });
    expect(b.getSnapshot().value).toBe('processOwned');
  });

  it.each([
    [['REGISTER', 'POST_SEND', 'PROCESS_WRITE'], 'process wrote a hardware-owned buffer'],
    [['REGISTER', 'POST_RECV', 'HW_FILLED', 'PROCESS_WRITE'], 'process wrote a hardware-owned buffer'],
    [['REGISTER', 'POST_RECV', 'POST_RECV'], 'buffer posted while already posted'],
    [['REGISTER', 'POST_SEND', 'HW_SENT', 'POST_SEND'], 'buffer posted while already posted'],
    [['REGISTER', 'POST_SEND', 'DEREGISTER'], 'memory deregistered under a posted WR'],
    [['POST_SEND'], 'unregistered memory posted'],
  ] as const)('%j is an explicit violation: %s', (events, violation) => {
    const b = buffer(...events);
    expect(b.getSnapshot().value).toBe('violation');
    expect(b.getSnapshot().context.violation).toBe(violation);
  });

  it('a receive buffer cannot be "sent" nor a send buffer "filled"', () => {
    const recv = buffer('REGISTER', 'POST_RECV');
    expect(recv.getSnapshot().can({ type: 'HW_SENT' })).toBe(false);
    const send = buffer('REGISTER', 'POST_SEND');
    expect(send.getSnapshot().can({ type: 'HW_FILLED' })).toBe(false);
  });

  it('property: the process never holds a buffer the hardware owns (any event sequence)', () => {
    const event = fc.constantFrom<BufferEvent['type']>('REGISTER', 'DEREGISTER', 'PROCESS_WRITE', 'POST_SEND', 'POST_RECV', 'HW_FILLED', 'HW_SENT', 'HW_FAILED', 'COMPLETION_POLLED');
    fc.assert(fc.property(fc.array(event, { minLength: 1, maxLength: 60 }), (events) => {
      const b = createActor(bufferMachine).start();
      let hardwareOwned = false;
      for (const type of events) {
        const before = b.getSnapshot();
        if (before.status === 'done') break;
        b.send({ type } as BufferEvent);
        const after = b.getSnapshot();
        const touchesHardwareBuffer = hardwareOwned && (type === 'PROCESS_WRITE' || type === 'DEREGISTER' || type.startsWith('POST_'));
        if (touchesHardwareBuffer) expect(after.value).toBe('violation');
        if (after.value !== 'violation') hardwareOwned = after.matches('hardwareOwned');
      }
    }), { numRuns: 500 });
  });
});
