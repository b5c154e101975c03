/**
 * The byte pipe under one QP. The NIC decides where every arriving byte lands (zero copy on the
 * real socket: the kernel's read() writes straight into the slice the sink returns); the transport
 * decides nothing about frames.
 */
export interface TransportSink {
  /**
   * Where the next bytes must land: a non-empty view into a header buffer, a posted receive
   * buffer, an MR range or a discard area. Called before every read; the transport never writes
   * past its end and never keeps it after `onBytes`.
   */
  nextReadTarget(): Uint8Array;
  /** `count` (> 0) bytes landed at the start of the last target. */
  onBytes(count: number): void;
  /** The stream ended: orderly close by the peer, an error, or `close()` from our side. */
  onClose(reason: TransportCloseReason): void;
}

export type TransportCloseReason =
  | { readonly kind: 'peer-closed' }
  | { readonly kind: 'error'; readonly message: string }
  | { readonly kind: 'local' };

export interface TransportCounters {
  /** Batches handed to the kernel: one writev (or one write for a single chunk) each. */
  writeBatches: number;
  /** Read completions delivered to the sink (one per read() that returned data). */
  readCallbacks: number;
  bytesWritten: number;
  bytesRead: number;
  /** Payload bytes the transport itself copied in user space (0 for the socket transport). */
  bytesCopied: number;
}

export interface Transport {
  /** Starts delivering bytes to `sink`. Called once. */
  start(sink: TransportSink): void;
  /**
   * Sends the chunks, in order, as one batch, without copying them: the chunks are views of
   * registered memory and of header buffers that stay untouched until `onWritten` runs.
   * `onWritten` calls come in writev order, and never from inside the call that wrote the batch.
   */
  writev(chunks: readonly Uint8Array[], onWritten?: () => void): void;
  /**
   * As writev, but a batch that is in the kernel before this call returns (and after every batch
   * before it has been reported) is reported by returning true instead: `onWritten` is then never
   * called, and the chunks are free at once. Otherwise false, and `onWritten` follows as for
   * writev; the transport may keep the list itself until then. Optional: a transport without it
   * is written with writev. It saves, per batch, the completion's microtask and what tracks it
   * (64 B send_bw: a write per 32 messages).
   */
  writevAtOnce?(chunks: readonly Uint8Array[], onWritten: () => void): boolean;
  /**
   * The sink's next target changed (it stopped interpreting the stream): the target already lent
   * for the next read is dropped and `nextReadTarget()` is asked again at once, so no later byte
   * lands in memory the sink has given back.
   */
  retarget(): void;
  /** Stops reading (TCP flow control pushes back on the peer) until resumeReading(). */
  pauseReading?(): void;
  resumeReading?(): void;
  /**
   * Half-close: a FIN follows every batch already written, and reading goes on (the sink keeps
   * lending targets) until the peer's FIN, when the stream closes and `onClose` follows. Used by
   * a failed QP so that its last frames reach the peer and no RST destroys them; the caller
   * bounds the wait with `close()`.
   */
  shutdown(): void;
  /** Tears the stream down; `onClose({ kind: 'local' })` follows unless already closed. */
  close(): void;
  readonly counters: Readonly<TransportCounters>;
  readonly closed: boolean;
}

/**
 * When deferred work of the NIC runs. Doorbells, SQD drains and failures found inside a call run
 * after the current synchronous stretch (`defer`); ACKs and responses produced while handling
 * received frames leave after the current I/O phase (`soon`), so frames read together share one
 * write. On real time these are a microtask and setImmediate; in simulation they are ticks of the
 * virtual clock, so a whole run is a pure function of its seeds.
 */
export interface Scheduler {
  defer(task: () => void): void;
  soon(task: () => void): void;
}

/** Timers the NIC uses (RNR waits, ACK timeouts), and the scheduler beside them. */
export interface Clock extends Scheduler {
  now(): number;
  setTimer(delayMs: number, callback: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

export interface TimerHandle {
  readonly id: number;
}
