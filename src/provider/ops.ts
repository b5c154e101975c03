import type { Errno } from '../abi/errors.js';
import type { VerbsObserver } from '../abi/observer.js';
import type {
  AsyncEventType, Counters, DeviceAttr, PortAttr, QpCap, QpState, QpType, Sge, WorkCompletion, WrOpcode,
} from '../abi/types.js';
import type { Clock, Transport } from '../transport/types.js';

/**
 * The seam between the verbs API and a device, in the spirit of rdma-core's `verbs_context_ops`:
 * one flat, typed table of operations on opaque handles. The verbs layer validates arguments and
 * keeps object lifetimes; everything that changes a QP, a CQ or the memory table happens behind
 * this table, in the provider. Handles are plain numbers so that the table maps one to one onto
 * the language-neutral adapter protocol of the conformance kit.
 */
export type PdHandle = number;
export type MrHandle = number;
export type CqHandle = number;
export type QpHandle = number;

/** A refusal from the provider: the verbs layer turns it into a VerbsError. */
export interface ProviderError {
  readonly errno: Errno;
  readonly message: string;
}

export interface MrInfo {
  readonly handle: MrHandle;
  readonly lkey: number;
  readonly rkey: number;
  /** Virtual address of buffer[0]. */
  readonly addr: number;
  readonly buffer: Uint8Array;
  readonly access: number;
}

/** What a CQ tells the verbs object above it. */
export interface CqEvents {
  /** An armed notification fired: one completion-channel event is due. */
  onNotify(): void;
}

export interface QpCreateAttr {
  readonly qpType: QpType;
  readonly sendCq: CqHandle;
  readonly recvCq: CqHandle;
  readonly cap: QpCap;
  readonly sqSigAll: boolean;
}

/**
 * The attributes a modify sets, already validated by the verbs layer against the kernel's table
 * (`ib_modify_qp_is_ok`) and the allowed values; absent means "not in the mask".
 */
export interface QpModifyAttr {
  accessFlags?: number;
  pkeyIndex?: number;
  portNum?: number;
  pathMtu?: number;
  destQpNum?: number;
  rqPsn?: number;
  sqPsn?: number;
  timeout?: number;
  retryCnt?: number;
  rnrRetry?: number;
  minRnrTimer?: number;
  maxRdAtomic?: number;
  maxDestRdAtomic?: number;
  sqdNotify?: boolean;
  /** The byte stream taken over at RTR. */
  transport?: Transport;
}

/** ibv_query_qp as the provider knows it (the verbs layer adds the caps it returned at create). */
export interface QpQueryAttr {
  readonly qpState: QpState;
  readonly accessFlags: number;
  readonly pkeyIndex: number;
  readonly portNum: number;
  readonly pathMtu: number;
  readonly destQpNum: number;
  readonly rqPsn: number;
  readonly sqPsn: number;
  readonly timeout: number;
  readonly retryCnt: number;
  readonly rnrRetry: number;
  readonly minRnrTimer: number;
  readonly maxRdAtomic: number;
  readonly maxDestRdAtomic: number;
  readonly sqdNotify: boolean;
  /** SQD with WRs still on the wire. */
  readonly sqDraining: boolean;
}

/** A send WR whose shape the verbs layer checked; keys, bounds and the queue are the provider's. */
export interface SendRequest {
  readonly wrId: bigint;
  readonly opcode: WrOpcode;
  readonly signaled: boolean;
  readonly solicited: boolean;
  readonly fence: boolean;
  readonly inline: boolean;
  readonly sgList: readonly Sge[];
  /** Sum of the SGE lengths. */
  readonly totalLength: number;
  readonly immData: number | undefined;
  readonly remote: { readonly addr: number; readonly rkey: number } | null;
  readonly atomic: { readonly compareAdd: bigint; readonly swap: bigint } | null;
}

export interface RecvRequest {
  readonly wrId: bigint;
  readonly sgList: readonly Sge[];
}

/** How many WRs of a post were queued; `error` says why the next one was refused. */
export interface PostResult {
  readonly posted: number;
  readonly error?: ProviderError;
}

export interface ProviderAsyncEvent {
  readonly type: AsyncEventType;
  readonly qpNum?: number;
  readonly cq?: CqHandle;
  readonly reason: string;
}

/** The table. Every operation either succeeds or returns a ProviderError; none throws for input. */
export interface ProviderOps {
  queryDevice(): DeviceAttr;
  queryPort(portNum: number): PortAttr;
  queryCounters(): Counters;

  allocPd(): PdHandle | ProviderError;
  deallocPd(pd: PdHandle): void;

  regMr(pd: PdHandle, buffer: Uint8Array, access: number): MrInfo | ProviderError;
  /** EBUSY while a WR or a transfer in progress may still touch the region. */
  deregMr(mr: MrHandle): ProviderError | null;

  createCq(cqe: number, events: CqEvents): CqHandle | ProviderError;
  pollCq(cq: CqHandle, maxEntries: number): WorkCompletion[];
  reqNotifyCq(cq: CqHandle, solicitedOnly: boolean): void;
  /** Completions stored and not yet polled, and whether the CQ overran. */
  queryCq(cq: CqHandle): { readonly depth: number; readonly inError: boolean };
  destroyCq(cq: CqHandle): void;

  createQp(pd: PdHandle, attr: QpCreateAttr): { readonly handle: QpHandle; readonly qpNum: number } | ProviderError;
  /** Moves the QP to `next` with `attr` applied; the transition was validated above the seam. */
  modifyQp(qp: QpHandle, next: QpState, attr: QpModifyAttr): ProviderError | null;
  queryQp(qp: QpHandle): QpQueryAttr;
  destroyQp(qp: QpHandle): void;

  /** Reads `wrs` while it runs and keeps none of them (the verbs layer refills them for its next post). */
  postSend(qp: QpHandle, wrs: readonly SendRequest[]): PostResult;
  postRecv(qp: QpHandle, wrs: readonly RecvRequest[]): PostResult;

  /** Closes every connection and stops every timer. */
  close(): void;
}

/** What a driver needs to open a device context. */
export interface ProviderOpenOptions {
  readonly clock: Clock;
  readonly observer: VerbsObserver | null;
  readonly onAsyncEvent: (event: ProviderAsyncEvent) => void;
}

/** A device driver: its name, and how it opens a context (ibv_open_device → the provider's alloc_context). */
export interface Driver {
  readonly name: string;
  readonly guid: bigint;
  open(options: ProviderOpenOptions): ProviderOps;
}

export function isProviderError(value: unknown): value is ProviderError {
  return typeof value === 'object' && value !== null && typeof (value as ProviderError).errno === 'string' && typeof (value as ProviderError).message === 'string' && !('handle' in value);
}
