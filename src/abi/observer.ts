import type { QpState, QpType, WcStatus, AsyncEventType } from './types.js';

/** Why a QP moved to ERR without being asked to. */
export type QpErrorCause =
  | { kind: 'LOCAL_ERROR'; fault: 'access' | 'invalid-request' | 'fatal'; reason: string }
  | { kind: 'REMOTE_NAK'; nak: 'REM_ACCESS_ERR' | 'REM_INV_REQ_ERR' | 'REM_OP_ERR'; reason: string }
  | { kind: 'CONNECTION_LOST'; reason: string }
  | { kind: 'CQ_OVERRUN'; reason: string }
  | { kind: 'RETRY_EXCEEDED'; rnr: boolean; reason: string };

export type PostOutcome = 'accepted' | 'refused' | 'flushed';

/**
 * Everything the stack does that the models describe, reported as it happens. The stack never
 * reads anything back: observing is all an observer may do (the monitor and trace writers are
 * observers; with none attached the calls cost a null check).
 */
export interface VerbsObserver {
  qpCreated?(qpNum: number, qpType: QpType): void;
  qpDestroyed?(qpNum: number): void;
  modify?(qpNum: number, call: {
    from: QpState;
    attr: { qpState?: QpState; curQpState?: QpState; enSqdAsyncNotify?: boolean };
    mask: number;
    accepted: boolean;
    to: QpState;
    /** Why it was refused: by the transition table (what the models decide) or an attribute's value. */
    refusedBy?: 'table' | 'value';
    reason?: string;
  }): void;
  qpError?(qpNum: number, from: QpState, cause: QpErrorCause): void;
  post?(qpNum: number, queue: 'send' | 'recv', wrId: bigint, outcome: PostOutcome, signaled: boolean): void;
  /** A send WR's frame left for the wire (or a receive WR started filling). */
  started?(qpNum: number, queue: 'send' | 'recv', wrId: bigint): void;
  completion?(qpNum: number, queue: 'send' | 'recv', wrId: bigint, status: WcStatus, generatedWc: boolean): void;
  /** WRs dropped without completion by RESET or destroy. */
  discarded?(qpNum: number, queue: 'send' | 'recv', wrIds: readonly bigint[]): void;
  sqDrained?(qpNum: number): void;
  asyncEvent?(type: AsyncEventType, qpNum?: number): void;
  mrRegistered?(lkey: number, rkey: number, length: number, access: number): void;
  mrDeregistered?(lkey: number): void;
  /**
   * A memory access the NIC checked: `key` is the lkey (local) or rkey (remote) named, `offset`
   * the access's offset into the region that key names (when it names one).
   */
  memoryAccess?(check: { side: 'local' | 'remote'; key: number; offset: number | null; length: number; op: 'read' | 'write' | 'atomic'; granted: boolean }): void;
  cqCreated?(cqId: number, cqe: number): void;
  cqStored?(cqId: number, solicited: boolean): void;
  cqOverrun?(cqId: number): void;
  cqPolled?(cqId: number, count: number): void;
  cqDestroyed?(cqId: number): void;
}
