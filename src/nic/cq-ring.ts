import type { WorkCompletion } from '../abi/types.js';
import { ringSlot } from './ring-slot.js';

export type CqArming = 'disarmed' | 'any' | 'solicited';

/** What the CQ tells its owner: a due channel event, or the overrun that put it in error. */
export interface CqRingListener {
  onNotify(): void;
  onOverrun(): void;
}

/**
 * The completion ring the NIC writes and the consumer polls: fixed capacity, FIFO, never grows.
 * A completion that finds it full is an overrun: the ring goes to error for good and the entry is
 * not stored (the listener raises CQ_ERR, so the loss is announced, never silent).
 */
export class CqRing {
  private readonly slots: (WorkCompletion | undefined)[];
  private head = 0;
  private count = 0;
  private arming: CqArming = 'disarmed';
  private overrun = false;

  constructor(readonly id: number, readonly capacity: number, private readonly listener: CqRingListener) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`CQ capacity must be a positive integer, got ${capacity}`);
    this.slots = new Array<WorkCompletion | undefined>(capacity);
  }

  get depth(): number {
    return this.count;
  }

  get inError(): boolean {
    return this.overrun;
  }

  /** Stores one completion; false when the ring is (or just became) in error. */
  push(wc: WorkCompletion, solicited: boolean): boolean {
    if (this.overrun) return false;
    if (this.count === this.capacity) {
      this.overrun = true;
      this.listener.onOverrun();
      return false;
    }
    this.slots[ringSlot(this.head + this.count, this.capacity)] = wc;
    this.count++;
    // ibv_req_notify_cq(3): solicited-only arming also fires for completions in error.
    if (this.arming === 'any' || (this.arming === 'solicited' && (solicited || wc.status !== 'SUCCESS'))) {
      this.arming = 'disarmed';
      this.listener.onNotify();
    }
    return true;
  }

  poll(max: number): WorkCompletion[] {
    // Of its final length at once (a push per WC grew it step by step).
    const taken = new Array<WorkCompletion>(Math.max(0, Math.min(max, this.count)));
    for (let i = 0; i < taken.length; i++) {
      const wc = this.slots[this.head];
      this.slots[this.head] = undefined;
      this.head = ringSlot(this.head + 1, this.capacity);
      this.count--;
      if (wc === undefined) throw new Error('CqRing invariant: a counted slot is empty');
      taken[i] = wc;
    }
    return taken;
  }

  arm(solicitedOnly: boolean): void {
    // Arming with solicited-only never weakens an existing any-completion arming.
    if (this.arming === 'any' && solicitedOnly) return;
    this.arming = solicitedOnly ? 'solicited' : 'any';
  }
}
