import type { AnyMachineSnapshot, AnyStateMachine, EventObject } from 'xstate';
import { bufferMachine, type BufferEvent } from './buffer.machine.js';
import { completionQueueMachine, type CompletionQueueEvent } from './completion-queue.machine.js';
import { MrAccess, memoryRegionMachine, type MemoryRegionEvent } from './memory-region.machine.js';
import { QpAttrMask } from './qp-attr-mask.js';
import { QP_MODIFY_TABLE, type QpState } from './qp-modify-table.js';
import { qpMachine, type QpEvent } from './qp.machine.js';
import { workRequestMachine, type WorkRequestEvent } from './work-request.machine.js';

/**
 * Where exploration of a machine starts. Most start at the initial state; a state that no
 * transition enters (RC's SQE) is explored from a snapshot resolved into it, and says why.
 */
export interface ExplorationStart {
  readonly label: string;
  readonly input: unknown;
  /** Resolve the start snapshot into this state value instead of the initial one. */
  readonly resolveInto?: string;
  readonly why?: string;
}

/**
 * A machine with the finite event alphabet used to generate its test paths and diagrams. The
 * alphabet holds, for every transition, at least one event that takes it.
 */
export interface CatalogEntry<TEvent extends EventObject = EventObject> {
  readonly name: string;
  readonly title: string;
  readonly machine: AnyStateMachine;
  readonly starts: readonly ExplorationStart[];
  readonly events: (snapshot: AnyMachineSnapshot) => readonly TEvent[];
  /** What makes two snapshots the same vertex of the exploration graph. */
  readonly serialize: (snapshot: AnyMachineSnapshot) => string;
}

/** A MODIFY to `to` with exactly the required attributes (the smallest valid call). */
function minimalModify(from: QpState, to: QpState, extra = 0): QpEvent {
  const rule = QP_MODIFY_TABLE.find((r) => r.from === from && r.to === to);
  if (rule === undefined) throw new Error(`catalog: no rule ${from} -> ${to}`);
  const stateBit = from === to ? 0 : QpAttrMask.STATE;
  return { type: 'MODIFY', attr: { qpState: to, enSqdAsyncNotify: true }, mask: stateBit | rule.required | extra };
}

const qpEvents: readonly QpEvent[] = [
  ...QP_MODIFY_TABLE.map((rule) => minimalModify(rule.from, rule.to)),
  minimalModify('RTS', 'SQD', QpAttrMask.EN_SQD_ASYNC_NOTIFY),
  // Never valid: no pair leads into SQE.
  { type: 'MODIFY', attr: { qpState: 'SQE' }, mask: QpAttrMask.STATE },
  { type: 'POST_SEND' },
  { type: 'POST_RECV' },
  { type: 'SQ_EMPTY' },
  { type: 'LOCAL_ERROR', kind: 'access' },
  { type: 'LOCAL_ERROR', kind: 'invalid-request' },
  { type: 'LOCAL_ERROR', kind: 'fatal' },
  { type: 'REMOTE_NAK', nak: 'REM_ACCESS_ERR' },
  { type: 'REMOTE_NAK', nak: 'REM_INV_REQ_ERR' },
  { type: 'REMOTE_NAK', nak: 'REM_OP_ERR' },
  { type: 'CONNECTION_LOST' },
  { type: 'CQ_OVERRUN' },
  { type: 'RETRY_EXCEEDED', rnr: false },
  { type: 'RETRY_EXCEEDED', rnr: true },
];

const workRequestEvents: readonly WorkRequestEvent[] = [
  { type: 'FETCH', olderUnfetched: 0 },
  { type: 'FETCH', olderUnfetched: 1 },
  { type: 'START' },
  { type: 'COMPLETE', status: 'SUCCESS', olderOutstanding: 0 },
  { type: 'COMPLETE', status: 'REM_ACCESS_ERR', olderOutstanding: 0 },
  { type: 'COMPLETE', status: 'SUCCESS', olderOutstanding: 1 },
  { type: 'FLUSH', olderOutstanding: 0 },
  { type: 'FLUSH', olderOutstanding: 2 },
  { type: 'POLL' },
  { type: 'DISCARD' },
];

const bufferEvents: readonly BufferEvent[] = [
  { type: 'REGISTER' }, { type: 'DEREGISTER' }, { type: 'PROCESS_WRITE' }, { type: 'POST_SEND' },
  { type: 'POST_RECV' }, { type: 'HW_FILLED' }, { type: 'HW_SENT' }, { type: 'HW_FAILED' },
  { type: 'COMPLETION_POLLED' },
];

const MR_LKEY = 0x1111;
const MR_RKEY = 0x2222;
const memoryRegionEvents: readonly MemoryRegionEvent[] = [
  { type: 'REGISTER', access: MrAccess.LOCAL_WRITE | MrAccess.REMOTE_WRITE | MrAccess.REMOTE_READ },
  { type: 'REGISTER', access: MrAccess.REMOTE_WRITE },
  { type: 'LOCAL_ACCESS', lkey: MR_LKEY, offset: 0, length: 16, write: true },
  { type: 'LOCAL_ACCESS', lkey: MR_RKEY, offset: 0, length: 16, write: false },
  { type: 'REMOTE_ACCESS', rkey: MR_RKEY, offset: 8, length: 8, op: 'write' },
  { type: 'REMOTE_ACCESS', rkey: MR_RKEY, offset: 8, length: 8, op: 'atomic' },
  { type: 'DEREGISTER' },
];

const CQ_TEST_DEPTH = 2;
const completionQueueEvents = (snapshot: AnyMachineSnapshot): readonly CompletionQueueEvent[] => [
  { type: 'COMPLETION', solicited: false },
  { type: 'COMPLETION', solicited: true },
  { type: 'POLL', max: 1 },
  { type: 'POLL', max: 16 },
  { type: 'REQ_NOTIFY', solicitedOnly: false },
  { type: 'REQ_NOTIFY', solicitedOnly: true },
  // One attached QP is enough to exercise EBUSY; more only grows the graph.
  ...(snapshot.context.attachedQps < 1 ? [{ type: 'ATTACH_QP' } as const] : []),
  { type: 'DETACH_QP' },
  { type: 'DESTROY' },
];

const valueOf = (snapshot: AnyMachineSnapshot) => JSON.stringify(snapshot.value);

export const MACHINE_CATALOG: readonly CatalogEntry[] = [
  {
    name: 'qp',
    title: 'Queue pair (RC and STREAM)',
    machine: qpMachine,
    starts: [
      { label: 'new RC QP', input: { qpType: 'RC' } },
      {
        label: 'RC QP in SQE',
        input: { qpType: 'RC' },
        resolveInto: 'SQE',
        why: 'no row of the kernel table leads into SQE and RC errors go to ERR (IB spec 10.3.1), so SQE is unreachable for RC; its outgoing pairs are valid and are checked from a QP resolved into SQE',
      },
    ],
    events: () => qpEvents,
    serialize: (snapshot) => `${valueOf(snapshot)}|notify=${String(snapshot.context.sqdNotify)}`,
  },
  {
    name: 'work-request',
    title: 'Work request lifecycle',
    machine: workRequestMachine,
    starts: [
      { label: 'signaled send', input: { queue: 'send', signaled: true } },
      { label: 'unsignaled send', input: { queue: 'send', signaled: false } },
      { label: 'receive', input: { queue: 'recv', signaled: false } },
    ],
    events: () => workRequestEvents,
    serialize: (snapshot) => `${valueOf(snapshot)}|${String(snapshot.context.signaled)}|${String(snapshot.context.status)}`,
  },
  {
    name: 'buffer',
    title: 'Buffer ownership between process and hardware',
    machine: bufferMachine,
    starts: [{ label: 'process memory', input: undefined }],
    events: () => bufferEvents,
    serialize: (snapshot) => `${valueOf(snapshot)}|${String(snapshot.context.postedAs)}`,
  },
  {
    name: 'memory-region',
    title: 'Memory region',
    machine: memoryRegionMachine,
    starts: [{ label: 'region of 64 bytes', input: { lkey: MR_LKEY, rkey: MR_RKEY, length: 64 } }],
    events: () => memoryRegionEvents,
    serialize: (snapshot) => `${valueOf(snapshot)}|${String(snapshot.context.access)}`,
  },
  {
    name: 'completion-queue',
    title: 'Completion queue',
    machine: completionQueueMachine,
    starts: [{ label: `CQ with cqe=${CQ_TEST_DEPTH}`, input: { cqe: CQ_TEST_DEPTH } }],
    events: completionQueueEvents,
    serialize: (snapshot) =>
      `${valueOf(snapshot)}|${String(snapshot.context.depth)}|${String(snapshot.context.arming)}|${String(snapshot.context.attachedQps)}`,
  },
];

export function catalogEntry(name: string): CatalogEntry {
  const entry = MACHINE_CATALOG.find((e) => e.name === name);
  if (entry === undefined) {
    throw new Error(`unknown machine '${name}'; known: ${MACHINE_CATALOG.map((e) => e.name).join(', ')}`);
  }
  return entry;
}
