import { FRAME_HEADER_BYTES, HELLO_BYTES, decodeHeader, decodeHello, type FrameHeader, type Hello } from '../wire/frame.js';
import type { TransportCloseReason, TransportSink } from '../transport/types.js';
import { DISCARD_AREA } from './discard-area.js';
import { pin, release, type Registration } from './memory.js';

/** Where a frame's payload goes: straight into final memory, or thrown away. */
export type Placement =
  /** `regions`: what the segments lie in, pinned while the payload is read (dereg waits: EBUSY). */
  | { kind: 'place'; segments: readonly Uint8Array[]; done: () => void; regions?: readonly Registration[] }
  | { kind: 'discard'; done?: () => void }
  /** Small control text (TERMINATE reasons): the one place bytes are copied, never payload. */
  | { kind: 'text'; done: (text: string) => void };

/** What the QP engine does with a stream of frames. */
export interface FrameHandler {
  onHello(hello: Hello): void;
  /** Validate, decide and return where the payload (if any) lands. Never throws for peer input. */
  onHeader(header: FrameHeader): Placement;
  onMalformed(reason: string): void;
  onClose(reason: TransportCloseReason): void;
}

export interface RxCounters {
  framesReceived: number;
  bytesReceived: number;
  bytesDiscarded: number;
}


type Mode = 'hello' | 'header' | 'payload' | 'dead';

/**
 * The receive path of one RC QP (siw's qp_rx): reads exactly one header at a time into a small
 * buffer, then points the kernel's read() at the payload's destination, segment by segment. No
 * payload byte is copied in user space.
 */
export class RxParser implements TransportSink {
  private mode: Mode;
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES);
  private readonly hello = new Uint8Array(HELLO_BYTES);
  private filled = 0;
  private segments: readonly Uint8Array[] = [];
  private segmentIndex = 0;
  private segmentOffset = 0;
  private discardLeft = 0;
  private textBuffer: Uint8Array | null = null;
  private finish: (() => void) | null = null;
  /** The regions the payload being read lands in (released when it is placed or the QP fails). */
  private pinned: readonly Registration[] = [];
  private target: Uint8Array | null = null;

  constructor(
    private readonly handler: FrameHandler,
    private readonly counters: RxCounters,
    private readonly maxPayload: number,
    expectHello: boolean,
  ) {
    this.mode = expectHello ? 'hello' : 'header';
  }

  nextReadTarget(): Uint8Array {
    switch (this.mode) {
      case 'hello':
        this.target = this.hello.subarray(this.filled);
        break;
      case 'header':
        this.target = this.header.subarray(this.filled);
        break;
      case 'payload':
        if (this.discardLeft > 0) {
          this.target = DISCARD_AREA.subarray(0, Math.min(this.discardLeft, DISCARD_AREA.byteLength));
        } else if (this.textBuffer !== null) {
          this.target = this.textBuffer.subarray(this.filled);
        } else {
          const segment = this.segments[this.segmentIndex]!;
          this.target = segment.subarray(this.segmentOffset);
        }
        break;
      case 'dead':
        // A failed QP still drains its socket until the transport is closed.
        this.target = DISCARD_AREA;
        break;
    }
    if (this.target.byteLength === 0) throw new Error(`RxParser invariant: empty read target in mode ${this.mode}`);
    return this.target;
  }

  onBytes(count: number): void {
    if (this.target === null || count <= 0 || count > this.target.byteLength) {
      throw new Error(`RxParser invariant: ${count} bytes reported for a target of ${this.target?.byteLength ?? 0}`);
    }
    this.counters.bytesReceived += count;
    this.target = null;
    switch (this.mode) {
      case 'hello':
        this.filled += count;
        if (this.filled === HELLO_BYTES) {
          this.filled = 0;
          const hello = decodeHello(this.hello);
          if (!hello.ok) return this.malformed(hello.reason);
          this.mode = 'header';
          this.handler.onHello(hello.value);
        }
        return;
      case 'header':
        this.filled += count;
        if (this.filled === FRAME_HEADER_BYTES) {
          this.filled = 0;
          this.onHeader();
        }
        return;
      case 'payload':
        this.onPayloadBytes(count);
        return;
      case 'dead':
        this.counters.bytesDiscarded += count;
        return;
    }
  }

  onClose(reason: TransportCloseReason): void {
    this.mode = 'dead';
    this.handler.onClose(reason);
  }

  /** Stops interpreting the stream (the QP failed); bytes still arriving are drained. */
  kill(): void {
    this.mode = 'dead';
    this.unpin();
  }

  private unpin(): void {
    release(this.pinned);
    this.pinned = [];
  }

  private malformed(reason: string): void {
    this.mode = 'dead';
    this.handler.onMalformed(reason);
  }

  private onHeader(): void {
    const decoded = decodeHeader(this.header, { maxPayload: this.maxPayload });
    if (!decoded.ok) return this.malformed(decoded.reason);
    this.counters.framesReceived++;
    const header = decoded.value;
    const placement = this.handler.onHeader(header);
    if (this.mode === 'dead') return;
    const length = header.payloadLength;
    if (placement.kind === 'place') {
      const placed = placement.segments.reduce((sum, s) => sum + s.byteLength, 0);
      if (placed !== length) throw new Error(`RxParser invariant: placement of ${placed} bytes for a ${length}-byte payload`);
      this.segments = placement.segments.filter((s) => s.byteLength > 0);
      this.segmentIndex = 0;
      this.segmentOffset = 0;
      this.finish = placement.done;
      this.pinned = placement.regions ?? [];
      pin(this.pinned);
    } else if (placement.kind === 'discard') {
      this.discardLeft = length;
      this.finish = placement.done ?? null;
    } else {
      // endPayload clears textBuffer before it calls finish: the text is decoded from this one.
      const text = new Uint8Array(length);
      this.textBuffer = text;
      this.finish = () => placement.done(new TextDecoder().decode(text));
    }
    if (length === 0) return this.endPayload();
    this.mode = 'payload';
  }

  private onPayloadBytes(count: number): void {
    if (this.discardLeft > 0) {
      this.discardLeft -= count;
      this.counters.bytesDiscarded += count;
      if (this.discardLeft === 0) this.endPayload();
      return;
    }
    if (this.textBuffer !== null) {
      this.filled += count;
      if (this.filled === this.textBuffer.byteLength) this.endPayload();
      return;
    }
    this.segmentOffset += count;
    if (this.segmentOffset === this.segments[this.segmentIndex]!.byteLength) {
      this.segmentIndex++;
      this.segmentOffset = 0;
      if (this.segmentIndex === this.segments.length) this.endPayload();
    }
  }

  private endPayload(): void {
    const finish = this.finish;
    this.finish = null;
    this.unpin();
    this.segments = [];
    this.textBuffer = null;
    this.filled = 0;
    this.discardLeft = 0;
    if (this.mode !== 'dead') this.mode = 'header';
    finish?.();
  }
}
