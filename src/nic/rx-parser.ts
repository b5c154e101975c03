import { HELLO_BYTES, MIN_FRAME_HEADER_BYTES, decodeHello, headerBytesForCode, parseHeaderIn, type FrameHeader, type Hello, type ScratchHeader } from '../wire/frame.js';
import type { TransportCloseReason, TransportSink } from '../transport/types.js';
import { NIC_LIMITS } from '../abi/limits.js';
import { DISCARD_AREA } from './discard-area.js';
import { pin, release, type Registration } from './memory.js';

const { rxStagingBytes: STAGING_BYTES, rxCopybreakBytes: COPYBREAK, rxRingSliceSlots: SLICE_SLOTS } = NIC_LIMITS;
// Not frozen, like every array the hot path indexes: optimized code sends a keyed load from a
// frozen array (its own elements kind) to V8's generic IC, measured at ~8 % of the receive path.
const NO_SEGMENTS: readonly Uint8Array[] = [];
const NO_REGIONS: readonly Registration[] = [];

/** Where a frame's payload goes: straight into final memory, or thrown away. */
export type Placement =
  /** `regions`: what the segments lie in, pinned while the payload is read (dereg waits: EBUSY). */
  | { kind: 'place'; segments: readonly Uint8Array[]; done: () => void; regions?: readonly Registration[] }
  | { kind: 'discard'; done?: () => void }
  /** Small control text (TERMINATE reasons), copied out of the stream. */
  | { kind: 'text'; done: (text: string) => void };

/** The payload (if any) is dropped and nothing follows: one shared object, as most frames answer this. */
export const DISCARD: Placement = Object.freeze({ kind: 'discard' });

/** What the QP engine does with a stream of frames. */
export interface FrameHandler {
  onHello(hello: Hello): void;
  /**
   * Validate, decide and return where the payload (if any) lands. Never throws for peer input.
   * The header is the parser's to reuse once this returns: keep its fields, never the object.
   */
  onHeader(header: FrameHeader): Placement;
  onMalformed(reason: string): void;
  onClose(reason: TransportCloseReason): void;
}

export interface RxCounters {
  framesReceived: number;
  bytesReceived: number;
  bytesDiscarded: number;
  /** Payload bytes copied from the staging ring into their destination (small payloads). */
  rxPayloadBytesCopied: number;
}

type Mode = 'hello' | 'header' | 'payload' | 'dead';

/**
 * The receive path of one RC QP (siw's qp_rx, with a NIC driver's rx-copybreak and header split).
 *
 * While a header is expected the kernel's read() lands in a per-QP staging ring, and every
 * complete frame in it is parsed and placed at once: a burst of small messages costs one read.
 * A payload below the copybreak is copied from the ring to its posted buffer or MR range; of a
 * larger one the part already in the ring is copied and the rest is read straight into its
 * destination. After a frame at or above the copybreak the next read takes one header, of the
 * length that frame's header had (the first byte of a header gives its length; a longer one is
 * finished by one more read, a shorter one brings the first bytes of what follows), so a stream
 * of large payloads of one opcode is placed with no user-space copy at all. A large frame whose
 * header shared a ring read with frames before it has the part of its payload in that read
 * copied (docs/wire.md §8).
 *
 * Every header is validated and placed by the handler before any of its payload bytes move.
 */
export class RxParser implements TransportSink {
  private mode: Mode;
  private readonly hello = new Uint8Array(HELLO_BYTES);
  private readonly ring = new Uint8Array(STAGING_BYTES);
  /** Headers are decoded through this one view of the ring (no `.buffer` lookup per frame). */
  private readonly ringView = new DataView(this.ring.buffer, this.ring.byteOffset, this.ring.byteLength);
  /** ring[sliceStart[i], + sliceLength[i]) is ringSlices[i]: what the last copy from an offset with these low bits used. */
  private readonly ringSlices: Uint8Array[] = Array.from({ length: SLICE_SLOTS }, () => this.ring);
  private readonly sliceStart = new Int32Array(SLICE_SLOTS).fill(-1);
  private readonly sliceLength = new Int32Array(SLICE_SLOTS);
  /** Unparsed bytes are ring[ringStart, ringEnd); outside 'header' mode the ring is empty. */
  private ringStart = 0;
  private ringEnd = 0;
  /** The next read takes one header only: the last frame was large (or none came yet). */
  private headerOnly = true;
  /**
   * How much a header-only read takes before the next header's first byte is known: the length
   * of the last large frame's header, as a stream of large frames repeats its opcode. A shorter
   * header than that brings the first bytes of its payload along, copied out of the ring.
   */
  private expectedHeaderBytes = MIN_FRAME_HEADER_BYTES;
  /**
   * A frame without payload (an ACK, most often) read alone after a large frame keeps the next
   * read to one header, once: a connection with large messages both ways has an ACK between
   * them, and each would otherwise send the next large payload through the ring. A second one in
   * a row goes back to ring reads (a run of READ requests or ACKs is read in bulk).
   */
  private zeroPayloadGrace = false;
  /** The payload being read is small: its bytes, and whatever follows them, go through the ring. */
  private stagePayload = false;
  private filled = 0;
  private segments: readonly Uint8Array[] = NO_SEGMENTS;
  private segmentIndex = 0;
  private segmentOffset = 0;
  private discardLeft = 0;
  private textBuffer: Uint8Array | null = null;
  private finish: (() => void) | null = null;
  /** The regions the payload being read lands in (released when it is placed or the QP fails). */
  private pinned: readonly Registration[] = NO_REGIONS;
  private target: Uint8Array | null = null;
  /** SEND and ACK headers are decoded into this one object (FrameHandler.onHeader keeps none). */
  private readonly scratchHeader: ScratchHeader = { opcode: 'SEND', flags: 0, psn: 0, payloadLength: 0 };

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
        // Only a partial header is ever left over, at the ring's start: its first byte says how long it is.
        // An empty ring is lent whole, as itself: no view per read (an ACK stream's every read).
        if (!this.headerOnly) this.target = this.ringEnd === 0 ? this.ring : this.ring.subarray(this.ringEnd);
        else this.target = this.ring.subarray(this.ringEnd, this.ringEnd === 0 ? this.expectedHeaderBytes : headerBytesForCode(this.ring[0]!));
        break;
      case 'payload':
        // The ring is empty here: a small payload after a header read alone comes with what follows.
        this.target = this.stagePayload ? this.ring : this.payloadTarget();
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
        this.ringEnd += count;
        this.parseRing();
        return;
      case 'payload':
        if (!this.stagePayload) return this.advancePayload(count);
        this.ringEnd += count;
        this.copyFromRing(Math.min(count, this.payloadLeft()));
        this.parseRing();
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

  private payloadTarget(): Uint8Array {
    if (this.discardLeft > 0) return DISCARD_AREA.subarray(0, Math.min(this.discardLeft, DISCARD_AREA.byteLength));
    if (this.textBuffer !== null) return this.textBuffer.subarray(this.filled);
    return this.segments[this.segmentIndex]!.subarray(this.segmentOffset);
  }

  /** Takes every complete frame out of the ring; leaves at most a partial header, moved to its start. */
  private parseRing(): void {
    while (this.mode === 'header' && this.ringEnd > this.ringStart) {
      const at = this.ringStart;
      // 0 for a byte that is no opcode: onHeader refuses it having read that byte alone.
      const headerBytes = headerBytesForCode(this.ring[at]!);
      if (this.ringEnd - at < headerBytes) break;
      this.ringStart += headerBytes;
      this.onHeader(at, headerBytes);
      if ((this.mode as Mode) !== 'payload') continue;
      // The payload's first bytes may already be here: copy what the ring holds, read the rest.
      const staged = Math.min(this.ringEnd - this.ringStart, this.payloadLeft());
      if (staged > 0) this.copyFromRing(staged);
    }
    const left = this.ringEnd - this.ringStart;
    if (this.mode === 'dead') {
      this.counters.bytesDiscarded += left;
      this.ringStart = this.ringEnd = 0;
      return;
    }
    if (left > 0 && (this.mode !== 'header' || left >= headerBytesForCode(this.ring[this.ringStart]!))) throw new Error(`RxParser invariant: ${left} unparsed bytes left in mode ${this.mode}`);
    if (left > 0 && this.ringStart > 0) this.ring.copyWithin(0, this.ringStart, this.ringEnd);
    this.ringStart = 0;
    this.ringEnd = left;
  }

  private payloadLeft(): number {
    if (this.discardLeft > 0) return this.discardLeft;
    if (this.textBuffer !== null) return this.textBuffer.byteLength - this.filled;
    let left = this.segments[this.segmentIndex]!.byteLength - this.segmentOffset;
    for (let i = this.segmentIndex + 1; i < this.segments.length; i++) left += this.segments[i]!.byteLength;
    return left;
  }

  /** Moves `count` staged bytes (no more than the payload still needs) to where the payload goes. */
  private copyFromRing(count: number): void {
    while (count > 0 && this.mode === 'payload') {
      let take: number;
      if (this.discardLeft > 0) {
        take = Math.min(count, this.discardLeft);
      } else if (this.textBuffer !== null) {
        take = Math.min(count, this.textBuffer.byteLength - this.filled);
        this.textBuffer.set(this.ring.subarray(this.ringStart, this.ringStart + take), this.filled);
      } else {
        // TypedArray#set of a ring view: measured faster than Buffer#copy (which makes the same view inside).
        const segment = this.segments[this.segmentIndex]!;
        take = Math.min(count, segment.byteLength - this.segmentOffset);
        segment.set(this.ringSlice(this.ringStart, take), this.segmentOffset);
        this.counters.rxPayloadBytesCopied += take;
      }
      this.ringStart += take;
      count -= take;
      this.advancePayload(take);
    }
  }

  /** ring[start, start + length), as the view made for the last copy from there when it matches. */
  private ringSlice(start: number, length: number): Uint8Array {
    const slot = start & (SLICE_SLOTS - 1);
    if (this.sliceStart[slot] === start && this.sliceLength[slot] === length) return this.ringSlices[slot]!;
    const slice = this.ring.subarray(start, start + length);
    this.ringSlices[slot] = slice;
    this.sliceStart[slot] = start;
    this.sliceLength[slot] = length;
    return slice;
  }

  private unpin(): void {
    release(this.pinned);
    this.pinned = NO_REGIONS;
  }

  private malformed(reason: string): void {
    this.mode = 'dead';
    this.handler.onMalformed(reason);
  }

  private onHeader(at: number, headerBytes: number): void {
    const header = parseHeaderIn(this.ringView, at, this.maxPayload, this.scratchHeader);
    if (typeof header === 'string') return this.malformed(header);
    this.counters.framesReceived++;
    const length = header.payloadLength;
    if (length >= COPYBREAK) {
      this.headerOnly = true;
      this.expectedHeaderBytes = headerBytes;
      this.zeroPayloadGrace = true;
    } else if (length === 0 && this.headerOnly && this.zeroPayloadGrace) {
      this.zeroPayloadGrace = false;
    } else {
      this.headerOnly = false;
    }
    this.stagePayload = !this.headerOnly;
    const placement = this.handler.onHeader(header);
    if (this.mode === 'dead') return;
    if (placement.kind === 'place') {
      const { segments } = placement;
      let placed = 0;
      let empty = 0;
      for (let i = 0; i < segments.length; i++) {
        placed += segments[i]!.byteLength;
        if (segments[i]!.byteLength === 0) empty++;
      }
      if (placed !== length) throw new Error(`RxParser invariant: placement of ${placed} bytes for a ${length}-byte payload`);
      this.segments = empty === 0 ? segments : segments.filter((s) => s.byteLength > 0);
      this.segmentIndex = 0;
      this.segmentOffset = 0;
      this.finish = placement.done;
      this.pinned = placement.regions ?? NO_REGIONS;
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

  private advancePayload(count: number): void {
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
    this.segments = NO_SEGMENTS;
    this.textBuffer = null;
    this.filled = 0;
    this.discardLeft = 0;
    if (this.mode !== 'dead') this.mode = 'header';
    finish?.();
  }
}
