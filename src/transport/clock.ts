import type { Clock, TimerHandle } from './types.js';

/**
 * Clocks for the NIC's timers (RNR waits, ACK timeouts) and for the simulated link's deliveries.
 *
 * `realClock` is wall time. `VirtualClock` is a discrete-event clock: time only moves when a test
 * calls `advance`, `runNext` or `runUntilIdle`, and timers due at the same instant run in the
 * order they were created, so a whole simulation is a pure function of its seeds.
 */

function assertDelay(delayMs: number): void {
  if (!Number.isFinite(delayMs) || delayMs < 0) {
    throw new RangeError(`timer delay must be a finite number >= 0 ms, got ${delayMs}`);
  }
}

interface RealTimer extends TimerHandle {
  timeout: NodeJS.Timeout | null;
}

/**
 * Wall-clock timers on `setTimeout`. The timers are deliberately NOT unref'd: a work request
 * waiting for an ACK or an RNR retry is pending work, and the process must stay alive for it
 * exactly as it would for a pending socket read.
 */
class RealClock implements Clock {
  private nextId = 1;
  /** Timers set and neither fired nor cleared. */
  private live = 0;

  now(): number {
    // Monotonic: wall-clock jumps (NTP, suspend) must not fire or starve retry timers.
    return performance.now();
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    assertDelay(delayMs);
    // The handle carries its Timeout: arming and clearing (an ACK timer, per round trip) need no table.
    const handle: RealTimer = { id: this.nextId++, timeout: null };
    handle.timeout = setTimeout(() => {
      handle.timeout = null;
      this.live--;
      callback();
    }, delayMs);
    this.live++;
    return handle;
  }

  clearTimer(handle: TimerHandle): void {
    const timer = handle as Partial<RealTimer>;
    // Already fired or cleared, or not a handle of this clock: clearing is harmless.
    if (timer.timeout === null || timer.timeout === undefined) return;
    clearTimeout(timer.timeout);
    timer.timeout = null;
    this.live--;
  }

  /** Timers set and neither fired nor cleared (for leak checks in tests). */
  pendingTimers(): number {
    return this.live;
  }

  defer(task: () => void): void {
    queueMicrotask(task);
  }

  soon(task: () => void): void {
    setImmediate(task);
  }
}

export const realClock: Clock & { pendingTimers(): number } = new RealClock();

interface VirtualTimer {
  readonly id: number;
  readonly due: number;
  readonly callback: () => void;
}

/** Min-heap order: earlier due first, then creation order (ids only grow). */
function before(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.due < b.due || (a.due === b.due && a.id < b.id);
}

/** Default bound on `runUntilIdle`: a livelock (a timer that always re-arms) fails loudly instead of hanging. */
export const DEFAULT_MAX_STEPS = 1_000_000;

/** Dead heap entries tolerated before `clearTimer` compacts the heap. */
const COMPACT_SLACK = 1024;

export class VirtualClock implements Clock {
  private current: number;
  private nextId = 1;
  /** Binary min-heap; cleared timers stay in it (lazy deletion) and are skipped when popped. */
  private readonly heap: VirtualTimer[] = [];
  /** Work deferred to the end of the current step (a microtask's place in simulation). */
  private deferred: (() => void)[] = [];
  /** Work for after the current I/O phase (setImmediate's place): runs once `deferred` is empty. */
  private later: (() => void)[] = [];
  private readonly live = new Set<number>();
  private running = false;

  constructor(startMs = 0) {
    if (!Number.isFinite(startMs)) throw new RangeError(`start time must be finite, got ${startMs}`);
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    assertDelay(delayMs);
    const timer: VirtualTimer = { id: this.nextId++, due: this.current + delayMs, callback };
    this.live.add(timer.id);
    this.push(timer);
    return { id: timer.id };
  }

  clearTimer(handle: TimerHandle): void {
    if (!this.live.delete(handle.id)) return;
    // Lazy deletion leaves dead entries in the heap; a NIC that re-arms an ACK timer on every
    // send would grow it without bound, so rebuild once the dead outnumber the live.
    if (this.heap.length > 2 * this.live.size + COMPACT_SLACK) this.compact();
  }

  /** Timers set and neither run nor cleared. */
  pendingTimers(): number {
    return this.live.size;
  }

  /** Deferred tasks not yet run. */
  pendingTasks(): number {
    return this.deferred.length + this.later.length;
  }

  defer(task: () => void): void {
    this.deferred.push(task);
  }

  soon(task: () => void): void {
    this.later.push(task);
  }

  /**
   * One tick at the current time: every deferred task (and those they defer), then the `soon`
   * tasks queued before the tick, each followed by what it deferred. Returns how many ran.
   */
  tick(): number {
    return this.exclusive(() => this.runTasks());
  }

  /** When the next task or live timer is due (now, while tasks wait), or undefined when idle. */
  nextDue(): number | undefined {
    if (this.pendingTasks() > 0) return this.current;
    this.dropCleared();
    return this.heap[0]?.due;
  }

  private runTasks(): number {
    let ran = 0;
    const drainDeferred = () => {
      while (this.deferred.length > 0) {
        const batch = this.deferred;
        this.deferred = [];
        for (const task of batch) {
          task();
          ran++;
        }
      }
    };
    drainDeferred();
    while (this.later.length > 0) {
      const batch = this.later;
      this.later = [];
      for (const task of batch) {
        task();
        ran++;
        drainDeferred();
      }
    }
    return ran;
  }

  /**
   * Moves time forward by `ms`, running every timer that falls due on the way (including timers
   * those callbacks set, if they are due within the window), each at its own due time.
   */
  advance(ms: number): void {
    assertDelay(ms);
    const until = this.current + ms;
    this.exclusive(() => {
      for (;;) {
        this.runTasks();
        const due = this.nextDue();
        if (due === undefined || due > until) break;
        this.runOne();
      }
    });
    this.current = until;
  }

  /** Runs the earliest live timer (jumping time to it). Returns false when there is none. */
  runNext(): boolean {
    return this.exclusive(() => {
      if (this.runTasks() > 0) return true;
      if (this.nextDue() === undefined) return false;
      this.runOne();
      this.runTasks();
      return true;
    });
  }

  /**
   * Runs timers in time order until none is left: the simulation's quiescence. Returns how many
   * ran. Throws when more than `maxSteps` would be needed (something keeps re-arming a timer,
   * e.g. an RNR retry loop with rnr_retry = 7 against a peer that never posts a receive).
   */
  runUntilIdle(maxSteps = DEFAULT_MAX_STEPS): number {
    if (!Number.isSafeInteger(maxSteps) || maxSteps < 0) throw new RangeError(`maxSteps must be a non-negative integer, got ${maxSteps}`);
    return this.exclusive(() => {
      let steps = 0;
      this.runTasks();
      while (this.nextDue() !== undefined) {
        if (steps === maxSteps) {
          throw new Error(`VirtualClock.runUntilIdle: still ${this.pendingTimers()} timer(s) pending after ${maxSteps} steps at t=${this.current}ms (livelock?)`);
        }
        this.runOne();
        this.runTasks();
        steps++;
      }
      return steps;
    });
  }

  /**
   * Time only moves from the outside: a timer callback that advanced the clock would run later
   * timers inside an earlier one and break the time order the simulation relies on.
   */
  private exclusive<T>(body: () => T): T {
    if (this.running) throw new Error('VirtualClock is not re-entrant: advance/runNext/runUntilIdle called from a timer callback');
    this.running = true;
    try {
      return body();
    } finally {
      this.running = false;
    }
  }

  private runOne(): void {
    const timer = this.pop();
    if (timer === undefined) throw new Error('VirtualClock invariant: runOne on an empty heap');
    if (timer.due < this.current) throw new Error(`VirtualClock invariant: timer ${timer.id} due ${timer.due} < now ${this.current}`);
    this.live.delete(timer.id);
    this.current = timer.due;
    timer.callback();
  }

  private compact(): void {
    const liveTimers = this.heap.filter((t) => this.live.has(t.id));
    this.heap.length = 0;
    for (const timer of liveTimers) this.push(timer);
  }

  private dropCleared(): void {
    while (this.heap.length > 0 && !this.live.has(this.heap[0]!.id)) this.pop();
  }

  private push(timer: VirtualTimer): void {
    const heap = this.heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): VirtualTimer | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === i) break;
      [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
      i = smallest;
    }
    return top;
  }
}
