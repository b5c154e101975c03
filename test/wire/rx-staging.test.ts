import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { NIC_LIMITS } from '../../src/abi/limits.js';
import { HEADER_BYTES, encodeHeader, type FrameHeader } from '../../src/wire/frame.js';
import { RxParser, type FrameHandler, type RxCounters } from '../../src/nic/rx-parser.js';

const COPYBREAK = NIC_LIMITS.rxCopybreakBytes;

/** Payload-carrying opcodes, whose headers are 12, 16 and 32 bytes long, and the ACK (12 bytes, no payload: its length is taken as 0). */
type DataOpcode = 'SEND' | 'SEND_WITH_IMM' | 'RDMA_WRITE' | 'ACK';
function dataHeader(opcode: DataOpcode, psn: number, payloadLength: number): FrameHeader {
  if (opcode === 'ACK') return { opcode, flags: 0, psn, payloadLength: 0 };
  if (opcode === 'RDMA_WRITE') return { opcode, flags: 0, psn, payloadLength, remoteAddr: 4096, rkey: 7 };
  return opcode === 'SEND' ? { opcode, flags: 0, psn, payloadLength } : { opcode, flags: 0, psn, payloadLength, immData: psn };
}

/** A stream of frames (SENDs unless told), each payload filled with bytes that name its frame and offset. */
function stream(lengths: readonly number[], opcodes: readonly DataOpcode[] = []): { bytes: Uint8Array; payloads: Uint8Array[]; headerEnds: number[] } {
  const payloads = lengths.map((length, frame) => {
    const payload = new Uint8Array(length);
    for (let i = 0; i < length; i++) payload[i] = (frame * 31 + i * 7) & 0xff;
    return payload;
  });
  const opcodeOf = (i: number) => opcodes[i] ?? 'SEND';
  const bytes = new Uint8Array(lengths.reduce((sum, n, i) => sum + HEADER_BYTES[opcodeOf(i)] + n, 0));
  const headerEnds: number[] = [];
  let at = 0;
  lengths.forEach((length, psn) => {
    at += encodeHeader(dataHeader(opcodeOf(psn), psn, length), bytes.subarray(at));
    headerEnds.push(at);
    bytes.set(payloads[psn]!, at);
    at += length;
  });
  return { bytes, payloads, headerEnds };
}

interface Placed { frame: number; copiedForIt: number; directBytes: number }

/** Drives an RxParser as the socket transport does: a read fills at most the lent target. */
function receive(lengths: readonly number[], chunks: (offset: number) => number, opcodes: readonly DataOpcode[] = []) {
  const { bytes, payloads, headerEnds } = stream(lengths, opcodes);
  const counters: RxCounters = { framesReceived: 0, bytesReceived: 0, bytesDiscarded: 0, rxPayloadBytesCopied: 0 };
  const destinations = lengths.map((n) => new Uint8Array(n));
  const placed: Placed[] = [];
  const failures: string[] = [];
  let frame = 0;
  let copiedBefore = 0;
  let direct = 0;
  const handler: FrameHandler = {
    onHello: () => {},
    onHeader: (header) => {
      const index = frame++;
      copiedBefore = counters.rxPayloadBytesCopied;
      direct = 0;
      expect(header.payloadLength).toBe(lengths[index]);
      expect(header.opcode).toBe(opcodes[index] ?? 'SEND');
      return { kind: 'place', segments: [destinations[index]!], done: () => placed.push({ frame: index, copiedForIt: counters.rxPayloadBytesCopied - copiedBefore, directBytes: direct }) };
    },
    onMalformed: (reason) => failures.push(reason),
    onClose: () => {},
  };
  const parser = new RxParser(handler, counters, 1 << 30, false);
  const targets: number[] = [];
  const destinationBuffers = new Set<ArrayBufferLike>(destinations.map((d) => d.buffer));
  for (let offset = 0; offset < bytes.byteLength;) {
    const target = parser.nextReadTarget();
    const count = Math.min(target.byteLength, bytes.byteLength - offset, chunks(offset));
    target.set(bytes.subarray(offset, offset + count));
    targets.push(target.byteLength);
    if (destinationBuffers.has(target.buffer)) direct += count;
    parser.onBytes(count);
    offset += count;
  }
  return { payloads, destinations, placed, failures, counters, reads: targets.length, targets, headerEnds };
}

describe('the Rx staging ring: header split and rx-copybreak', () => {
  it('64 small SENDs that arrive together cost one read; each is copied once into its buffer', () => {
    const r = receive(Array(64).fill(64), () => Infinity);
    expect(r.failures).toEqual([]);
    expect(r.placed.map((p) => p.frame)).toEqual([...Array(64).keys()]);
    expect(r.destinations.every((d, i) => Buffer.compare(d, r.payloads[i]!) === 0)).toBe(true);
    // The first header is read alone (nothing came before it), then one ring read takes the rest.
    expect(r.reads).toBe(2);
    expect(r.targets).toEqual([HEADER_BYTES.SEND, NIC_LIMITS.rxStagingBytes]);
    expect(r.counters.rxPayloadBytesCopied).toBe(64 * 64);
  });

  it('a stream of payloads at the copybreak and above is never copied: header alone, then the payload straight into place', () => {
    const lengths = [COPYBREAK, 65536, COPYBREAK + 1, 200_000];
    const r = receive(lengths, () => Infinity);
    expect(r.counters.rxPayloadBytesCopied).toBe(0);
    r.placed.forEach((p, i) => expect(p).toEqual({ frame: i, copiedForIt: 0, directBytes: lengths[i] }));
    expect(r.targets.filter((t) => t === HEADER_BYTES.SEND)).toHaveLength(lengths.length);
  });

  it('headers of other lengths: a stream of large RDMA_WRITEs (32-byte headers) is read a header at a time after the first and never copied; a large SEND after them brings only the bytes its shorter header left in that read', () => {
    const lengths = [65536, 65536, 65536, 65536, 65536];
    const opcodes: DataOpcode[] = ['RDMA_WRITE', 'RDMA_WRITE', 'RDMA_WRITE', 'SEND', 'SEND'];
    const r = receive(lengths, () => Infinity, opcodes);
    expect(r.failures).toEqual([]);
    expect(r.destinations.every((d, i) => Buffer.compare(d, r.payloads[i]!) === 0)).toBe(true);
    // Nothing is known before the first header: it takes the shortest header, then the rest of its own.
    expect(r.targets.slice(0, 2)).toEqual([HEADER_BYTES.SEND, HEADER_BYTES.RDMA_WRITE - HEADER_BYTES.SEND]);
    expect(r.placed.map((p) => p.copiedForIt)).toEqual([0, 0, 0, HEADER_BYTES.RDMA_WRITE - HEADER_BYTES.SEND, 0]);
  });

  it('traffic both ways: an ACK between large SENDs is read alone and the next payload still goes straight into place; a second ACK in a row goes back to reading the ring', () => {
    const lengths = [65536, 0, 65536, 0, 65536, 0, 0, 65536];
    const opcodes: DataOpcode[] = ['SEND', 'ACK', 'SEND', 'ACK', 'SEND', 'ACK', 'ACK', 'SEND'];
    const r = receive(lengths, () => Infinity, opcodes);
    expect(r.failures).toEqual([]);
    expect(r.destinations.every((d, i) => Buffer.compare(d, r.payloads[i]!) === 0)).toBe(true);
    expect(r.placed.map((p) => p.copiedForIt)).toEqual([0, 0, 0, 0, 0, 0, 0, 65536 - r.placed[7]!.directBytes]);
    expect(r.placed.slice(0, 7).every((p) => p.copiedForIt === 0)).toBe(true);
    // After the two ACKs in a row the last SEND came with a ring read: part of it was copied.
    expect(r.placed[7]!.copiedForIt).toBeGreaterThan(0);
  });

  it('the first large payload after small ones: the prefix that shared their read is copied, the rest is read straight into place, and the next header is read alone', () => {
    const r = receive([100, 100, 65536, 65536], () => Infinity);
    expect(r.destinations.every((d, i) => Buffer.compare(d, r.payloads[i]!) === 0)).toBe(true);
    const [, second, large, next] = r.placed;
    expect(second!.copiedForIt).toBe(100);
    expect(large!.copiedForIt + large!.directBytes).toBe(65536);
    expect(large!.copiedForIt).toBeGreaterThan(0);
    expect(large!.copiedForIt).toBeLessThan(NIC_LIMITS.rxStagingBytes);
    expect(next).toEqual({ frame: 3, copiedForIt: 0, directBytes: 65536 });
  });

  it('one parser, read after read of equal-sized frames, then sizes that shift every offset: each payload gets its own bytes (the views of the ring it copies from are reused only where they match)', () => {
    const counters: RxCounters = { framesReceived: 0, bytesReceived: 0, bytesDiscarded: 0, rxPayloadBytesCopied: 0 };
    const got: Uint8Array[] = [];
    const handler: FrameHandler = {
      onHello: () => {},
      onHeader: (header) => {
        const destination = new Uint8Array(header.payloadLength);
        got.push(destination);
        return { kind: 'place', segments: [destination], done: () => {} };
      },
      onMalformed: (reason) => { throw new Error(reason); },
      onClose: () => {},
    };
    const parser = new RxParser(handler, counters, 1 << 20, false);
    const rounds = [Array(40).fill(64), Array(40).fill(64), Array(40).fill(64), Array(40).fill(63), Array(40).fill(64), [64, 65, 64, 1, 64, 64, 0, 64]];
    let psn = 0;
    for (const [round, lengths] of rounds.entries()) {
      const { payloads } = stream(lengths);
      // Contents that differ per round: a view reused with stale bytes would show.
      const bytes = new Uint8Array(lengths.reduce((sum, n) => sum + HEADER_BYTES.SEND + n, 0));
      let at = 0;
      const expected = lengths.map((length, i) => payloads[i]!.map((byte) => byte ^ (round * 17 + 1)));
      lengths.forEach((length, i) => {
        at += encodeHeader({ opcode: 'SEND', flags: 0, psn: psn++, payloadLength: length }, bytes.subarray(at));
        bytes.set(expected[i]!, at);
        at += length;
      });
      const first = got.length;
      for (let offset = 0; offset < bytes.byteLength;) {
        const target = parser.nextReadTarget();
        const count = Math.min(target.byteLength, bytes.byteLength - offset);
        target.set(bytes.subarray(offset, offset + count));
        parser.onBytes(count);
        offset += count;
      }
      expect(got.length - first, `round ${round}`).toBe(lengths.length);
      expected.forEach((payload, i) => expect(Buffer.compare(got[first + i]!, payload), `round ${round} frame ${i}`).toBe(0));
    }
  });

  it('property: any mix of sizes and header lengths, split at any points, lands whole and in order; a large payload further than one staging ring past the last small frame, behind a header no shorter than the large frame\'s before it, is never copied', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(
        fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: COPYBREAK - 2, max: COPYBREAK + 70_000 })),
        fc.constantFrom<DataOpcode>('SEND', 'SEND', 'SEND_WITH_IMM', 'RDMA_WRITE', 'ACK'),
      ), { minLength: 1, maxLength: 30 }),
      fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 20 }),
      (frames, cuts) => {
        const lengths = frames.map(([n, opcode]) => (opcode === 'ACK' ? 0 : n));
        const opcodes = frames.map(([, opcode]) => opcode);
        let read = 0;
        const r = receive(lengths, () => cuts[read++ % cuts.length]!, opcodes);
        expect(r.failures).toEqual([]);
        expect(r.placed.map((p) => p.frame)).toEqual(lengths.map((_, i) => i));
        expect(r.destinations.every((d, i) => Buffer.compare(d, r.payloads[i]!) === 0)).toBe(true);
        expect(r.counters.framesReceived).toBe(lengths.length);
        // Only a read that starts after a small frame goes to the ring, and it takes at most the ring.
        let afterSmall: number | null = null;
        let lastLargeHeader = HEADER_BYTES.SEND;
        lengths.forEach((n, i) => {
          const headerEnd = r.headerEnds[i]!;
          const headerBytes = HEADER_BYTES[opcodes[i]!];
          if (n >= COPYBREAK && headerBytes >= lastLargeHeader && (afterSmall === null || headerEnd - afterSmall > NIC_LIMITS.rxStagingBytes)) expect(r.placed[i]!.copiedForIt).toBe(0);
          // A header shorter than the one a header-only read expected brings the difference along.
          if (n >= COPYBREAK && afterSmall === null) expect(r.placed[i]!.copiedForIt).toBeLessThanOrEqual(Math.max(0, lastLargeHeader - headerBytes));
          expect(r.placed[i]!.copiedForIt + r.placed[i]!.directBytes).toBe(n);
          if (n < COPYBREAK) afterSmall = headerEnd + n;
          else lastLargeHeader = headerBytes;
        });
      },
    ), { numRuns: 100 });
  });
});
