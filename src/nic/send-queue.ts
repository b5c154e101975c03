import type { QpErrorCause } from '../abi/observer.js';
import type { WcStatus } from '../abi/types.js';
import { psnDistance } from '../wire/frame.js';
import { isReadOrAtomic, type SendWqe } from './work-queues.js';

/**
 * A QP's send queue: the WQEs in posting order, from post until their completion is built, and
 * the transmit cursor. This class is the only writer of the cursor and of every WQE's phase:
 *
 *   [ done | inFlight ... | queued ... ]
 *   ^ head               ^ cursor
 *
 * Everything before the cursor was transmitted (or failed before it could be) and is inFlight or
 * done; everything from the cursor on is queued. The requester moves WQEs forward, go-back-N moves
 * the cursor back, the completer takes done WQEs from the head. Each method checks the part of
 * the invariant it could break, and throws for a bug of ours (never for a peer's input: the
 * requester refuses that before it gets here).
 */
export class SendQueue {
  private readonly wqes: SendWqe[] = [];
  /** Index of the first WQE not yet transmitted. */
  private cursor = 0;
  private inFlightCount = 0;

  constructor(readonly capacity: number) {}

  get length(): number {
    return this.wqes.length;
  }

  get isFull(): boolean {
    return this.wqes.length >= this.capacity;
  }

  /** WQEs transmitted and waiting for their ACK or response. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  get hasQueued(): boolean {
    return this.cursor < this.wqes.length;
  }

  push(wqe: SendWqe): void {
    this.check(!this.isFull, `push beyond the capacity of ${this.capacity}`);
    this.check(wqe.phase === 'queued' && wqe.psn === -1, `WQE ${wqe.wrId} pushed as ${wqe.phase}`);
    this.wqes.push(wqe);
  }

  /** The next WQE to transmit, if any. */
  peekQueued(): SendWqe | undefined {
    const wqe = this.wqes[this.cursor];
    if (wqe !== undefined) this.check(wqe.phase === 'queued', `WQE ${wqe.wrId} at the cursor is ${wqe.phase}`);
    return wqe;
  }

  /** The WQE at the cursor went out with `psn`. */
  markSent(wqe: SendWqe, psn: number): void {
    this.check(this.wqes[this.cursor] === wqe && wqe.phase === 'queued', `WQE ${wqe.wrId} sent out of order`);
    wqe.phase = 'inFlight';
    wqe.psn = psn;
    this.inFlightCount++;
    this.cursor++;
  }

  /** The WQE at the cursor failed before it could be sent (a local protection error). */
  failAtCursor(wqe: SendWqe, status: WcStatus, cause: QpErrorCause): void {
    this.check(this.wqes[this.cursor] === wqe && wqe.phase === 'queued', `WQE ${wqe.wrId} failed out of order`);
    this.setDone(wqe, status, cause);
    this.cursor++;
  }

  /** An in-flight WQE is finished: its ACK or response came, or it failed. */
  finish(wqe: SendWqe, status: WcStatus, cause: QpErrorCause | null = null): void {
    this.check(wqe.phase === 'inFlight', `WQE ${wqe.wrId} finished while ${wqe.phase}`);
    this.inFlightCount--;
    this.setDone(wqe, status, cause);
  }

  /** The oldest WQE in flight (the one a timeout or the next response concerns). */
  oldestInFlight(): SendWqe | undefined {
    for (let i = 0; i < this.cursor; i++) if (this.wqes[i]!.phase === 'inFlight') return this.wqes[i];
    return undefined;
  }

  findInFlight(psn: number): SendWqe | undefined {
    for (let i = 0; i < this.cursor; i++) {
      const wqe = this.wqes[i]!;
      if (wqe.phase === 'inFlight' && wqe.psn === psn) return wqe;
    }
    return undefined;
  }

  /** In-flight WQEs with a PSN at or before `psn`, oldest first. */
  inFlightThrough(psn: number): SendWqe[] {
    const covered: SendWqe[] = [];
    for (let i = 0; i < this.cursor; i++) {
      const wqe = this.wqes[i]!;
      if (wqe.phase === 'inFlight' && psnDistance(wqe.psn, psn) >= 0) covered.push(wqe);
    }
    return covered;
  }

  /**
   * Go-back-N: `wqe` and every WQE after it go back to queued and the cursor to `wqe`; they are
   * sent again with the same PSNs. Everything from `wqe` to the cursor must still be in flight:
   * responses are cumulative, so nothing after an unanswered request can have completed.
   */
  rewindTo(wqe: SendWqe): SendWqe[] {
    const index = this.wqes.indexOf(wqe);
    this.check(index >= 0 && index < this.cursor && wqe.phase === 'inFlight', `rewind to WQE ${wqe.wrId}, which is not in flight`);
    const rewound: SendWqe[] = [];
    for (let i = index; i < this.cursor; i++) {
      const later = this.wqes[i]!;
      this.check(later.phase === 'inFlight', `rewind over WQE ${later.wrId}, which is ${later.phase}`);
      later.phase = 'queued';
      rewound.push(later);
    }
    this.inFlightCount -= rewound.length;
    this.cursor = index;
    return rewound;
  }

  /** The head, removed, when its completion can be built (it is done). */
  shiftDone(): SendWqe | undefined {
    const head = this.wqes[0];
    if (head === undefined || head.phase !== 'done') return undefined;
    this.wqes.shift();
    this.check(this.cursor > 0, 'a done WQE at the head beyond the cursor');
    this.cursor--;
    return head;
  }

  /** ERR: every WQE not yet done is WR_FLUSH_ERR; all are removed, in posting order. */
  flushAll(): SendWqe[] {
    for (const wqe of this.wqes) {
      if (wqe.phase !== 'done') this.setDone(wqe, 'WR_FLUSH_ERR', null);
    }
    const all = this.wqes.splice(0);
    this.cursor = 0;
    this.inFlightCount = 0;
    return all;
  }

  /** RESET or destroy: everything vanishes without completion. */
  discardAll(): SendWqe[] {
    const all = this.wqes.splice(0);
    this.cursor = 0;
    this.inFlightCount = 0;
    return all;
  }

  private setDone(wqe: SendWqe, status: WcStatus, cause: QpErrorCause | null): void {
    wqe.phase = 'done';
    wqe.status = status;
    if (cause !== null) wqe.errorCause = cause;
  }

  private check(holds: boolean, what: string): void {
    if (!holds) throw new Error(`SendQueue invariant: ${what}`);
  }
}

/** Opcodes whose completion needs a response, not an ACK. */
export const needsResponse = (wqe: SendWqe) => isReadOrAtomic(wqe.opcode);
