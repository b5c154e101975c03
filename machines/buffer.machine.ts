import { assign, setup } from 'xstate';

/**
 * Who may touch a buffer, and when. The process owns it until it is posted; from the post until
 * the consumer polls the WR's completion it belongs to the hardware, even after the NIC has filled
 * or sent it. Registration is independent of ownership but must cover the buffer while posted.
 */
export type BufferEvent =
  | { type: 'REGISTER' }
  | { type: 'DEREGISTER' }
  | { type: 'PROCESS_WRITE' }
  | { type: 'POST_SEND' }
  | { type: 'POST_RECV' }
  /** The NIC placed received data (or a READ/atomic response) into the buffer. */
  | { type: 'HW_FILLED' }
  /** The NIC has transmitted the buffer and the responder acknowledged it. */
  | { type: 'HW_SENT' }
  /** The WR ended in error or was flushed: the hardware is done, the contents are undefined. */
  | { type: 'HW_FAILED' }
  /** The consumer polled the WR's completion: ownership returns to the process. */
  | { type: 'COMPLETION_POLLED' };

export type BufferViolation =
  | 'process wrote a hardware-owned buffer'
  | 'buffer posted while already posted'
  | 'memory deregistered under a posted WR'
  | 'unregistered memory posted';

export interface BufferContext {
  /** Which work queue the buffer was last posted to. */
  readonly postedAs: 'send' | 'recv' | null;
  readonly violation: BufferViolation | null;
}

const toViolation = (violation: BufferViolation) => ({
  target: '#buffer.violation' as const,
  actions: [{ type: 'reportViolation' as const, params: { violation } }],
});

/** The illegal moves shared by every hardware-owned state. */
const hardwareOwnedMisuse = {
  PROCESS_WRITE: toViolation('process wrote a hardware-owned buffer'),
  POST_SEND: toViolation('buffer posted while already posted'),
  POST_RECV: toViolation('buffer posted while already posted'),
  DEREGISTER: toViolation('memory deregistered under a posted WR'),
};

export const bufferMachine = setup({
  types: {
    context: {} as BufferContext,
    events: {} as BufferEvent,
  },
  guards: {
    postedForSend: ({ context }) => context.postedAs === 'send',
    postedForRecv: ({ context }) => context.postedAs === 'recv',
  },
  actions: {
    markPosted: assign((_, params: { queue: 'send' | 'recv' }) => ({ postedAs: params.queue })),
    reportViolation: assign((_, params: { violation: BufferViolation }) => ({ violation: params.violation })),
  },
}).createMachine({
  id: 'buffer',
  initial: 'processOwned',
  context: { postedAs: null, violation: null },
  states: {
    processOwned: {
      description: 'Plain process memory, not registered.',
      on: {
        REGISTER: { target: 'registered' },
        PROCESS_WRITE: {},
        POST_SEND: toViolation('unregistered memory posted'),
        POST_RECV: toViolation('unregistered memory posted'),
      },
    },
    registered: {
      description: 'Registered and owned by the process: it may write, post or deregister.',
      on: {
        PROCESS_WRITE: {},
        DEREGISTER: { target: 'processOwned' },
        POST_SEND: { target: 'hardwareOwned', actions: [{ type: 'markPosted', params: { queue: 'send' } }] },
        POST_RECV: { target: 'hardwareOwned', actions: [{ type: 'markPosted', params: { queue: 'recv' } }] },
      },
    },
    hardwareOwned: {
      description: 'Posted: the NIC owns it until the completion is polled.',
      on: hardwareOwnedMisuse,
      initial: 'posted',
      states: {
        posted: {
          on: {
            HW_SENT: { guard: 'postedForSend', target: 'sent' },
            HW_FILLED: { guard: 'postedForRecv', target: 'filled' },
            HW_FAILED: { target: 'failed' },
          },
        },
        sent: { on: { COMPLETION_POLLED: { target: '#buffer.registered' } } },
        filled: { on: { COMPLETION_POLLED: { target: '#buffer.registered' } } },
        failed: { on: { COMPLETION_POLLED: { target: '#buffer.registered' } } },
      },
    },
    violation: { type: 'final', description: 'An illegal move; `violation` says which.' },
  },
});
