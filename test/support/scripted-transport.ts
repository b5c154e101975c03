import { QpAttrMask as M } from '../../src/index.js';
import type { Transport, TransportCounters, TransportSink } from '../../src/transport/types.js';
import { HELLO_BYTES, encodeHello } from '../../src/wire/frame.js';
import { parseStream, type ParsedFrame } from './raw-peer.js';
import { makeSide, type Side, type SideOptions } from './verbs-harness.js';

/**
 * A transport whose peer is the test itself, for what a real socket cannot pin down: which frames
 * a QP writes while it handles bytes that arrived together. `deliver` hands the QP its bytes in
 * one synchronous stretch, as the socket transport does with everything the kernel holds in one
 * I/O callback (a read per lent target, each asked for right after the previous onBytes), so
 * whatever the QP defers to the end of the I/O phase (setImmediate) runs after `deliver` returns.
 * Every writev is recorded as one batch (a copy, as the kernel takes it).
 */
export class ScriptedTransport implements Transport {
  readonly counters: TransportCounters = { writeBatches: 0, readCallbacks: 0, bytesWritten: 0, bytesRead: 0, bytesCopied: 0 };
  readonly batches: Uint8Array[] = [];
  closed = false;
  private sink: TransportSink | null = null;
  /** True while `deliver` is inside the QP's onBytes: a writev then is made during the I/O phase. */
  private reading = false;
  /** For each batch: was it written while a read was being handled? */
  readonly writtenWhileReading: boolean[] = [];

  start(sink: TransportSink): void {
    this.sink = sink;
  }

  get started(): boolean {
    return this.sink !== null;
  }

  writev(chunks: readonly Uint8Array[], onWritten?: () => void): void {
    if (this.closed) return;
    const bytes = Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
    if (bytes.byteLength === 0) {
      if (onWritten) setImmediate(onWritten);
      return;
    }
    this.counters.writeBatches++;
    this.counters.bytesWritten += bytes.byteLength;
    this.batches.push(new Uint8Array(bytes));
    this.writtenWhileReading.push(this.reading);
    if (onWritten) setImmediate(onWritten);
  }

  retarget(): void {}

  shutdown(): void {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const sink = this.sink;
    if (sink !== null) setImmediate(() => sink.onClose({ kind: 'local' }));
  }

  /** The bytes, read by the QP in as many reads as its targets take, all in this one call. */
  deliver(bytes: Uint8Array): void {
    const sink = this.sink;
    if (sink === null) throw new Error('ScriptedTransport: deliver before start');
    for (let at = 0; at < bytes.byteLength;) {
      const target = sink.nextReadTarget();
      const count = Math.min(target.byteLength, bytes.byteLength - at);
      target.set(bytes.subarray(at, at + count));
      at += count;
      this.counters.readCallbacks++;
      this.counters.bytesRead += count;
      this.reading = true;
      try {
        sink.onBytes(count);
      } finally {
        this.reading = false;
      }
    }
  }

  /** Everything the QP wrote so far, as frames (its HELLO left out). */
  frames(): ParsedFrame[] {
    return parseStream(Buffer.concat(this.batches));
  }
}

export interface ScriptedPeer {
  readonly side: Side;
  readonly transport: ScriptedTransport;
  /** Frames the QP wrote, after its HELLO. */
  frames(): ParsedFrame[];
  close(): void;
}

/** One real RC QP in RTS, rq_psn and sq_psn `psn`, talking to a ScriptedTransport that has sent its HELLO. */
export async function scriptedPeer(options: { psn?: number; helloMaxDestRdAtomic?: number; side?: SideOptions } = {}): Promise<ScriptedPeer> {
  const psn = options.psn ?? 0;
  const side = makeSide(options.side);
  const transport = new ScriptedTransport();
  const fakeQpn = 0x123456;
  side.qp.modify({ qpState: 'RTR', ahAttr: { transport } as never, pathMtu: 4096, destQpNum: fakeQpn, rqPsn: psn, maxDestRdAtomic: 16, minRnrTimer: 1 },
    M.STATE | M.AV | M.PATH_MTU | M.DEST_QPN | M.RQ_PSN | M.MAX_DEST_RD_ATOMIC | M.MIN_RNR_TIMER);
  side.qp.modify({ qpState: 'RTS', sqPsn: psn, timeout: 14, retryCnt: 7, rnrRetry: 7, maxRdAtomic: 16 },
    M.STATE | M.SQ_PSN | M.TIMEOUT | M.RETRY_CNT | M.RNR_RETRY | M.MAX_QP_RD_ATOMIC);
  // The QP starts reading after the modify returns (a microtask).
  await new Promise((resolve) => setImmediate(resolve));
  if (!transport.started) throw new Error('scriptedPeer: the QP did not start its transport');
  const hello = new Uint8Array(HELLO_BYTES);
  encodeHello({ srcQpn: fakeQpn, destQpn: side.qp.qpNum, rqPsn: psn, maxMessage: 1 << 30, maxDestRdAtomic: options.helloMaxDestRdAtomic ?? 16 }, hello);
  transport.deliver(hello);
  return {
    side, transport,
    frames: () => transport.frames(),
    close: () => side.ctx.close(),
  };
}

/** Runs what the QP deferred to the end of the I/O phase (setImmediate), twice over. */
export async function endOfIoPhase(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
}
