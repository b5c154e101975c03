import { NIC_LIMITS } from '../abi/limits.js';

const MAX_BATCH_CHUNKS = NIC_LIMITS.maxBatchChunks;
import { deriveSeed } from './prng.js';
import { Link, type LinkEnd, type LinkFaults, type LinkSettings, type SimulatedDirection, type SimulatedEvent } from './sim-link.js';
import type { Clock, Transport, TransportCloseReason, TransportCounters, TransportSink } from './types.js';

export type { LinkFaults, SimulatedDirection, SimulatedEvent } from './sim-link.js';

/**
 * A deterministic in-memory TCP connection with the Transport interface, for property tests
 * (DESIGN.md §6 "deterministic simulation"). Everything happens in timers on the given clock —
 * normally a VirtualClock the test drives — and every random choice comes from a PRNG seeded by
 * `seed`, so a run is a pure function of (seed, options, what the endpoints do) and replays.
 *
 * Model, per direction (a "link" from the writer to the reader):
 *   writev ──(flush delay)──▶ "kernel" byte queue ──(delivery delay, chunk size)──▶ reader's target
 * - A batch stays in the writer's memory until it is flushed, a random 0..maxDelayMs later
 *   (batches flush in order); only then are its bytes copied into the link's queue and
 *   `onWritten` runs. A NIC that reuses a chunk before `onWritten` therefore sends corrupt data
 *   here, as it could on a real socket.
 * - Bytes arrive in order, in reads of 1..maxChunk bytes (never more than the target holds),
 *   each a random 0..maxDelayMs after the previous one. Reads span batch boundaries, as TCP's do.
 * - Like the socket transport, the reader's next target is requested at start() and right after
 *   each onBytes, not when the bytes arrive: a sink cannot rely on choosing late.
 * - close() sends a FIN after the bytes already flushed; unflushed batches are dropped (onWritten
 *   never runs), as Node drops writes still buffered in user space when a socket is destroyed.
 *   The peer gets `peer-closed` once everything before the FIN arrived. Bytes travelling towards
 *   the closed end are discarded (a real kernel might answer them with RST: the NIC must accept
 *   either `peer-closed` or `error` from a vanished peer).
 * - The simulator's copies model the kernel's (into the socket buffer and out of it): they are
 *   not the NIC's, so `bytesCopied` stays 0, as on the real zero-copy path.
 * - onClose always comes from a clock timer, never from inside a call into the transport.
 */

export interface SimulatedPairOptions {
  /** Schedules every flush and delivery; pass a VirtualClock and drive it (`runUntilIdle`). */
  readonly clock: Clock;
  /** Any finite number; each direction draws from its own sub-stream of it. */
  readonly seed: number;
  /** Largest read, in bytes (>= 1). Default 4096. */
  readonly maxChunk?: number;
  /** Largest flush or delivery delay, in ms (>= 0). Default 2. */
  readonly maxDelayMs?: number;
  readonly faults?: { readonly aToB?: LinkFaults; readonly bToA?: LinkFaults };
  /** Bytes one direction may hold (unflushed + in flight) before writev throws. Default 64 MiB. */
  readonly maxBufferedBytes?: number;
  /** Observes every step of the simulation, e.g. to print the schedule of a failing seed. */
  readonly trace?: (event: SimulatedEvent) => void;
}

export const DEFAULT_MAX_CHUNK = 4096;
export const DEFAULT_MAX_DELAY_MS = 2;
export const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

function checkCount(name: string, value: number | undefined, min: number): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < min)) {
    throw new RangeError(`createSimulatedPair: ${name} must be an integer >= ${min}, got ${value}`);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const LOCAL: TransportCloseReason = Object.freeze({ kind: 'local' });
const PEER_CLOSED: TransportCloseReason = Object.freeze({ kind: 'peer-closed' });

class SimulatedEndpoint implements Transport, LinkEnd {
  readonly counters: TransportCounters = { writeBatches: 0, readCallbacks: 0, bytesWritten: 0, bytesRead: 0, bytesCopied: 0 };
  /** Wired by createSimulatedPair right after construction. */
  outgoing!: Link;
  incoming!: Link;
  private sink: TransportSink | null = null;
  private target: Uint8Array | null = null;
  private reason: TransportCloseReason | null = null;
  private closeScheduled = false;
  private halfClosed = false;
  private paused = false;

  constructor(
    private readonly settings: LinkSettings,
    readonly side: 'a' | 'b',
  ) {}

  get closed(): boolean {
    return this.reason !== null;
  }

  start(sink: TransportSink): void {
    if (this.sink !== null) throw new Error('Transport.start called twice');
    this.sink = sink;
    if (this.reason !== null) {
      this.scheduleClose();
      return;
    }
    this.lendTarget();
    this.incoming.kick();
  }

  writev(chunks: readonly Uint8Array[], onWritten?: () => void): void {
    if (chunks.length > MAX_BATCH_CHUNKS) throw new RangeError(`writev: ${chunks.length} chunks exceed the ${MAX_BATCH_CHUNKS}-chunk batch limit (IOV_MAX)`);
    if (this.reason !== null) return; // as on a socket: a closed stream drops the batch
    const live: Uint8Array[] = [];
    let bytes = 0;
    for (const chunk of chunks) {
      if (!(chunk instanceof Uint8Array)) throw new TypeError('writev: every chunk must be a Uint8Array');
      if (chunk.byteLength === 0) continue;
      live.push(chunk);
      bytes += chunk.byteLength;
    }
    if (live.length === 0) {
      // Nothing to send, but completions stay in order: after the batches before it.
      if (onWritten !== undefined && !this.outgoing.afterPending(onWritten)) this.settings.clock.setTimer(0, () => this.written(onWritten));
      return;
    }
    this.outgoing.enqueue({ chunks: live, bytes, onFlushed: onWritten === undefined ? [] : [onWritten] });
    this.counters.writeBatches++;
    this.counters.bytesWritten += bytes;
  }

  close(): void {
    this.shutDown(LOCAL);
  }

  /** The held target is given back; the next delivery lands in a fresh one. */
  retarget(): void {
    if (this.target !== null) this.lendTarget();
  }

  /** Flow control: the link holds its bytes (its "kernel" buffer) until resumeReading(). */
  pauseReading(): void {
    this.paused = true;
  }

  resumeReading(): void {
    if (!this.paused) return;
    this.paused = false;
    this.incoming.kick();
  }

  /** The link has no RST: closing once every batch is flushed is a FIN after all of them. */
  shutdown(): void {
    if (this.reason !== null || this.halfClosed) return;
    this.halfClosed = true;
    this.writev([], () => this.close());
  }

  /** Link side: may bytes be delivered now? */
  readyToRead(): boolean {
    return this.sink !== null && this.reason === null && this.target !== null && !this.paused;
  }

  heldTarget(): Uint8Array {
    if (this.target === null) throw new Error(`simulated endpoint ${this.side} invariant: delivery without a lent target`);
    return this.target;
  }

  /** Link side: `count` bytes were copied into the held target. */
  delivered(count: number): void {
    this.target = null;
    this.counters.readCallbacks++;
    this.counters.bytesRead += count;
    try {
      this.sink!.onBytes(count);
    } catch (error) {
      this.fail(`sink.onBytes threw: ${describe(error)}`);
      return;
    }
    this.lendTarget();
  }

  /** Link side: a batch was flushed. */
  written(onWritten: () => void): void {
    if (this.reason !== null) return;
    try {
      onWritten();
    } catch (error) {
      this.fail(`onWritten threw: ${describe(error)}`);
    }
  }

  /** Link side: the peer's FIN arrived after all its bytes. */
  peerClosed(): void {
    if (this.reason !== null) return;
    this.reason = PEER_CLOSED;
    this.target = null;
    // Our socket is destroyed on FIN (as in the socket transport): nothing more goes out.
    this.outgoing.kill();
    this.incoming.kill();
    this.scheduleClose();
  }

  /** Pair side: the connection broke. */
  broken(message: string): void {
    if (this.reason !== null) return;
    this.reason = { kind: 'error', message };
    this.target = null;
    this.scheduleClose();
  }

  /** The sink misbehaved: close as the socket transport does (the peer sees a FIN). */
  private fail(message: string): void {
    this.shutDown({ kind: 'error', message });
  }

  private shutDown(reason: TransportCloseReason): void {
    if (this.reason !== null) return;
    this.reason = reason;
    this.target = null;
    this.outgoing.finish();
    this.incoming.kill();
    this.scheduleClose();
  }

  private lendTarget(): void {
    this.target = null;
    if (this.reason !== null || this.sink === null) return;
    let target: unknown;
    try {
      target = this.sink.nextReadTarget();
    } catch (error) {
      this.fail(`sink.nextReadTarget threw: ${describe(error)}`);
      return;
    }
    if (!(target instanceof Uint8Array)) return this.fail('sink.nextReadTarget returned something other than a Uint8Array');
    if (target.byteLength === 0) return this.fail('sink.nextReadTarget returned an empty target');
    this.target = target;
  }

  private scheduleClose(): void {
    const reason = this.reason;
    if (this.closeScheduled || reason === null || this.sink === null) return;
    this.closeScheduled = true;
    this.settings.clock.setTimer(0, () => {
      this.settings.trace({ at: this.settings.clock.now(), kind: 'close', side: this.side, reason });
      // A throwing onClose is the test's bug: let it propagate out of the clock to the test.
      this.sink!.onClose(reason);
    });
  }
}

/**
 * Two connected simulated transports: `[a, b]`. Nothing moves until the clock runs: drive a
 * VirtualClock with `advance(ms)`, or `runUntilIdle()` to run the simulation to quiescence.
 */
export function createSimulatedPair(options: SimulatedPairOptions): [Transport, Transport] {
  checkCount('maxChunk', options.maxChunk, 1);
  checkCount('maxDelayMs', options.maxDelayMs, 0);
  checkCount('maxBufferedBytes', options.maxBufferedBytes, 1);
  for (const [name, faults] of Object.entries(options.faults ?? {})) {
    checkCount(`faults.${name}.breakAfterBytes`, faults?.breakAfterBytes, 0);
    checkCount(`faults.${name}.stallAfterBytes`, faults?.stallAfterBytes, 0);
  }
  const settings: LinkSettings = {
    clock: options.clock,
    maxChunk: options.maxChunk ?? DEFAULT_MAX_CHUNK,
    maxDelayMs: options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS,
    maxBufferedBytes: options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
    trace: options.trace ?? (() => {}),
  };
  const a = new SimulatedEndpoint(settings, 'a');
  const b = new SimulatedEndpoint(settings, 'b');
  const breakConnection = (direction: SimulatedDirection): void => {
    a.outgoing.kill();
    b.outgoing.kill();
    const message = `simulated connection broke (${direction} after ${direction === 'a->b' ? options.faults?.aToB?.breakAfterBytes : options.faults?.bToA?.breakAfterBytes} bytes)`;
    // The reading end notices first, then the writer (its next ACK never comes).
    const [reader, writer] = direction === 'a->b' ? [b, a] : [a, b];
    reader.broken(message);
    writer.broken(message);
  };
  a.outgoing = b.incoming = new Link(settings, 'a->b', deriveSeed(options.seed, 0), options.faults?.aToB ?? {}, a, b, breakConnection);
  b.outgoing = a.incoming = new Link(settings, 'b->a', deriveSeed(options.seed, 1), options.faults?.bToA ?? {}, b, a, breakConnection);
  return [a, b];
}
