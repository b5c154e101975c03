import net from 'node:net';
import { NIC_LIMITS } from '../abi/limits.js';
import { handleOf, internalsOf, type TcpHandle, type WrapOptions } from './node-internals.js';
import { reportWrite, startHandleWrite, writeBatch, WRITTEN } from './socket-write.js';
import { batchBytes, WriteOrder, type Batch } from './write-order.js';
import type { Transport, TransportCloseReason, TransportCounters, TransportSink } from './types.js';

const MAX_BATCH_CHUNKS = NIC_LIMITS.maxBatchChunks;

/**
 * The real-TCP transport: takes over an already connected `net.Socket` and runs the zero-copy
 * data path on its file descriptor (DESIGN.md §5).
 *
 * Rx: Node's `onread: { buffer, callback }` makes libuv hand the kernel's read() the buffer we
 * return, so bytes land directly in the slice the sink chose (`sink.nextReadTarget()`), a new one
 * for every read. `onread` is only honoured when a Socket is constructed, so the handover moves
 * the socket's libuv TCP handle into a new `net.Socket({ handle, onread })` — the same
 * constructor call net.Server makes for every accepted connection (see docs/transport.md).
 *
 * Tx: one `writev()` batch is one writev(2) with one iovec per chunk (Uint8Array views, never
 * copied), or one write(2) for a single chunk: see socket-write.ts.
 */

/**
 * Handed to libuv instead of a sink target once the transport is closing, so a read can never
 * land in memory the sink has stopped lending. After `destroy()` libuv stops reading, so in
 * practice nothing is ever written here.
 */
const CLOSED_TARGET = new Uint8Array(1);

const LOCAL: TransportCloseReason = Object.freeze({ kind: 'local' });
const PEER_CLOSED: TransportCloseReason = Object.freeze({ kind: 'peer-closed' });

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class SocketTransport implements Transport {
  readonly counters: TransportCounters = { writeBatches: 0, readCallbacks: 0, bytesWritten: 0, bytesRead: 0, bytesCopied: 0 };

  private sink: TransportSink | null = null;
  /** The handle between takeSocket() and start(): not reading, owned by nobody else. */
  private parked: TcpHandle | null;
  /** The socket built around the handle by start(). */
  private socket: net.Socket | null = null;
  /** True while `new net.Socket(...)` runs: it already calls our onread buffer function. */
  private constructing = false;
  /** Pre-handover bytes, delivered first by start(). */
  private early: Buffer[];
  /** Batches written and not yet reported, oldest first. */
  private readonly order = new WriteOrder();
  /** The target lent by the sink for the next kernel read. */
  private target: Uint8Array | null = null;
  /** First recorded reason wins; non-null means closed. */
  private reason: TransportCloseReason | null = null;
  private fdClosed = false;
  /** shutdown() was called: our FIN is sent (or follows the queued batches); reading goes on. */
  private halfClosed = false;
  /** A write failed: nothing more is written, reading goes on until it ends (bounded by drainTimer). */
  private writeError: string | null = null;
  private drainTimer: NodeJS.Timeout | null = null;
  private closeDelivered = false;

  constructor(handle: TcpHandle, early: Buffer[]) {
    this.parked = handle;
    this.early = early;
  }

  get closed(): boolean {
    return this.reason !== null;
  }

  start(sink: TransportSink): void {
    if (this.sink !== null) throw new Error('Transport.start called twice');
    this.sink = sink;
    if (this.reason !== null) {
      // Closed before start: the sink still gets its one onClose, never from inside start().
      process.nextTick(() => this.deliverClose());
      return;
    }
    this.deliverEarlyBytes();
    if (this.reason === null) this.wrap();
  }

  writev(chunks: readonly Uint8Array[], onWritten?: () => void): void {
    if (chunks.length > MAX_BATCH_CHUNKS) throw new RangeError(`writev: ${chunks.length} chunks exceed the ${MAX_BATCH_CHUNKS}-chunk batch limit (IOV_MAX)`);
    if (this.takesNoWrites()) return;
    // A copy: the batch keeps its list until it is written. Empty chunks are dropped (legal, pointless).
    let live = chunks.slice();
    let bytes = batchBytes(live);
    if (bytes < 0) bytes = batchBytes((live = live.filter((chunk) => chunk.byteLength > 0)));
    if (live.length === 0) {
      // Nothing to send, but completions stay in order: an empty batch of its own, in the kernel
      // once its microtask runs (the queue a batch written at once reports in), reported after
      // every batch before it, and waited for by every batch after it.
      if (onWritten === undefined) return;
      const empty = this.order.add(live, onWritten, false);
      queueMicrotask(() => this.flushed(empty.id));
      return;
    }
    this.counted(bytes);
    const batch = this.order.add(live, onWritten, this.socket === null);
    if (this.socket !== null) this.submit(batch);
  }

  writevAtOnce(chunks: readonly Uint8Array[], onWritten: () => void): boolean {
    // Only with nothing in front of it (nothing unreported, nothing queued before the socket) and
    // bytes in every chunk can a batch be reported by the return; anything else is writev's.
    const bytes = !this.order.idle || this.socket === null || chunks.length > MAX_BATCH_CHUNKS || this.takesNoWrites() ? 0 : batchBytes(chunks);
    const started = bytes > 0 ? startHandleWrite(this.socket!, chunks) : null;
    if (started === null) {
      this.writev(chunks, onWritten);
      return false;
    }
    this.counted(bytes);
    if (started === WRITTEN) return true;
    // Waiting in libuv, or refused: tracked and reported as writev's batches are.
    const batch = this.order.add(chunks, onWritten, false);
    reportWrite(started, () => this.flushed(batch.id), this.onWriteError);
    return false;
  }

  /**
   * Flow control for STREAM QPs with no receive posted: the kernel keeps the bytes and TCP pushes
   * back on the peer. The target lent last stays where the next read lands after resumeReading().
   */
  pauseReading(): void {
    const handle = handleOf(this.socket);
    if (handle === null || this.reason !== null) return;
    handle.reading = false;
    handle.readStop();
  }

  resumeReading(): void {
    const handle = handleOf(this.socket);
    if (handle === null || this.reason !== null || typeof handle.readStart !== 'function') return;
    handle.reading = true;
    handle.readStart();
  }

  close(): void {
    if (this.reason !== null) return;
    this.reason = LOCAL;
    this.teardown();
  }

  /**
   * The target lent to libuv for the next read is replaced by a fresh one from the sink: Node
   * lends a user buffer to every read through the handle's `useUserBuffer`, and a new call takes
   * effect for the next read.
   */
  retarget(): void {
    const handle = handleOf(this.socket);
    if (this.reason !== null || handle?.useUserBuffer === undefined) return;
    handle.useUserBuffer(this.lendTarget() ?? CLOSED_TARGET);
  }

  shutdown(): void {
    if (this.reason !== null || this.halfClosed) return;
    this.halfClosed = true;
    // Before wrap() the FIN waits for the queued batches; wrap() ends the socket after them.
    if (this.writeError === null) this.socket?.end();
  }

  /** Pre-handover bytes: copied (once) into the sink's targets, before any kernel read. */
  private deliverEarlyBytes(): void {
    const early = this.early;
    this.early = [];
    for (const chunk of early) {
      for (let offset = 0; offset < chunk.length; ) {
        const target = this.lendTarget();
        if (target === null) return;
        const count = Math.min(target.byteLength, chunk.length - offset);
        target.set(chunk.subarray(offset, offset + count));
        offset += count;
        this.counters.bytesCopied += count;
        this.delivered(count);
        if (this.reason !== null) return; // the sink closed us (or failed) in onBytes
      }
    }
  }

  /** Moves the parked handle into a socket that reads into the sink's targets. */
  private wrap(): void {
    const handle = this.parked;
    if (handle === null) throw new Error('SocketTransport invariant: wrap without a parked handle');
    this.parked = null;
    const options: WrapOptions = {
      handle,
      // Peer FIN ends the RC connection: we tear down ourselves instead of Node's automatic end().
      allowHalfOpen: true,
      onread: {
        // Called once by the constructor and then after every read (Node's onStreamRead), so the
        // sink picks the landing slice for each kernel read before it happens.
        buffer: () => this.lendTarget() ?? CLOSED_TARGET,
        // Never `false`: that would readStop() the handle, and with onread Node offers no public
        // way to restart it. A sink with nowhere to put bytes lends a discard area instead.
        callback: (nread: number) => {
          this.onKernelRead(nread);
          return true;
        },
      },
    };
    let socket: net.Socket;
    this.constructing = true;
    try {
      socket = new net.Socket(options);
    } catch (error) {
      this.constructing = false;
      this.parked = handle;
      this.fail(`cannot wrap the socket handle: ${describe(error)}`);
      return;
    } finally {
      this.constructing = false;
    }
    this.socket = socket;
    // A failed write must not destroy the socket before we read what the peer sent before it
    // reset (its NAK, its TERMINATE): Node destroys a stream on error only with autoDestroy.
    internalsOf(socket)._readableState.autoDestroy = false;
    internalsOf(socket)._writableState.autoDestroy = false;
    socket.on('error', (error: Error) => this.onSocketError(error));
    socket.on('end', () => {
      // After our own half-close the peer's FIN completes an orderly close we asked for.
      if (this.reason === null) this.reason = this.writeError !== null ? { kind: 'error', message: this.writeError } : this.halfClosed ? LOCAL : PEER_CLOSED;
      socket.destroy();
    });
    socket.on('close', () => {
      if (this.drainTimer !== null) clearTimeout(this.drainTimer);
      this.drainTimer = null;
      if (this.reason === null) this.reason = { kind: 'error', message: 'socket closed unexpectedly' };
      this.fdClosed = true;
      this.deliverClose();
    });
    socket.setNoDelay(true);
    if (this.reason !== null) {
      // The sink failed (or closed us) while the constructor asked for the first target.
      this.teardown();
      return;
    }
    for (const batch of this.order.takeQueued()) this.submit(batch);
    if (this.halfClosed) socket.end();
  }

  /**
   * Asks the sink where the next bytes land and checks the answer. Returns null (and closes with
   * an error) for a bad target: an empty one in particular would make read() return 0, which
   * libuv takes for EOF.
   */
  private lendTarget(): Uint8Array | null {
    this.target = null;
    const sink = this.sink;
    if (this.reason !== null || sink === null) return null;
    let target: unknown;
    try {
      target = sink.nextReadTarget();
    } catch (error) {
      this.fail(`sink.nextReadTarget threw: ${describe(error)}`);
      return null;
    }
    if (!(target instanceof Uint8Array)) {
      this.fail('sink.nextReadTarget returned something other than a Uint8Array');
      return null;
    }
    if (target.byteLength === 0) {
      this.fail('sink.nextReadTarget returned an empty target');
      return null;
    }
    this.target = target;
    return target;
  }

  /** onread callback: `nread` (> 0) bytes are in the lent target already; no copy happened. */
  private onKernelRead(nread: number): void {
    const target = this.target;
    if (this.reason !== null) return; // closing: the bytes landed in CLOSED_TARGET or are dropped
    if (target === null || nread <= 0 || nread > target.byteLength) {
      this.fail(`transport invariant: read of ${nread} byte(s) into a ${target?.byteLength ?? 'missing'}-byte target`);
      return;
    }
    this.delivered(nread);
  }

  private delivered(count: number): void {
    this.target = null; // the sink gets the target back with onBytes
    this.counters.readCallbacks++;
    this.counters.bytesRead += count;
    try {
      this.sink!.onBytes(count);
    } catch (error) {
      this.fail(`sink.onBytes threw: ${describe(error)}`);
    }
  }

  private submit(batch: Batch): void {
    const id = batch.id;
    writeBatch(this.socket!, batch.chunks, () => this.flushed(id), this.onWriteError);
  }

  private readonly onWriteError = (error: Error): void => {
    if (this.reason === null) this.onSocketError(error);
  };

  /**
   * A closed stream cannot take bytes; the sink has (or will get) onClose and flushes its WRs.
   * After shutdown() the FIN is out (or queued): nothing may follow it.
   */
  private takesNoWrites(): boolean {
    return this.reason !== null || this.halfClosed || this.writeError !== null;
  }

  private counted(bytes: number): void {
    this.counters.writeBatches++;
    this.counters.bytesWritten += bytes;
  }

  /** Batch `id` is in the kernel: the batches now due are reported, oldest first, one at a time. */
  private flushed(id: number): void {
    if (this.reason !== null || this.writeError !== null) return;
    if (!this.order.markWritten(id)) {
      this.fail(`transport invariant: batch ${id} flushed, but it is not waiting to be`);
      return;
    }
    for (let batch = this.order.takeDue(); batch !== undefined && this.reason === null; batch = this.order.takeDue()) {
      if (batch.onWritten !== undefined) this.written(batch.onWritten);
    }
  }

  private written(onWritten: () => void): void {
    if (this.reason !== null) return; // after close every chunk is released; onClose says so
    try {
      onWritten();
    } catch (error) {
      this.fail(`onWritten threw: ${describe(error)}`);
    }
  }

  /** Records an error (unless a reason is already recorded) and tears down. Never throws. */
  private fail(message: string): void {
    if (this.reason === null) this.reason = { kind: 'error', message: this.writeError ?? message };
    this.teardown();
  }

  /**
   * A write error (EPIPE, ECONNRESET: the peer reset) stops writing but not reading: the kernel
   * may still hold what the peer sent before its reset, and the sink reads it first. The stream
   * closes with the write error once reading ends (EOF or the reset itself), or after
   * closeLingerMs at the latest.
   */
  private onSocketError(error: Error): void {
    const syscall = (error as NodeJS.ErrnoException).syscall;
    if (syscall === 'write' && this.reason === null) {
      if (this.writeError !== null) return;
      this.writeError = describe(error);
      this.order.clear();
      this.drainTimer = setTimeout(() => this.fail(this.writeError!), NIC_LIMITS.closeLingerMs);
      return;
    }
    this.fail(describe(error));
  }

  /** Closes the fd in whatever phase we are; the close completion delivers onClose. */
  private teardown(): void {
    if (this.constructing) return; // wrap() tears down once the constructor has returned
    if (this.drainTimer !== null) clearTimeout(this.drainTimer);
    this.drainTimer = null;
    this.order.clear();
    this.early = [];
    if (this.socket !== null) {
      this.socket.destroy(); // idempotent; its 'close' event delivers onClose
      return;
    }
    const handle = this.parked;
    if (handle === null) return;
    this.parked = null;
    handle.close(() => {
      this.fdClosed = true;
      this.deliverClose();
    });
  }

  private deliverClose(): void {
    const { sink, reason } = this;
    if (this.closeDelivered || reason === null || !this.fdClosed || sink === null) return;
    this.closeDelivered = true;
    this.target = null;
    try {
      sink.onClose(reason);
    } catch (error) {
      // Nothing is left to close; crashing the process for it would break the "a failure closes
      // this transport only" rule, so the bug is reported as a process warning instead.
      process.emitWarning(`tcpverbs transport: sink.onClose threw: ${describe(error)}`);
    }
  }
}
