import type { QpErrorCause } from '../abi/observer.js';
import type { Sge, WcOpcode, WcStatus, WrOpcode } from '../abi/types.js';
import type { Registration } from './memory.js';

/**
 * A send work queue element as the NIC keeps it from post to completion. The send queue owns one
 * per slot for the QP's life and each post refills the slot's (no allocation per WR, as a NIC's
 * WQE ring): the request fields are written by fillSendWqe only, the rest by the SendQueue.
 * `serial` tells one use of the object from the next, for anything that waits on a WQE.
 */
export interface SendWqe {
  /** Counts the posts into this object: a callback holding a WQE checks it still means the same WR. */
  serial: number;
  wrId: bigint;
  opcode: WrOpcode;
  signaled: boolean;
  solicited: boolean;
  fence: boolean;
  sgList: readonly Sge[];
  /** Inline data, copied at post time as libibverbs does; the SGEs are free once posted. */
  inline: Uint8Array | null;
  /** Total bytes: SEND/WRITE payload, READ length, 8 for atomics. */
  length: number;
  immData: number | undefined;
  remote: { readonly addr: number; readonly rkey: number } | null;
  atomic: { readonly compareAdd: bigint; readonly swap: bigint } | null;
  /** Changed by the SendQueue only. */
  phase: 'queued' | 'inFlight' | 'done';
  /** PSN of the frame that carries it; -1 until first sent. */
  psn: number;
  status: WcStatus | null;
  /** Why the QP fails when this WQE completes in error. */
  errorCause: QpErrorCause | null;
  /** RNR retries left for this WQE; 7 in rnr_retry means forever (kept as Infinity). */
  rnrRetriesLeft: number;
  /** Resolved local memory: the payload source (SEND/WRITE) or destination (READ/atomic). */
  local: readonly Uint8Array[] | null;
  /** The regions `local` lies in, pinned until the WQE is done (released by the SendQueue). */
  pinned: readonly Registration[] | null;
}

const NO_SGES: readonly Sge[] = [];

/** A slot's WQE before its first post (every field of the shape, so V8 keeps one map for all). */
export const blankSendWqe = (): SendWqe => ({
  serial: 0, wrId: 0n, opcode: 'SEND', signaled: false, solicited: false, fence: false, sgList: NO_SGES, inline: null, length: 0,
  immData: undefined, remote: null, atomic: null, phase: 'done', psn: -1, status: null, errorCause: null, rnrRetriesLeft: 0, local: null, pinned: null,
});

export interface RecvWqe {
  readonly wrId: bigint;
  readonly sgList: readonly Sge[];
}

export const SEND_WC_OPCODE: Readonly<Record<WrOpcode, WcOpcode>> = {
  SEND: 'SEND',
  SEND_WITH_IMM: 'SEND',
  RDMA_WRITE: 'RDMA_WRITE',
  RDMA_WRITE_WITH_IMM: 'RDMA_WRITE',
  RDMA_READ: 'RDMA_READ',
  ATOMIC_CMP_AND_SWP: 'COMP_SWAP',
  ATOMIC_FETCH_AND_ADD: 'FETCH_ADD',
};

export const isReadOrAtomic = (opcode: WrOpcode) =>
  opcode === 'RDMA_READ' || opcode === 'ATOMIC_CMP_AND_SWP' || opcode === 'ATOMIC_FETCH_AND_ADD';

/** IB min_rnr_timer encoding (IB spec table 45), in milliseconds. */
export const RNR_TIMER_MS: readonly number[] = [
  655.36, 0.01, 0.02, 0.03, 0.04, 0.06, 0.08, 0.12, 0.16, 0.24, 0.32, 0.48, 0.64, 0.96, 1.28, 1.92, 2.56,
  3.84, 5.12, 7.68, 10.24, 15.36, 20.48, 30.72, 40.96, 61.44, 81.92, 122.88, 163.84, 245.76, 327.68, 491.52,
];

/** Local ACK timeout: 4.096 µs × 2^timeout; 0 means wait forever. */
export function ackTimeoutMs(timeout: number): number {
  return timeout === 0 ? Infinity : 0.004096 * 2 ** timeout;
}
