import type { RecvWqe } from './work-queues.js';
import { ringSlot } from './ring-slot.js';

/**
 * A QP's posted receives, oldest first, in a ring of cap.maxRecvWr slots: receives are consumed
 * from the head, in posting order, one per SEND (Array#shift on a deep queue cost ~90 ns a
 * receive; the ring costs nothing).
 */
export class RecvQueue {
  private readonly slots: (RecvWqe | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.slots = new Array<RecvWqe | undefined>(capacity);
  }

  get length(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /** The receive the next SEND consumes. */
  peek(): RecvWqe | undefined {
    return this.count === 0 ? undefined : this.slots[this.head];
  }

  push(wqe: RecvWqe): void {
    if (this.count === this.capacity) throw new Error(`RecvQueue invariant: push into a full queue of ${this.capacity}`);
    this.slots[ringSlot(this.head + this.count, this.capacity)] = wqe;
    this.count++;
  }

  shift(): RecvWqe | undefined {
    if (this.count === 0) return undefined;
    const wqe = this.slots[this.head];
    this.slots[this.head] = undefined;
    this.head = ringSlot(this.head + 1, this.capacity);
    this.count--;
    return wqe;
  }

  /** Empties the queue; returns what it held, oldest first. */
  drain(): RecvWqe[] {
    const all: RecvWqe[] = [];
    for (let wqe = this.shift(); wqe !== undefined; wqe = this.shift()) all.push(wqe);
    return all;
  }
}
