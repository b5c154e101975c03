import { Prng } from './prng.js';
import type { Clock, TimerHandle, TransportCloseReason } from './types.js';

/**
 * One direction of a simulated connection (see simulated.ts for the model): the writer's
 * unflushed batches, the "kernel" queue of flushed bytes, and the timers that move them, all
 * driven by one seeded PRNG so the direction's schedule replays from its seed.
 */

/** Faults of one direction. */
export interface LinkFaults {
  /**
   * The connection breaks when this direction would carry byte N+1: the reader gets exactly the
   * first N bytes, then both ends get `onClose({ kind: 'error' })`. Nothing breaks if no more
   * than N bytes are ever written.
   */
  readonly breakAfterBytes?: number;
  /**
   * After N bytes arrived, this direction goes silent: writes still flush (`onWritten` runs) but
   * nothing more arrives, not even a FIN, and nobody is closed. For timeout tests.
   */
  readonly stallAfterBytes?: number;
}

export type SimulatedDirection = 'a->b' | 'b->a';

export type SimulatedEvent =
  | { readonly at: number; readonly kind: 'flush'; readonly direction: SimulatedDirection; readonly bytes: number }
  | { readonly at: number; readonly kind: 'deliver'; readonly direction: SimulatedDirection; readonly bytes: number }
  | { readonly at: number; readonly kind: 'fin'; readonly direction: SimulatedDirection }
  | { readonly at: number; readonly kind: 'break'; readonly direction: SimulatedDirection }
  | { readonly at: number; readonly kind: 'stall'; readonly direction: SimulatedDirection }
  | { readonly at: number; readonly kind: 'close'; readonly side: 'a' | 'b'; readonly reason: TransportCloseReason };

/** What a link needs from the pair's options. */
export interface LinkSettings {
  readonly clock: Clock;
  readonly maxChunk: number;
  readonly maxDelayMs: number;
  readonly maxBufferedBytes: number;
  readonly trace: (event: SimulatedEvent) => void;
}

export interface PendingBatch {
  readonly chunks: readonly Uint8Array[];
  readonly bytes: number;
  /** The batch's onWritten, then those of empty batches written after it (kept in order). */
  readonly onFlushed: Array<() => void>;
}

/** What a link needs from the endpoints at its two ends (SimulatedEndpoint in simulated.ts). */
export interface LinkEnd {
  /** Writer side: a flushed batch's onWritten (guarded by the endpoint). */
  written(onWritten: () => void): void;
  /** Reader side: started, open and holding a lent target. */
  readyToRead(): boolean;
  heldTarget(): Uint8Array;
  /** Reader side: `count` bytes were copied into the held target. */
  delivered(count: number): void;
  /** Reader side: the FIN arrived after every byte before it. */
  peerClosed(): void;
}

/** One direction of the connection. */
export class Link {
  private readonly prng: Prng;
  /** Written but not flushed: still the writer's memory. */
  private unflushed: PendingBatch[] = [];
  private unflushedBytes = 0;
  /** Flushed bytes not yet delivered, oldest first; `headOffset` bytes of the first are gone. */
  private inFlight: Uint8Array[] = [];
  private headOffset = 0;
  private inFlightBytes = 0;
  private deliveredBytes = 0;
  private finPending = false;
  /** Nothing moves any more: connection broken, or the reader closed. */
  private dead = false;
  private stalled = false;
  private flushTimer: TimerHandle | null = null;
  private deliveryTimer: TimerHandle | null = null;

  constructor(
    private readonly settings: LinkSettings,
    readonly direction: SimulatedDirection,
    seed: number,
    private readonly faults: LinkFaults,
    readonly writer: LinkEnd,
    readonly reader: LinkEnd,
    private readonly breakConnection: (direction: SimulatedDirection) => void,
  ) {
    this.prng = new Prng(seed);
  }

  enqueue(batch: PendingBatch): void {
    if (this.unflushedBytes + this.inFlightBytes + batch.bytes > this.settings.maxBufferedBytes) {
      throw new RangeError(`simulated link ${this.direction}: more than ${this.settings.maxBufferedBytes} bytes buffered (is the reader stalled or never started?)`);
    }
    this.unflushed.push(batch);
    this.unflushedBytes += batch.bytes;
    this.scheduleFlush();
  }

  /**
   * Runs `callback` when everything written so far is flushed: after the last unflushed batch,
   * or returns false when nothing is pending.
   */
  afterPending(callback: () => void): boolean {
    const tail = this.unflushed.at(-1);
    if (tail === undefined) return false;
    tail.onFlushed.push(callback);
    return true;
  }

  /** The writer closed: drop what it has not flushed, and send a FIN after the rest. */
  finish(): void {
    this.dropUnflushed();
    this.finPending = true;
    this.scheduleDelivery();
  }

  /** Nothing more moves in this direction; buffered bytes are discarded. */
  kill(): void {
    this.dead = true;
    this.dropUnflushed();
    this.inFlight = [];
    this.inFlightBytes = 0;
    this.headOffset = 0;
    this.finPending = false;
    if (this.deliveryTimer !== null) this.settings.clock.clearTimer(this.deliveryTimer);
    this.deliveryTimer = null;
  }

  /** The reader started: deliver what waited for it. */
  kick(): void {
    this.scheduleDelivery();
  }

  private dropUnflushed(): void {
    this.unflushed = [];
    this.unflushedBytes = 0;
    if (this.flushTimer !== null) this.settings.clock.clearTimer(this.flushTimer);
    this.flushTimer = null;
  }

  private delay(): number {
    return this.prng.nextInt(0, this.settings.maxDelayMs);
  }

  private scheduleFlush(): void {
    if (this.dead || this.flushTimer !== null || this.unflushed.length === 0) return;
    this.flushTimer = this.settings.clock.setTimer(this.delay(), () => this.flush());
  }

  private flush(): void {
    this.flushTimer = null;
    const batch = this.unflushed.shift();
    if (batch === undefined || this.dead) return;
    this.unflushedBytes -= batch.bytes;
    // The kernel's copy into the socket buffer: from here the writer's chunks are free.
    const copy = new Uint8Array(batch.bytes);
    let offset = 0;
    for (const chunk of batch.chunks) {
      copy.set(chunk, offset);
      offset += chunk.byteLength;
    }
    this.inFlight.push(copy);
    this.inFlightBytes += copy.byteLength;
    this.settings.trace({ at: this.settings.clock.now(), kind: 'flush', direction: this.direction, bytes: batch.bytes });
    this.scheduleFlush();
    this.scheduleDelivery();
    for (const onWritten of batch.onFlushed) this.writer.written(onWritten);
  }

  private scheduleDelivery(): void {
    if (this.dead || this.stalled || this.deliveryTimer !== null) return;
    if (this.inFlightBytes === 0 && !this.finPending) return;
    if (!this.reader.readyToRead()) return; // start() kicks us
    this.deliveryTimer = this.settings.clock.setTimer(this.delay(), () => this.deliver());
  }

  private deliver(): void {
    this.deliveryTimer = null;
    if (this.dead || !this.reader.readyToRead()) return;
    const { stallAfterBytes, breakAfterBytes } = this.faults;
    if (stallAfterBytes !== undefined && this.deliveredBytes >= stallAfterBytes) {
      this.stalled = true;
      this.settings.trace({ at: this.settings.clock.now(), kind: 'stall', direction: this.direction });
      return;
    }
    if (this.inFlightBytes === 0) {
      if (this.finPending) {
        this.finPending = false;
        this.settings.trace({ at: this.settings.clock.now(), kind: 'fin', direction: this.direction });
        this.reader.peerClosed();
      }
      return;
    }
    if (breakAfterBytes !== undefined && this.deliveredBytes >= breakAfterBytes) {
      this.settings.trace({ at: this.settings.clock.now(), kind: 'break', direction: this.direction });
      this.breakConnection(this.direction);
      return;
    }
    const target = this.reader.heldTarget();
    let count = Math.min(this.prng.nextInt(1, this.settings.maxChunk), target.byteLength, this.inFlightBytes);
    // Stop exactly at the fault threshold, so the reader sees precisely N bytes.
    if (stallAfterBytes !== undefined) count = Math.min(count, stallAfterBytes - this.deliveredBytes);
    if (breakAfterBytes !== undefined) count = Math.min(count, breakAfterBytes - this.deliveredBytes);
    if (count <= 0) throw new Error(`simulated link ${this.direction} invariant: delivery of ${count} bytes`);
    this.copyOut(target, count);
    this.deliveredBytes += count;
    this.settings.trace({ at: this.settings.clock.now(), kind: 'deliver', direction: this.direction, bytes: count });
    this.reader.delivered(count);
    this.scheduleDelivery();
  }

  /** The kernel's copy out of the socket buffer into the reader's target (its recv()). */
  private copyOut(target: Uint8Array, count: number): void {
    let copied = 0;
    while (copied < count) {
      const head = this.inFlight[0];
      if (head === undefined) throw new Error(`simulated link ${this.direction} invariant: in-flight bytes miscounted`);
      const take = Math.min(count - copied, head.byteLength - this.headOffset);
      target.set(head.subarray(this.headOffset, this.headOffset + take), copied);
      copied += take;
      this.headOffset += take;
      if (this.headOffset === head.byteLength) {
        this.inFlight.shift();
        this.headOffset = 0;
      }
    }
    this.inFlightBytes -= count;
  }
}
