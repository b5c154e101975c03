import { assign, emit, setup } from 'xstate';
import { QpAttrMask } from './qp-attr-mask.js';
import { QP_STATES, QP_MODIFY_TABLE, checkModify, isQpState, type QpState } from './qp-modify-table.js';
import { QP_POST_ADMISSION, type PostVerdict } from './qp-post-admission.js';

/** The attributes the machine reads from an ibv_modify_qp call; the rest do not change the state. */
export interface QpModifyAttr {
  readonly qpState?: QpState;
  readonly curQpState?: QpState;
  readonly enSqdAsyncNotify?: boolean;
}

export type QpType = 'RC' | 'STREAM';
export type RemoteNak = 'REM_ACCESS_ERR' | 'REM_INV_REQ_ERR' | 'REM_OP_ERR';
/** A fault the local QP detected: an access violation or malformed request from the peer, or its own failure. */
export type LocalErrorKind = 'access' | 'invalid-request' | 'fatal';
export type QpAsyncEventType = 'QP_FATAL' | 'QP_REQ_ERR' | 'QP_ACCESS_ERR' | 'SQ_DRAINED';

export type QpEvent =
  | { type: 'MODIFY'; attr: QpModifyAttr; mask: number }
  | { type: 'POST_SEND' }
  | { type: 'POST_RECV' }
  /** The NIC has no send WR in flight or queued for start: SQD is drained. */
  | { type: 'SQ_EMPTY' }
  | { type: 'LOCAL_ERROR'; kind: LocalErrorKind }
  | { type: 'REMOTE_NAK'; nak: RemoteNak }
  | { type: 'CONNECTION_LOST' }
  | { type: 'CQ_OVERRUN' }
  | { type: 'RETRY_EXCEEDED'; rnr: boolean };

export type QpErrorEventType = 'LOCAL_ERROR' | 'REMOTE_NAK' | 'CONNECTION_LOST' | 'CQ_OVERRUN' | 'RETRY_EXCEEDED';

export interface QpEmitted {
  type: 'ASYNC_EVENT';
  event: QpAsyncEventType;
}

export type ModifyOutcome =
  | { readonly ok: true; readonly from: QpState; readonly to: QpState }
  | { readonly ok: false; readonly from: QpState; readonly errno: 'EINVAL'; readonly reason: string };

export interface QpContext {
  readonly qpType: QpType;
  /** EN_SQD_ASYNC_NOTIFY was requested on the way into SQD. */
  readonly sqdNotify: boolean;
  readonly lastModify: ModifyOutcome | null;
  readonly lastPost: { readonly queue: 'send' | 'recv'; readonly verdict: PostVerdict } | null;
  readonly errorCause: QpErrorEventType | null;
}

/**
 * Which error events each state reacts to by moving to ERR. RESET and ERR ignore them; INIT has no
 * connection and no WR in progress, so only the overrun of a CQ it shares can reach it. RC never
 * enters SQE, but a QP put there (kernel table) fails like one in RTS.
 */
export const QP_ERROR_EVENTS_BY_STATE: Readonly<Record<QpState, readonly QpErrorEventType[]>> = {
  RESET: [],
  INIT: ['CQ_OVERRUN'],
  RTR: ['LOCAL_ERROR', 'CONNECTION_LOST', 'CQ_OVERRUN'],
  RTS: ['LOCAL_ERROR', 'REMOTE_NAK', 'CONNECTION_LOST', 'CQ_OVERRUN', 'RETRY_EXCEEDED'],
  SQD: ['LOCAL_ERROR', 'REMOTE_NAK', 'CONNECTION_LOST', 'CQ_OVERRUN', 'RETRY_EXCEEDED'],
  SQE: ['LOCAL_ERROR', 'CONNECTION_LOST', 'CQ_OVERRUN'],
  ERR: [],
};

/** The affiliated asynchronous event each error raises (DESIGN.md §3). */
export function asyncEventForError(event: QpEvent): QpAsyncEventType {
  if (event.type === 'LOCAL_ERROR') {
    return event.kind === 'access' ? 'QP_ACCESS_ERR' : event.kind === 'invalid-request' ? 'QP_REQ_ERR' : 'QP_FATAL';
  }
  if (event.type === 'REMOTE_NAK') {
    return event.nak === 'REM_ACCESS_ERR' ? 'QP_ACCESS_ERR' : event.nak === 'REM_INV_REQ_ERR' ? 'QP_REQ_ERR' : 'QP_FATAL';
  }
  return 'QP_FATAL';
}

/** The state a MODIFY asks for: `attr.qpState` with the STATE bit, the current state without it. */
function requestedState(current: QpState, event: Extract<QpEvent, { type: 'MODIFY' }>): QpState | undefined {
  if ((event.mask & QpAttrMask.STATE) === 0) return current;
  return isQpState(event.attr.qpState) ? event.attr.qpState : undefined;
}

/**
 * The whole verdict on a MODIFY: the kernel's ib_modify_qp_is_ok() plus one rule of ours: a
 * consumer that asserts IBV_QP_CUR_STATE must assert the state the QP is in (rxe would use the
 * claim unchecked; IB spec o11-2.5 leaves it to the CI).
 */
export function judgeModify(current: QpState, event: Extract<QpEvent, { type: 'MODIFY' }>): ModifyOutcome {
  const next = requestedState(current, event);
  if (next === undefined) {
    return { ok: false, from: current, errno: 'EINVAL', reason: `attr.qpState must be one of ${QP_STATES.join(', ')} when the mask has IBV_QP_STATE` };
  }
  if ((event.mask & QpAttrMask.CUR_STATE) !== 0 && event.attr.curQpState !== current) {
    return { ok: false, from: current, errno: 'EINVAL', reason: `attr.curQpState (${String(event.attr.curQpState)}) is not the QP's state (${current})` };
  }
  const verdict = checkModify(current, next, event.mask);
  return verdict.ok ? { ok: true, from: current, to: next } : { ok: false, from: current, errno: 'EINVAL', reason: verdict.reason };
}

const qpSetup = setup({
  types: {
    context: {} as QpContext,
    events: {} as QpEvent,
    input: {} as { qpType: QpType },
    emitted: {} as QpEmitted,
  },
  guards: {
    modifyAllowed: ({ event }, params: { from: QpState; to: QpState }) => {
      if (event.type !== 'MODIFY') return false;
      const outcome = judgeModify(params.from, event);
      return outcome.ok && outcome.to === params.to;
    },
    notifyOnDrain: ({ context }) => context.sqdNotify,
  },
  actions: {
    acceptModify: assign(({ event, context }, params: { from: QpState; to: QpState }) => ({
      lastModify: { ok: true, from: params.from, to: params.to } as ModifyOutcome,
      sqdNotify: params.from === 'RTS' && params.to === 'SQD' && event.type === 'MODIFY'
        ? (event.mask & QpAttrMask.EN_SQD_ASYNC_NOTIFY) !== 0 && event.attr.enSqdAsyncNotify === true
        : context.sqdNotify,
    })),
    rejectModify: assign(({ event }, params: { from: QpState }) => ({
      lastModify: event.type === 'MODIFY' ? judgeModify(params.from, event) : null,
    })),
    recordPost: assign((_, params: { queue: 'send' | 'recv'; verdict: PostVerdict }) => ({ lastPost: params })),
    recordError: assign(({ event }) => ({ errorCause: event.type as QpErrorEventType })),
    raiseErrorEvent: emit(({ event }) => ({ type: 'ASYNC_EVENT' as const, event: asyncEventForError(event) })),
    raiseSqDrained: emit({ type: 'ASYNC_EVENT' as const, event: 'SQ_DRAINED' as const }),
    clearError: assign({ errorCause: null }),
  },
});

/** MODIFY candidates of one state: one per valid pair in table order, then the rejection. */
function modifyTransitions(from: QpState) {
  const accepted = QP_MODIFY_TABLE.filter((rule) => rule.from === from).map((rule) => ({
    guard: { type: 'modifyAllowed' as const, params: { from, to: rule.to } },
    // A self-modify changes attributes only: no exit/entry, SQD keeps its drain progress.
    ...(rule.to === from ? {} : { target: `#qp.${rule.to}` }),
    actions: [{ type: 'acceptModify' as const, params: { from, to: rule.to } }],
  }));
  return [...accepted, { actions: [{ type: 'rejectModify' as const, params: { from } }] }];
}

function postTransitions(state: QpState) {
  const admission = QP_POST_ADMISSION[state];
  return {
    POST_SEND: { actions: [{ type: 'recordPost' as const, params: { queue: 'send' as const, verdict: admission.postSend } }] },
    POST_RECV: { actions: [{ type: 'recordPost' as const, params: { queue: 'recv' as const, verdict: admission.postRecv } }] },
  };
}

function errorTransitions(state: QpState) {
  const toErr = { target: '#qp.ERR', actions: ['recordError' as const, 'raiseErrorEvent' as const] };
  return Object.fromEntries(QP_ERROR_EVENTS_BY_STATE[state].map((type) => [type, toErr]));
}

function stateNode(state: QpState) {
  return {
    meta: { postAdmission: QP_POST_ADMISSION[state] },
    on: { MODIFY: modifyTransitions(state), ...postTransitions(state), ...errorTransitions(state) },
  };
}

/**
 * The RC (and STREAM) queue pair. MODIFY follows the kernel table; error events move to ERR and
 * raise the affiliated async event; SQD drains and then raises SQ_DRAINED if it was asked for.
 */
export const qpMachine = qpSetup.createMachine({
  id: 'qp',
  initial: 'RESET',
  context: ({ input }) => ({
    qpType: input.qpType,
    sqdNotify: false,
    lastModify: null,
    lastPost: null,
    errorCause: null,
  }),
  states: {
    RESET: { ...stateNode('RESET'), entry: ['clearError'] },
    INIT: stateNode('INIT'),
    RTR: stateNode('RTR'),
    RTS: stateNode('RTS'),
    SQD: {
      ...stateNode('SQD'),
      initial: 'draining',
      states: {
        draining: {
          on: {
            SQ_EMPTY: [
              { guard: 'notifyOnDrain', target: 'drained', actions: ['raiseSqDrained'] },
              { target: 'drained' },
            ],
          },
        },
        drained: {},
      },
    },
    SQE: stateNode('SQE'),
    ERR: stateNode('ERR'),
  },
});
