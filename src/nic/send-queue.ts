import type { QpErrorCause } from '../abi/observer.js';
import type { WcStatus } from '../abi/types.js';
import { psnDistance } from '../wire/frame.js';
import { release } from './memory.js';
import { blankSendWqe, isReadOrAtomic, type SendWqe } from './work-queues.js';
import { ringSlot } from './ring-slot.js';

/**
 * A QP's send queue: the WQEs in posting order, from post until their completion is built, and
 * the transmit cursor. This class is the only writer of the cursor and of every WQE's phase:
 *
 *   [ done | inFlight ... | queued ... ]        or, after a local failure at F:
 *   ^ head               ^ cursor              [ done | inFlight ... | queued ... | F done | queued ... ]
 *                                                                                  ^ the cursor never passes F
 *
 * Everything before the cursor was transmitted and is inFlight or done; everything from the cursor
 * on is queued, except the WQE that failed before it could be sent (a local protection error, a
 * message too long for the peer): as in rxe, the requester stops there, and nothing after it is
 * ever sent; it completes with its error once everything before it has, and the QP fails. The
 * requester moves WQEs forward, go-back-N moves the cursor back (never past F), the completer
 * takes done WQEs from the head. Each method checks the part of the invariant it could break, and
 * throws for a bug of ours (never for a peer's input: the requester refuses that before).
 */
/**
 * `wqe` was sent after `psn`: a response through `psn` covers none of it or what follows it.
 * Before the cursor PSNs rise from the head (sent in order, resent in order after a rewind), so
 * both scans through a PSN stop at the first WQE after it; every in-flight one before is covered.
 */
const after = (wqe: SendWqe, psn: number) => psnDistance(wqe.psn, psn) < 0;

export class SendQueue {
  /**
   * A ring of `capacity` slots: WQE i (0 = the head) is at slots[ringSlot(head + i, capacity)].
   * Each slot keeps its WQE object after it completes, for the next post to refill (claim).
   */
  private readonly slots: SendWqe[];
  private head = 0;
  private count = 0;
  /** Index (from the head) of the first WQE not yet transmitted. */
  private cursor = 0;
  private inFlightCount = 0;
  /** The in-flight WQEs that are READs or atomics: with none, an ACK's check for one skips its scan. */
  private inFlightReadOrAtomic = 0;
  /** The WQE that failed before it was sent: the requester halts at it. */
  private failed: SendWqe | null = null;

  constructor(readonly capacity: number) {
    this.slots = Array.from({ length: capacity }, blankSendWqe);
  }

  get length(): number {
    return this.count;
  }

  get isFull(): boolean {
    return this.count >= this.capacity;
  }

  /** WQEs transmitted and waiting for their ACK or response. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  private at(index: number): SendWqe | undefined {
    return index < this.count ? this.slots[ringSlot(this.head + index, this.capacity)] : undefined;
  }

  /** The free slot's WQE, for the post to fill and then push (or leave, if the WR is refused). */
  claim(): SendWqe {
    if (this.isFull) this.broken(`claim beyond the capacity of ${this.capacity}`);
    return this.slots[ringSlot(this.head + this.count, this.capacity)]!;
  }

  /** Queues the claimed WQE, filled: the slot's own object, never another (which would take over the slot). */
  push(wqe: SendWqe): void {
    if (this.isFull) this.broken(`push beyond the capacity of ${this.capacity}`);
    if (wqe !== this.slots[ringSlot(this.head + this.count, this.capacity)]) this.broken(`WQE ${wqe.wrId} pushed is not the claimed slot`);
    if (wqe.phase !== 'queued' || wqe.psn !== -1) this.broken(`WQE ${wqe.wrId} pushed as ${wqe.phase}`);
    this.count++;
  }

  /** The next WQE to transmit, if any (none once the requester halted at a failed WQE). */
  peekQueued(): SendWqe | undefined {
    const wqe = this.at(this.cursor);
    if (wqe === undefined || wqe === this.failed) return undefined;
    if (wqe.phase !== 'queued') this.broken(`WQE ${wqe.wrId} at the cursor is ${wqe.phase}`);
    return wqe;
  }

  /** The WQE at the cursor went out with `psn`. */
  markSent(wqe: SendWqe, psn: number): void {
    if (this.at(this.cursor) !== wqe || wqe.phase !== 'queued') this.broken(`WQE ${wqe.wrId} sent out of order`);
    wqe.phase = 'inFlight';
    wqe.psn = psn;
    this.inFlightCount++;
    if (isReadOrAtomic(wqe.opcode)) this.inFlightReadOrAtomic++;
    this.cursor++;
  }

  /** The WQE at the cursor failed before it could be sent: done with its error, and the requester halts here. */
  failAtCursor(wqe: SendWqe, status: WcStatus, cause: QpErrorCause): void {
    if (this.at(this.cursor) !== wqe || wqe.phase !== 'queued' || this.failed !== null) this.broken(`WQE ${wqe.wrId} failed out of order`);
    this.setDone(wqe, status, cause);
    this.failed = wqe;
  }

  /** An in-flight WQE is finished: its ACK or response came, or it failed. */
  finish(wqe: SendWqe, status: WcStatus, cause: QpErrorCause | null = null): void {
    if (wqe.phase !== 'inFlight') this.broken(`WQE ${wqe.wrId} finished while ${wqe.phase}`);
    this.inFlightCount--;
    if (isReadOrAtomic(wqe.opcode)) this.inFlightReadOrAtomic--;
    this.setDone(wqe, status, cause);
  }

  /** The oldest WQE in flight (the one a timeout or the next response concerns). */
  oldestInFlight(): SendWqe | undefined {
    for (let i = 0; i < this.cursor; i++) if (this.at(i)!.phase === 'inFlight') return this.at(i);
    return undefined;
  }

  findInFlight(psn: number): SendWqe | undefined {
    for (let i = 0; i < this.cursor; i++) {
      const wqe = this.at(i)!;
      if (wqe.phase === 'inFlight' && wqe.psn === psn) return wqe;
    }
    return undefined;
  }

  /** The oldest in-flight READ or atomic at or before `psn` (a response through `psn` must not skip it). */
  readOrAtomicThrough(psn: number): SendWqe | undefined {
    if (this.inFlightReadOrAtomic === 0) return undefined;
    for (let i = 0; i < this.cursor; i++) {
      const wqe = this.at(i)!;
      if (after(wqe, psn)) break;
      if (wqe.phase === 'inFlight' && isReadOrAtomic(wqe.opcode)) return wqe;
    }
    return undefined;
  }

  /** A cumulative ACK through `psn`: every in-flight WQE at or before it is finished with SUCCESS. */
  finishThrough(psn: number): void {
    for (let i = 0; i < this.cursor; i++) {
      const wqe = this.at(i)!;
      if (after(wqe, psn)) break;
      if (wqe.phase === 'inFlight') this.finish(wqe, 'SUCCESS');
    }
  }

  /**
   * Go-back-N: `wqe` and every WQE after it go back to queued and the cursor to `wqe`; they are
   * sent again with the same PSNs. Everything from `wqe` to the cursor must still be in flight:
   * responses are cumulative, so nothing after an unanswered request can have completed.
   */
  rewindTo(wqe: SendWqe): SendWqe[] {
    let index = -1;
    for (let i = 0; i < this.count; i++) if (this.at(i) === wqe) index = i;
    if (index < 0 || index >= this.cursor || wqe.phase !== 'inFlight') this.broken(`rewind to WQE ${wqe.wrId}, which is not in flight`);
    const rewound: SendWqe[] = [];
    for (let i = index; i < this.cursor; i++) {
      const later = this.at(i)!;
      if (later.phase !== 'inFlight') this.broken(`rewind over WQE ${later.wrId}, which is ${later.phase}`);
      later.phase = 'queued';
      rewound.push(later);
    }
    this.inFlightCount -= rewound.length;
    for (const later of rewound) if (isReadOrAtomic(later.opcode)) this.inFlightReadOrAtomic--;
    this.cursor = index;
    return rewound;
  }

  /** The head, removed, when its completion can be built (it is done). */
  shiftDone(): SendWqe | undefined {
    const head = this.at(0);
    if (head === undefined || head.phase !== 'done') return undefined;
    // The slot keeps the object for the next post; the memory it points at is let go now.
    head.local = null;
    head.inline = null;
    this.head = ringSlot(this.head + 1, this.capacity);
    this.count--;
    if (head === this.failed) {
      if (this.cursor !== 0) this.broken('the failed WQE reached the head with WQEs before it in flight');
      this.failed = null;
      return head;
    }
    if (this.cursor <= 0) this.broken('a done WQE at the head beyond the cursor');
    this.cursor--;
    return head;
  }

  /** ERR: every WQE not yet done is WR_FLUSH_ERR; all are removed, in posting order. */
  flushAll(): SendWqe[] {
    for (let i = 0; i < this.count; i++) {
      const wqe = this.at(i)!;
      if (wqe.phase !== 'done') this.setDone(wqe, 'WR_FLUSH_ERR', null);
    }
    return this.discardAll();
  }

  /**
   * RESET or destroy: everything vanishes without completion. The WQEs go to the caller, and their
   * slots get new objects: a post made while the caller reads them (from a callback) cannot refill one.
   */
  discardAll(): SendWqe[] {
    const all: SendWqe[] = [];
    for (let i = 0; i < this.count; i++) {
      const slot = ringSlot(this.head + i, this.capacity);
      const wqe = this.slots[slot]!;
      all.push(wqe);
      this.slots[slot] = blankSendWqe();
      // A callback still holding it (a STREAM write, a READ response) finds it done, for another post.
      wqe.phase = 'done';
      wqe.serial++;
    }
    this.head = 0;
    this.count = 0;
    for (const wqe of all) this.unpin(wqe);
    this.cursor = 0;
    this.inFlightCount = 0;
    this.inFlightReadOrAtomic = 0;
    this.failed = null;
    return all;
  }

  private setDone(wqe: SendWqe, status: WcStatus, cause: QpErrorCause | null): void {
    wqe.phase = 'done';
    wqe.status = status;
    if (cause !== null) wqe.errorCause = cause;
    this.unpin(wqe);
  }

  /** The WQE no longer touches its memory: the regions may be deregistered. */
  private unpin(wqe: SendWqe): void {
    if (wqe.pinned !== null) release(wqe.pinned);
    wqe.pinned = null;
  }

  /** A broken invariant: a bug of ours. The message is built only then (never on the hot path). */
  private broken(what: string): never {
    throw new Error(`SendQueue invariant: ${what}`);
  }
}
