import { and, assign, emit, setup } from 'xstate';

/**
 * One completion queue. Depth is bounded by `cqe`; a completion that finds it full is an overrun:
 * the CQ raises CQ_ERR and goes to error (its QPs follow, see the QP machine's CQ_OVERRUN). Arming
 * with ibv_req_notify_cq is one-shot: the next matching completion fires one channel event.
 */
export type CompletionQueueEvent =
  | { type: 'COMPLETION'; solicited: boolean }
  | { type: 'POLL'; max: number }
  | { type: 'REQ_NOTIFY'; solicitedOnly: boolean }
  | { type: 'ATTACH_QP' }
  | { type: 'DETACH_QP' }
  | { type: 'DESTROY' };

export type Arming = 'disarmed' | 'any' | 'solicited';

export interface CompletionQueueContext {
  /** Capacity, `cq.cqe`. */
  readonly cqe: number;
  /** Completions waiting to be polled, 0..cqe. */
  readonly depth: number;
  readonly arming: Arming;
  /** QPs that use this CQ as send or receive CQ. */
  readonly attachedQps: number;
  readonly lastPolled: number;
  readonly lastError: string | null;
}

export type CompletionQueueEmitted =
  | { type: 'ASYNC_EVENT'; event: 'CQ_ERR' }
  | { type: 'COMPLETION_EVENT' };

export const completionQueueMachine = setup({
  types: {
    context: {} as CompletionQueueContext,
    events: {} as CompletionQueueEvent,
    input: {} as { cqe: number },
    emitted: {} as CompletionQueueEmitted,
  },
  guards: {
    hasRoom: ({ context }) => context.depth < context.cqe,
    notificationDue: ({ context, event }) =>
      event.type === 'COMPLETION' && (context.arming === 'any' || (context.arming === 'solicited' && event.solicited)),
    unused: ({ context }) => context.attachedQps === 0,
  },
  actions: {
    store: assign(({ context }) => ({ depth: context.depth + 1 })),
    fireChannelEvent: emit({ type: 'COMPLETION_EVENT' as const }),
    disarm: assign({ arming: 'disarmed' as Arming }),
    arm: assign(({ event }) => ({
      arming: (event.type === 'REQ_NOTIFY' && event.solicitedOnly ? 'solicited' : 'any') as Arming,
    })),
    take: assign(({ context, event }) => {
      const polled = event.type === 'POLL' ? Math.min(Math.max(0, Math.trunc(event.max)), context.depth) : 0;
      return { depth: context.depth - polled, lastPolled: polled };
    }),
    raiseCqErr: emit({ type: 'ASYNC_EVENT' as const, event: 'CQ_ERR' as const }),
    attach: assign(({ context }) => ({ attachedQps: context.attachedQps + 1 })),
    detach: assign(({ context }) => ({ attachedQps: Math.max(0, context.attachedQps - 1) })),
    refuseDestroy: assign(({ context }) => ({
      lastError: `EBUSY: ${context.attachedQps} QP(s) still use this CQ; destroy them first`,
    })),
  },
}).createMachine({
  id: 'completionQueue',
  initial: 'ok',
  context: ({ input }) => ({ cqe: input.cqe, depth: 0, arming: 'disarmed', attachedQps: 0, lastPolled: 0, lastError: null }),
  on: {
    ATTACH_QP: { actions: 'attach' },
    DETACH_QP: { actions: 'detach' },
  },
  states: {
    ok: {
      on: {
        COMPLETION: [
          { guard: and(['hasRoom', 'notificationDue']), actions: ['store', 'fireChannelEvent', 'disarm'] },
          { guard: 'hasRoom', actions: 'store' },
          { target: 'error', actions: 'raiseCqErr' },
        ],
        POLL: { actions: 'take' },
        REQ_NOTIFY: { actions: 'arm' },
        DESTROY: [{ guard: 'unused', target: 'destroyed' }, { actions: 'refuseDestroy' }],
      },
    },
    error: {
      description: 'Overrun: CQ_ERR was raised; stored completions can still be polled, no new ones are stored.',
      on: {
        POLL: { actions: 'take' },
        DESTROY: [{ guard: 'unused', target: 'destroyed' }, { actions: 'refuseDestroy' }],
      },
    },
    destroyed: { type: 'final' },
  },
});
