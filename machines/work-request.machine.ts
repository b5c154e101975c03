import { assign, setup } from 'xstate';

/** Work completion statuses of libibverbs' `enum ibv_wc_status` that tcpverbs produces. */
export const WC_STATUSES = [
  'SUCCESS', 'LOC_LEN_ERR', 'LOC_QP_OP_ERR', 'LOC_PROT_ERR', 'WR_FLUSH_ERR', 'REM_INV_REQ_ERR',
  'REM_ACCESS_ERR', 'REM_OP_ERR', 'RETRY_EXC_ERR', 'RNR_RETRY_EXC_ERR', 'FATAL_ERR', 'GENERAL_ERR',
] as const;
export type WcStatus = (typeof WC_STATUSES)[number];
/** The statuses a WR can end with when it is executed (a flush is its own event). */
export type ExecutionStatus = Exclude<WcStatus, 'WR_FLUSH_ERR'>;

export type WorkQueue = 'send' | 'recv';

export type WorkRequestEvent =
  /** The NIC fetched the WQE: from here the hardware owns it and its buffers. */
  | { type: 'FETCH'; olderUnfetched: number }
  /** Transmission (send queue) or placement (receive queue) began. */
  | { type: 'START' }
  /**
   * Execution ended with `status`. `olderOutstanding` counts WRs posted earlier on the same work
   * queue that have no completion yet: it must be 0, completions come in posting order.
   */
  | { type: 'COMPLETE'; status: ExecutionStatus; olderOutstanding: number }
  /** The QP is in ERR: the WR completes with WR_FLUSH_ERR, also in posting order. */
  | { type: 'FLUSH'; olderOutstanding: number }
  /** The consumer polled this WR's completion from the CQ. */
  | { type: 'POLL' }
  /** The QP was reset or destroyed before the WR completed: it vanishes without a completion. */
  | { type: 'DISCARD' };

export interface WorkRequestContext {
  readonly queue: WorkQueue;
  /** Receive WRs always complete; a send WR is signaled by IBV_SEND_SIGNALED or sq_sig_all. */
  readonly signaled: boolean;
  readonly status: WcStatus | null;
  readonly violation: string | null;
}

const inOrder = (older: number) => older === 0;

export const workRequestMachine = setup({
  types: {
    context: {} as WorkRequestContext,
    events: {} as WorkRequestEvent,
    input: {} as { queue: WorkQueue; signaled: boolean },
  },
  guards: {
    fetchedInOrder: ({ event }) => event.type === 'FETCH' && inOrder(event.olderUnfetched),
    completedInOrder: ({ event }) =>
      (event.type === 'COMPLETE' || event.type === 'FLUSH') && inOrder(event.olderOutstanding),
    // libibverbs: an unsignaled send that succeeds leaves no WC; errors always do.
    unsignaledSuccess: ({ context }) => context.status === 'SUCCESS' && !context.signaled,
  },
  actions: {
    recordStatus: assign(({ event }) => ({
      status: event.type === 'COMPLETE' ? event.status : event.type === 'FLUSH' ? ('WR_FLUSH_ERR' as const) : null,
    })),
    reportOutOfOrder: assign(({ event }) => ({
      violation: `${event.type} overtook ${'olderOutstanding' in event ? event.olderOutstanding : 'olderUnfetched' in event ? event.olderUnfetched : '?'} older WR(s) of the same work queue`,
    })),
  },
}).createMachine({
  id: 'workRequest',
  initial: 'posted',
  context: ({ input }) => ({
    queue: input.queue,
    // A receive WR always produces a completion, whatever the caller says.
    signaled: input.queue === 'recv' ? true : input.signaled,
    status: null,
    violation: null,
  }),
  states: {
    posted: {
      description: 'In the work queue; the doorbell hands it to the NIC.',
      on: {
        FETCH: [{ guard: 'fetchedInOrder', target: 'hardwareOwned' }, { target: 'violation', actions: 'reportOutOfOrder' }],
        FLUSH: [{ guard: 'completedInOrder', target: 'flushed', actions: 'recordStatus' }, { target: 'violation', actions: 'reportOutOfOrder' }],
        DISCARD: { target: 'discarded' },
      },
    },
    hardwareOwned: {
      description: 'Fetched by the NIC, not yet started (e.g. waiting in SQD, or for a FENCE).',
      on: {
        START: { target: 'inProgress' },
        FLUSH: [{ guard: 'completedInOrder', target: 'flushed', actions: 'recordStatus' }, { target: 'violation', actions: 'reportOutOfOrder' }],
        DISCARD: { target: 'discarded' },
      },
    },
    inProgress: {
      description: 'On the wire or being placed; a send waits for the responder\'s ACK.',
      on: {
        COMPLETE: [
          { guard: 'completedInOrder', target: 'completed', actions: 'recordStatus' },
          { target: 'violation', actions: 'reportOutOfOrder' },
        ],
        FLUSH: [{ guard: 'completedInOrder', target: 'flushed', actions: 'recordStatus' }, { target: 'violation', actions: 'reportOutOfOrder' }],
        DISCARD: { target: 'discarded' },
      },
    },
    completed: {
      description: 'Executed; a WC is in the CQ unless this was a successful unsignaled send.',
      always: { guard: 'unsignaledSuccess', target: 'retired' },
      on: { POLL: { target: 'polled' } },
    },
    flushed: {
      description: 'Completed with WR_FLUSH_ERR; the WC is in the CQ.',
      on: { POLL: { target: 'polled' } },
    },
    polled: { type: 'final', description: 'The consumer holds the WC; the WR and its buffers are the process\'s again.' },
    retired: { type: 'final', description: 'Successful unsignaled send: done without a WC.' },
    discarded: { type: 'final', description: 'Dropped by RESET or destroy before any completion.' },
    violation: { type: 'final', description: 'A completion or fetch out of posting order.' },
  },
});
