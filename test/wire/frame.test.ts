import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RNR_TIMER_MS } from '../../src/nic/work-queues.js';
import {
  FrameFlag, HEADER_BYTES, HELLO_BYTES, HELLO_MAGIC, MAX_FRAME_HEADER_BYTES, MAX_PSN, MAX_TERMINATE_TEXT, MIN_FRAME_HEADER_BYTES, NakCode, Opcode, WIRE_VERSION, WireEncodeError,
  decodeHeader, decodeHello, encodeHeader, encodeHeaderAt, encodeHeaderIn, encodeHello, headerBytesForCode, headerBytesOf, parseHeaderAt, psnAdd, psnDistance,
  type DecodeLimits, type Decoded, type FrameHeader, type Hello, type NakCodeName, type OpcodeName, type ScratchHeader,
} from '../../src/wire/frame.js';

/*
 * The wire codec (src/wire/frame.ts, wire version 2) against docs/wire.md: each opcode's header
 * length, round trips for every opcode at that length, the worked examples of the doc byte for
 * byte, every validation rule, and fuzzing of both decoders. A version-2 header is the first
 * HEADER_BYTES[opcode] bytes of the version-1 48-byte layout: nothing may be written or read
 * past that length.
 */

const U32 = 0xffffffff;
const U64 = (1n << 64n) - 1n;
const NO_LIMIT: DecodeLimits = { maxPayload: U32 };
const OPCODES = Object.keys(Opcode) as OpcodeName[];
const NAK_CODES = Object.keys(NakCode) as NakCodeName[];
const REQUEST_OPCODES: readonly OpcodeName[] = ['SEND', 'SEND_WITH_IMM', 'RDMA_WRITE', 'RDMA_WRITE_WITH_IMM', 'RDMA_READ_REQUEST', 'ATOMIC_CMP_AND_SWP', 'ATOMIC_FETCH_AND_ADD'];
const ALL_FLAGS = FrameFlag.SOLICITED | FrameFlag.FENCE;
const CODES = new Set<number>(Object.values(Opcode));
const NOT_OPCODES = Array.from({ length: 256 }, (_, code) => code).filter((code) => !CODES.has(code));

/** The version-2 header lengths, as specified (docs/wire.md §3.2), written out independently of the code. */
const SPEC_HEADER_BYTES: Record<OpcodeName, number> = {
  SEND: 12, ACK: 12, RDMA_READ_RESPONSE: 12,
  SEND_WITH_IMM: 16, TERMINATE: 16,
  NAK: 20,
  RDMA_WRITE: 32, RDMA_WRITE_WITH_IMM: 32, RDMA_READ_REQUEST: 32,
  ATOMIC_RESPONSE: 40,
  ATOMIC_CMP_AND_SWP: 48, ATOMIC_FETCH_AND_ADD: 48,
};

// ---- helpers -------------------------------------------------------------------------------------

/** The header's bytes, exactly as long as encodeHeader says it wrote (checked against the spec). */
function encode(header: FrameHeader): Uint8Array {
  const out = new Uint8Array(MAX_FRAME_HEADER_BYTES);
  const written = encodeHeader(header, out);
  expect(written).toBe(SPEC_HEADER_BYTES[header.opcode]);
  return out.slice(0, written);
}

/** `bytes` as the last bytes of their own ArrayBuffer: any DataView read past their end throws RangeError. */
function atBufferEnd(bytes: Uint8Array, before = 7): Uint8Array {
  const backing = new Uint8Array(before + bytes.byteLength).fill(0x5a);
  backing.set(bytes, before);
  return backing.subarray(before);
}

function helloBytes(hello: Hello): Uint8Array {
  const bytes = new Uint8Array(HELLO_BYTES);
  encodeHello(hello, bytes);
  return bytes;
}

/** The hex dump format used in docs/wire.md: 16 bytes a line, 4-digit hex offset, two spaces. */
function hexDump(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let at = 0; at < bytes.byteLength; at += 16) {
    const row = [...bytes.subarray(at, at + 16)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    lines.push(`${at.toString(16).padStart(4, '0')}  ${row}`);
  }
  return lines.join('\n');
}

function mutated(bytes: Uint8Array, change: (bytes: Uint8Array, view: DataView) => void): Uint8Array {
  const copy = bytes.slice();
  change(copy, new DataView(copy.buffer, copy.byteOffset, copy.byteLength));
  return copy;
}

/** `bytes` followed by `tail`: what a receive buffer holds when the header is followed by a payload or the next frame. */
function followedBy(bytes: Uint8Array, tail: ArrayLike<number>): Uint8Array {
  return Uint8Array.from([...bytes, ...Array.from(tail)]);
}

function rejection<T>(result: Decoded<T>): string {
  if (result.ok) throw new Error(`expected a rejection, got ${JSON.stringify(result.value, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))}`);
  return result.reason;
}

/** Opcode, flags, reserved, PSN, payloadLength: the fields of every header. */
const COMMON_BYTES = 12;
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const roundUp4 = (n: number) => Math.ceil(n / 4) * 4;

// ---- arbitraries -----------------------------------------------------------------------------------

const u32 = fc.integer({ min: 0, max: U32 });
const psn = fc.integer({ min: 0, max: MAX_PSN });
const requestFlags = fc.integer({ min: 0, max: ALL_FLAGS });
const remoteAddr = fc.maxSafeNat();
const u64 = fc.bigInt({ min: 0n, max: U64 });
const payloadLength = fc.oneof(fc.integer({ min: 0, max: 4096 }), u32);

/** Every header the decoder must accept and give back unchanged, per opcode. */
const VALID: Record<OpcodeName, fc.Arbitrary<FrameHeader>> = {
  SEND: fc.record({ opcode: fc.constant('SEND' as const), flags: requestFlags, psn, payloadLength }),
  SEND_WITH_IMM: fc.record({ opcode: fc.constant('SEND_WITH_IMM' as const), flags: requestFlags, psn, payloadLength, immData: u32 }),
  RDMA_WRITE: fc.record({ opcode: fc.constant('RDMA_WRITE' as const), flags: requestFlags, psn, payloadLength, remoteAddr, rkey: u32 }),
  RDMA_WRITE_WITH_IMM: fc.record({ opcode: fc.constant('RDMA_WRITE_WITH_IMM' as const), flags: requestFlags, psn, payloadLength, immData: u32, remoteAddr, rkey: u32 }),
  RDMA_READ_REQUEST: fc.record({ opcode: fc.constant('RDMA_READ_REQUEST' as const), flags: requestFlags, psn, payloadLength: fc.constant(0 as const), remoteAddr, rkey: u32, length: u32 }),
  RDMA_READ_RESPONSE: fc.record({ opcode: fc.constant('RDMA_READ_RESPONSE' as const), flags: fc.constant(0 as const), psn, payloadLength }),
  ATOMIC_CMP_AND_SWP: fc.record({ opcode: fc.constant('ATOMIC_CMP_AND_SWP' as const), flags: requestFlags, psn, payloadLength: fc.constant(0 as const), remoteAddr, rkey: u32, compareAdd: u64, swap: u64 }),
  ATOMIC_FETCH_AND_ADD: fc.record({ opcode: fc.constant('ATOMIC_FETCH_AND_ADD' as const), flags: requestFlags, psn, payloadLength: fc.constant(0 as const), remoteAddr, rkey: u32, compareAdd: u64, swap: fc.constant(0n) }),
  ATOMIC_RESPONSE: fc.record({ opcode: fc.constant('ATOMIC_RESPONSE' as const), flags: fc.constant(0 as const), psn, payloadLength: fc.constant(0 as const), original: u64 }),
  ACK: fc.record({ opcode: fc.constant('ACK' as const), flags: fc.constant(0 as const), psn, payloadLength: fc.constant(0 as const) }),
  NAK: fc.oneof(
    fc.record({ opcode: fc.constant('NAK' as const), flags: fc.constant(0 as const), psn, payloadLength: fc.constant(0 as const), code: fc.constant('RNR' as const), rnrTimer: fc.integer({ min: 0, max: 31 }) }),
    fc.record({ opcode: fc.constant('NAK' as const), flags: fc.constant(0 as const), psn, payloadLength: fc.constant(0 as const), code: fc.constantFrom(...NAK_CODES.filter((c) => c !== 'RNR')), rnrTimer: fc.constant(0) }),
  ),
  TERMINATE: fc.record({ opcode: fc.constant('TERMINATE' as const), flags: fc.constant(0 as const), psn: fc.constant(0 as const), payloadLength: fc.integer({ min: 0, max: MAX_TERMINATE_TEXT }), reason: u32 }),
};
const anyValidHeader = fc.oneof(...OPCODES.map((op) => VALID[op]));
/** Bytes after a header: its payload, or the next frame. The decoder must not look at them. */
const tail = fc.uint8Array({ minLength: 1, maxLength: 48, size: 'max' });

/**
 * Headers with every field the encoder accepts at its largest value (so every byte of every field
 * is non-zero, the last one included). A SEND is also given an immData: the type allows one, the
 * wire has no room for it. The encoder writes FETCH_AND_ADD's swap only as 0.
 */
const MAXED: Record<OpcodeName, readonly FrameHeader[]> = {
  SEND: [{ opcode: 'SEND', flags: ALL_FLAGS, psn: MAX_PSN, payloadLength: U32, immData: U32 }],
  SEND_WITH_IMM: [{ opcode: 'SEND_WITH_IMM', flags: ALL_FLAGS, psn: MAX_PSN, payloadLength: U32, immData: U32 }],
  RDMA_WRITE: [{ opcode: 'RDMA_WRITE', flags: ALL_FLAGS, psn: MAX_PSN, payloadLength: U32, remoteAddr: Number.MAX_SAFE_INTEGER, rkey: U32 }],
  RDMA_WRITE_WITH_IMM: [{ opcode: 'RDMA_WRITE_WITH_IMM', flags: ALL_FLAGS, psn: MAX_PSN, payloadLength: U32, immData: U32, remoteAddr: Number.MAX_SAFE_INTEGER, rkey: U32 }],
  RDMA_READ_REQUEST: [{ opcode: 'RDMA_READ_REQUEST', flags: ALL_FLAGS, psn: MAX_PSN, payloadLength: 0, remoteAddr: Number.MAX_SAFE_INTEGER, rkey: U32, length: U32 }],
  RDMA_READ_RESPONSE: [{ opcode: 'RDMA_READ_RESPONSE', flags: 0, psn: MAX_PSN, payloadLength: U32 }],
  ATOMIC_CMP_AND_SWP: [{ opcode: 'ATOMIC_CMP_AND_SWP', flags: ALL_FLAGS, psn: MAX_PSN, payloadLength: 0, remoteAddr: Number.MAX_SAFE_INTEGER, rkey: U32, compareAdd: U64, swap: U64 }],
  ATOMIC_FETCH_AND_ADD: [{ opcode: 'ATOMIC_FETCH_AND_ADD', flags: ALL_FLAGS, psn: MAX_PSN, payloadLength: 0, remoteAddr: Number.MAX_SAFE_INTEGER, rkey: U32, compareAdd: U64, swap: 0n }],
  ATOMIC_RESPONSE: [{ opcode: 'ATOMIC_RESPONSE', flags: 0, psn: MAX_PSN, payloadLength: 0, original: U64 }],
  ACK: [{ opcode: 'ACK', flags: 0, psn: MAX_PSN, payloadLength: 0 }],
  NAK: [
    { opcode: 'NAK', flags: 0, psn: MAX_PSN, payloadLength: 0, code: 'RNR', rnrTimer: 31 },
    { opcode: 'NAK', flags: 0, psn: MAX_PSN, payloadLength: 0, code: 'REMOTE_OPERATIONAL_ERROR', rnrTimer: 0 },
  ],
  TERMINATE: [{ opcode: 'TERMINATE', flags: 0, psn: 0, payloadLength: MAX_TERMINATE_TEXT, reason: U32 }],
};

const helloArb: fc.Arbitrary<Hello> = fc.record({
  srcQpn: fc.integer({ min: 0, max: MAX_PSN }),
  destQpn: fc.integer({ min: 0, max: MAX_PSN }),
  rqPsn: fc.integer({ min: 0, max: MAX_PSN }),
  maxMessage: u32,
  maxDestRdAtomic: fc.integer({ min: 0, max: 255 }),
});

/**
 * Bytes each opcode requires to be zero (besides flags), straight from docs/wire.md §3.2: only
 * bytes inside the opcode's header; what v1 required of bytes past it is gone with those bytes.
 */
const MUST_BE_ZERO: Record<OpcodeName, readonly number[]> = {
  SEND: [],
  SEND_WITH_IMM: [],
  RDMA_WRITE: [...range(12, 15)],
  RDMA_WRITE_WITH_IMM: [],
  RDMA_READ_REQUEST: [...range(8, 15)],
  RDMA_READ_RESPONSE: [],
  ATOMIC_CMP_AND_SWP: [...range(8, 15)],
  ATOMIC_FETCH_AND_ADD: [...range(8, 15), ...range(40, 47)],
  ATOMIC_RESPONSE: [...range(8, 31)],
  ACK: [...range(8, 11)],
  NAK: [...range(8, 11), ...range(17, 19)],
  TERMINATE: [5, 6, 7],
};
/** Every opcode: reserved bytes 2..3 and the top byte of the PSN (24-bit). */
const ALWAYS_ZERO = [2, 3, 4];

// ---- invariants a decoded value must satisfy --------------------------------------------------------

function expectInRange(value: FrameHeader, limits: DecodeLimits): void {
  expect(OPCODES).toContain(value.opcode);
  expect(Number.isInteger(value.psn) && value.psn >= 0 && value.psn <= MAX_PSN).toBe(true);
  // A TERMINATE's text has its own cap (MAX_TERMINATE_TEXT); every other payload is bounded by the limits.
  const payloadCap = value.opcode === 'TERMINATE' ? MAX_TERMINATE_TEXT : limits.maxPayload;
  expect(Number.isInteger(value.payloadLength) && value.payloadLength >= 0 && value.payloadLength <= payloadCap).toBe(true);
  expect(value.flags & ~ALL_FLAGS).toBe(0);
  if (!REQUEST_OPCODES.includes(value.opcode)) expect(value.flags).toBe(0);
  const isU32 = (n: number) => Number.isInteger(n) && n >= 0 && n <= U32;
  const isU64 = (n: bigint) => n >= 0n && n <= U64;
  switch (value.opcode) {
    case 'SEND':
      expect(value).not.toHaveProperty('immData');
      break;
    case 'SEND_WITH_IMM':
      expect(isU32(value.immData!)).toBe(true);
      break;
    case 'RDMA_WRITE':
    case 'RDMA_WRITE_WITH_IMM':
      expect(Number.isSafeInteger(value.remoteAddr) && value.remoteAddr >= 0).toBe(true);
      expect(isU32(value.rkey)).toBe(true);
      if (value.opcode === 'RDMA_WRITE_WITH_IMM') expect(isU32(value.immData!)).toBe(true);
      break;
    case 'RDMA_READ_REQUEST':
      expect(value.payloadLength).toBe(0);
      expect(Number.isSafeInteger(value.remoteAddr) && value.remoteAddr >= 0).toBe(true);
      expect(isU32(value.rkey)).toBe(true);
      expect(value.length).toBeLessThanOrEqual(limits.maxPayload);
      break;
    case 'ATOMIC_CMP_AND_SWP':
    case 'ATOMIC_FETCH_AND_ADD':
      expect(value.payloadLength).toBe(0);
      expect(Number.isSafeInteger(value.remoteAddr) && value.remoteAddr >= 0).toBe(true);
      expect(isU64(value.compareAdd) && isU64(value.swap)).toBe(true);
      if (value.opcode === 'ATOMIC_FETCH_AND_ADD') expect(value.swap).toBe(0n);
      break;
    case 'ATOMIC_RESPONSE':
      expect(value.payloadLength).toBe(0);
      expect(isU64(value.original)).toBe(true);
      break;
    case 'ACK':
      expect(value.payloadLength).toBe(0);
      break;
    case 'NAK':
      expect(value.payloadLength).toBe(0);
      expect(NAK_CODES).toContain(value.code);
      expect(value.rnrTimer >= 0 && value.rnrTimer <= 31).toBe(true);
      if (value.code !== 'RNR') expect(value.rnrTimer).toBe(0);
      break;
    case 'TERMINATE':
      expect(value.psn).toBe(0);
      expect(value.payloadLength).toBeLessThanOrEqual(MAX_TERMINATE_TEXT);
      expect(isU32(value.reason)).toBe(true);
      break;
    case 'RDMA_READ_RESPONSE':
      break;
  }
}

/**
 * decodeHeader never throws, whatever the bytes and their length; an accepted header is in range
 * and re-encodes to the same bytes of its length (the first HEADER_BYTES[opcode] bytes given).
 */
function checkHeaderDecode(bytes: Uint8Array, limits: DecodeLimits): void {
  let result: Decoded<FrameHeader> | undefined;
  expect(() => { result = decodeHeader(bytes, limits); }).not.toThrow();
  if (result!.ok) {
    expectInRange(result!.value, limits);
    expect(encode(result!.value)).toEqual(bytes.slice(0, SPEC_HEADER_BYTES[result!.value.opcode]));
  } else {
    expect(typeof result!.reason).toBe('string');
    expect(result!.reason.length).toBeGreaterThan(0);
  }
}

function checkHelloDecode(bytes: Uint8Array): void {
  let result: Decoded<Hello> | undefined;
  expect(() => { result = decodeHello(bytes); }).not.toThrow();
  if (result!.ok) {
    const h = result!.value;
    for (const field of [h.srcQpn, h.destQpn, h.rqPsn]) expect(Number.isInteger(field) && field >= 0 && field <= MAX_PSN).toBe(true);
    expect(Number.isInteger(h.maxMessage) && h.maxMessage >= 0 && h.maxMessage <= U32).toBe(true);
    expect(Number.isInteger(h.maxDestRdAtomic) && h.maxDestRdAtomic >= 0 && h.maxDestRdAtomic <= 255).toBe(true);
    expect(helloBytes(h)).toEqual(bytes.slice(0, HELLO_BYTES));
  } else {
    expect(typeof result!.reason).toBe('string');
    expect(result!.reason.length).toBeGreaterThan(0);
  }
}

// ---- header lengths ----------------------------------------------------------------------------------

describe('header lengths: each opcode\'s header is as long as it needs', () => {
  it('HEADER_BYTES, headerBytesOf and headerBytesForCode give the specified length of every opcode; a byte that is no opcode has none', () => {
    expect({ ...HEADER_BYTES }).toEqual(SPEC_HEADER_BYTES);
    for (const op of OPCODES) {
      expect(headerBytesOf(op)).toBe(SPEC_HEADER_BYTES[op]);
      expect(headerBytesForCode(Opcode[op])).toBe(SPEC_HEADER_BYTES[op]);
    }
    expect(NOT_OPCODES).toHaveLength(256 - OPCODES.length);
    for (const code of NOT_OPCODES) expect(headerBytesForCode(code)).toBe(0);
    expect(headerBytesOf('BOGUS' as OpcodeName)).toBe(0);
  });

  it('MIN_FRAME_HEADER_BYTES and MAX_FRAME_HEADER_BYTES are the shortest and the longest header; every length is a multiple of 4', () => {
    const lengths = Object.values(SPEC_HEADER_BYTES);
    expect(MIN_FRAME_HEADER_BYTES).toBe(Math.min(...lengths));
    expect(MAX_FRAME_HEADER_BYTES).toBe(Math.max(...lengths));
    for (const length of lengths) expect(length % 4).toBe(0);
  });

  it.each(OPCODES)('%s: HEADER_BYTES is the smallest multiple of 4 that covers the common fields and every byte the encoder can set', (opcode) => {
    // encodeHeaderIn zeroes the header's length and then writes every field wherever it lies: on a
    // zeroed 64-byte buffer, its last non-zero byte is the end of what the encoder sets, cut or not.
    // Bytes 0..11 (opcode, flags, reserved, PSN, payloadLength) are in every header, even where
    // the opcode's payloadLength must be 0 (an ACK's maxed fields end at byte 7).
    let last = -1;
    for (const header of MAXED[opcode]) {
      expect(decodeHeader(encode(header), NO_LIMIT).ok).toBe(true);
      const buffer = new Uint8Array(64);
      expect(encodeHeaderIn(header, new DataView(buffer.buffer), 0)).toBe(HEADER_BYTES[opcode]);
      for (let i = 0; i < buffer.byteLength; i++) if (buffer[i] !== 0) last = Math.max(last, i);
    }
    const covering = roundUp4(Math.max(last + 1, COMMON_BYTES));
    if (opcode === 'ATOMIC_FETCH_AND_ADD') {
      // The one exception: FETCH_AND_ADD's last settable byte is its addend's (39), but its header
      // keeps the swap field 40..47, which the decoder requires to be zero (the atomic requests
      // kept their version-1 48 bytes, one length for both).
      expect(covering).toBe(40);
      expect(HEADER_BYTES[opcode]).toBe(HEADER_BYTES.ATOMIC_CMP_AND_SWP);
      expect(MUST_BE_ZERO[opcode]).toEqual(expect.arrayContaining(range(40, 47)));
    } else {
      expect(HEADER_BYTES[opcode]).toBe(covering);
    }
  });

  it('no header the encoder accepts sets a byte at or past its opcode\'s length, whatever its values', () => {
    fc.assert(
      fc.property(anyValidHeader, (header) => {
        const buffer = new Uint8Array(64);
        encodeHeaderIn(header, new DataView(buffer.buffer), 0);
        expect(buffer.subarray(HEADER_BYTES[header.opcode]).every((b) => b === 0)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

// ---- round trips -------------------------------------------------------------------------------------

describe('round trip: decodeHeader(encodeHeader(h)) gives h back, at h\'s header length', () => {
  it.each(OPCODES)('%s', (opcode) => {
    fc.assert(
      fc.property(VALID[opcode], (header) => {
        const bytes = encode(header);
        expect(bytes.byteLength).toBe(SPEC_HEADER_BYTES[opcode]);
        expect(bytes[0]).toBe(Opcode[opcode]);
        expect(decodeHeader(bytes, NO_LIMIT)).toEqual({ ok: true, value: header });
      }),
      { numRuns: 300 },
    );
  });

  it('the encoder writes exactly HEADER_BYTES[opcode] bytes: it zeroes the unused ones of a dirty buffer, leaves every byte after them untouched, and the decoder honours byteOffset', () => {
    fc.assert(
      fc.property(anyValidHeader, fc.integer({ min: 0, max: 31 }), fc.constantFrom(0xaa, 0xff), (header, offset, dirt) => {
        const length = SPEC_HEADER_BYTES[header.opcode];
        const backing = new Uint8Array(offset + MAX_FRAME_HEADER_BYTES + 16).fill(dirt);
        const out = backing.subarray(offset);
        expect(encodeHeader(header, out)).toBe(length);
        // The same bytes as on a clean buffer: every byte of the header not set by a field is zeroed.
        expect(out.subarray(0, length)).toEqual(encode(header));
        expect([...backing.subarray(0, offset), ...out.subarray(length)].every((b) => b === dirt)).toBe(true);
        expect(decodeHeader(out, NO_LIMIT)).toEqual({ ok: true, value: header });
        expect(decodeHeader(out.subarray(0, length), NO_LIMIT)).toEqual({ ok: true, value: header });
      }),
      { numRuns: 500 },
    );
  });

  it('the encoder needs no more room than the header: a buffer of exactly HEADER_BYTES[opcode] bytes takes it', () => {
    fc.assert(
      fc.property(anyValidHeader, (header) => {
        const out = new Uint8Array(SPEC_HEADER_BYTES[header.opcode]).fill(0xaa);
        expect(encodeHeader(header, out)).toBe(out.byteLength);
        expect(out).toEqual(encode(header));
      }),
      { numRuns: 300 },
    );
  });

  it('the transmit and receive paths (encodeHeaderAt, encodeHeaderIn, parseHeaderAt) agree with encodeHeader and decodeHeader at any offset of a dirty buffer, and touch only the header\'s bytes', () => {
    fc.assert(
      fc.property(anyValidHeader, fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 16 }), (header, at, spare) => {
        const length = SPEC_HEADER_BYTES[header.opcode];
        const backing = new Uint8Array(8 + at + length + spare).fill(0xaa);
        const block = backing.subarray(8);
        expect(encodeHeaderAt(header, block, at)).toBe(length);
        expect(block.subarray(at, at + length)).toEqual(encode(header));
        expect([...backing.subarray(0, 8 + at), ...block.subarray(at + length)].every((b) => b === 0xaa)).toBe(true);
        expect(parseHeaderAt(block, at, NO_LIMIT.maxPayload)).toEqual(header);

        const other = new Uint8Array(8 + at + length + spare).fill(0x55);
        expect(encodeHeaderIn(header, new DataView(other.buffer), 8 + at)).toBe(length);
        expect(other.subarray(8 + at, 8 + at + length)).toEqual(encode(header));
        expect([...other.subarray(0, 8 + at), ...other.subarray(8 + at + length)].every((b) => b === 0x55)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('encodeHeaderAt refuses a header that does not fit at its offset, by the opcode\'s own length', () => {
    const ack: FrameHeader = { opcode: 'ACK', flags: 0, psn: 0, payloadLength: 0 };
    const nak: FrameHeader = { opcode: 'NAK', flags: 0, psn: 0, payloadLength: 0, code: 'RNR', rnrTimer: 1 };
    expect(encodeHeaderAt(ack, new Uint8Array(24), 12)).toBe(12);
    expect(() => encodeHeaderAt(ack, new Uint8Array(24), 13)).toThrow(WireEncodeError);
    expect(() => encodeHeaderAt(ack, new Uint8Array(24), 13)).toThrow(/^no room for a 12-byte ACK header at 13 of a 24-byte buffer$/);
    expect(() => encodeHeaderAt(ack, new Uint8Array(24), -1)).toThrow(/^no room for a 12-byte ACK header at -1 of a 24-byte buffer$/);
    expect(encodeHeaderAt(nak, new Uint8Array(24), 4)).toBe(20);
    expect(() => encodeHeaderAt(nak, new Uint8Array(24), 5)).toThrow(/^no room for a 20-byte NAK header at 5 of a 24-byte buffer$/);
  });

  it('with a scratch object, parseHeaderAt decodes SEND and ACK headers into it (the receive path allocates nothing for them) and every other opcode into a new object', () => {
    const scratch: ScratchHeader = { opcode: 'ACK', flags: 3, psn: 7, payloadLength: 9 };
    fc.assert(
      fc.property(anyValidHeader, (header) => {
        const parsed = parseHeaderAt(encode(header), 0, NO_LIMIT.maxPayload, scratch);
        expect(parsed).toEqual(header);
        expect(parsed === scratch).toBe(header.opcode === 'SEND' || header.opcode === 'ACK');
      }),
      { numRuns: 300 },
    );
    // A refused header leaves the scratch as it was: nothing half-decoded reaches the handler.
    const before = { ...scratch };
    const bad = encode({ opcode: 'SEND', flags: 0, psn: 5, payloadLength: 100 });
    expect(parseHeaderAt(bad, 0, 99, scratch)).toMatch(/exceeds the limit of 99/);
    expect(scratch).toEqual(before);
  });

  it('a SEND_WITH_IMM or RDMA_WRITE_WITH_IMM encoded without immData carries immediate 0; a SEND given an immData has no room for it', () => {
    expect(decodeHeader(encode({ opcode: 'SEND_WITH_IMM', flags: 0, psn: 1, payloadLength: 0 }), NO_LIMIT))
      .toEqual({ ok: true, value: { opcode: 'SEND_WITH_IMM', flags: 0, psn: 1, payloadLength: 0, immData: 0 } });
    expect(decodeHeader(encode({ opcode: 'RDMA_WRITE_WITH_IMM', flags: 0, psn: 1, payloadLength: 0, remoteAddr: 8, rkey: 9 }), NO_LIMIT))
      .toEqual({ ok: true, value: { opcode: 'RDMA_WRITE_WITH_IMM', flags: 0, psn: 1, payloadLength: 0, remoteAddr: 8, rkey: 9, immData: 0 } });
    const send = encode({ opcode: 'SEND', flags: 0, psn: 1, payloadLength: 0, immData: 0x12345678 });
    expect(send).toEqual(encode({ opcode: 'SEND', flags: 0, psn: 1, payloadLength: 0 }));
    expect(decodeHeader(send, NO_LIMIT)).toEqual({ ok: true, value: { opcode: 'SEND', flags: 0, psn: 1, payloadLength: 0 } });
  });

  it('hello: decodeHello(encodeHello(h)) gives h back, big-endian at the documented offsets', () => {
    fc.assert(
      fc.property(helloArb, (hello) => {
        const bytes = helloBytes(hello);
        const v = new DataView(bytes.buffer);
        expect(v.getUint32(0)).toBe(HELLO_MAGIC);
        expect(v.getUint8(4)).toBe(2);
        expect([v.getUint32(8), v.getUint32(12), v.getUint32(16), v.getUint32(20), v.getUint8(24)])
          .toEqual([hello.srcQpn, hello.destQpn, hello.rqPsn, hello.maxMessage, hello.maxDestRdAtomic]);
        expect(decodeHello(bytes)).toEqual({ ok: true, value: hello });
      }),
      { numRuns: 500 },
    );
  });
});

// ---- the decoder reads the opcode's length and nothing more ---------------------------------------------

describe('decodeHeader reads nothing beyond its opcode\'s header length', () => {
  it('a valid header followed by any bytes (its payload, the next frame) decodes as the exact header does', () => {
    fc.assert(
      fc.property(anyValidHeader, tail, (header, after) => {
        const exact = encode(header);
        expect(decodeHeader(followedBy(exact, after), NO_LIMIT)).toEqual({ ok: true, value: header });
        expect(parseHeaderAt(followedBy(exact, after), 0, NO_LIMIT.maxPayload)).toEqual(header);
      }),
      { numRuns: 1000 },
    );
  });

  it('a valid header at the very end of its ArrayBuffer decodes (a read past its length would throw RangeError)', () => {
    fc.assert(
      fc.property(anyValidHeader, (header) => {
        const bytes = atBufferEnd(encode(header));
        expect(bytes.byteOffset + bytes.byteLength).toBe(bytes.buffer.byteLength);
        expect(decodeHeader(bytes, NO_LIMIT)).toEqual({ ok: true, value: header });
        expect(parseHeaderAt(bytes, 0, NO_LIMIT.maxPayload)).toEqual(header);
      }),
      { numRuns: 500 },
    );
  });

  it('any bytes, refused or not, decode as their first max(12, HEADER_BYTES[opcode]) bytes do, and those bytes at the end of their buffer decode without a throw', () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.values(Opcode), ...NOT_OPCODES), fc.uint8Array({ minLength: 47, maxLength: 47 }), tail, (first, rest, after) => {
        const bytes = Uint8Array.from([first, ...rest]);
        const length = Math.max(MIN_FRAME_HEADER_BYTES, headerBytesForCode(first));
        const head = bytes.slice(0, length);
        const expected = decodeHeader(head, NO_LIMIT);
        expect(decodeHeader(followedBy(head, after), NO_LIMIT)).toEqual(expected);
        expect(decodeHeader(bytes, NO_LIMIT)).toEqual(expected);
        let atEnd: Decoded<FrameHeader> | undefined;
        expect(() => { atEnd = decodeHeader(atBufferEnd(head), NO_LIMIT); }).not.toThrow();
        expect(atEnd).toEqual(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('a byte that is no opcode is refused on its own: bytes 1..11 are never looked at', () => {
    for (const code of NOT_OPCODES) {
      const reason = `unknown opcode 0x${code.toString(16)}`;
      expect(rejection(decodeHeader(Uint8Array.from([code, ...new Array<number>(11).fill(0)]), NO_LIMIT))).toBe(reason);
      expect(rejection(decodeHeader(Uint8Array.from([code, ...new Array<number>(11).fill(0xff)]), NO_LIMIT))).toBe(reason);
      expect(parseHeaderAt(atBufferEnd(Uint8Array.of(code)), 0, U32)).toBe(reason);
    }
  });

  it('the bytes v1 required to be zero past the v2 header are not part of it: setting them changes nothing', () => {
    // What version 1 refused (`SEND: immediate field must be 0`, `ACK: bytes 12..47 must be 0`, ...)
    // lies past the version-2 header: there it is payload or the next frame.
    const headers: FrameHeader[] = [
      { opcode: 'SEND', flags: 0, psn: 7, payloadLength: 5 },
      { opcode: 'SEND_WITH_IMM', flags: 0, psn: 7, payloadLength: 5, immData: 9 },
      { opcode: 'RDMA_WRITE', flags: 0, psn: 7, payloadLength: 100, remoteAddr: 0x1000, rkey: 1 },
      { opcode: 'RDMA_WRITE_WITH_IMM', flags: 0, psn: 7, payloadLength: 100, remoteAddr: 0x1000, rkey: 1, immData: 3 },
      { opcode: 'RDMA_READ_REQUEST', flags: 0, psn: 7, payloadLength: 0, remoteAddr: 0x1000, rkey: 1, length: 100 },
      { opcode: 'RDMA_READ_RESPONSE', flags: 0, psn: 7, payloadLength: 100 },
      { opcode: 'ATOMIC_RESPONSE', flags: 0, psn: 7, payloadLength: 0, original: 42n },
      { opcode: 'ACK', flags: 0, psn: 7, payloadLength: 0 },
      { opcode: 'NAK', flags: 0, psn: 7, payloadLength: 0, code: 'RNR', rnrTimer: 12 },
      { opcode: 'TERMINATE', flags: 0, psn: 0, payloadLength: 10, reason: 1 },
    ];
    for (const header of headers) {
      const length = SPEC_HEADER_BYTES[header.opcode];
      expect(length).toBeLessThan(MAX_FRAME_HEADER_BYTES);
      const v1Tail = new Uint8Array(MAX_FRAME_HEADER_BYTES - length).fill(0xff);
      expect(decodeHeader(followedBy(encode(header), v1Tail), NO_LIMIT)).toEqual({ ok: true, value: header });
    }
  });
});

describe('the encoder never emits a header its own decoder rejects', () => {
  it('whatever encodeHeader accepts, decodeHeader accepts (over every type-valid header)', () => {
    // The type allows a FETCH_AND_ADD swap and a non-RNR NAK timer; the encoder must either refuse
    // such a header with WireEncodeError or put something on the wire its own decoder takes.
    const typeValid = fc.oneof(
      anyValidHeader,
      fc.record({ opcode: fc.constant('ATOMIC_FETCH_AND_ADD' as const), flags: requestFlags, psn, payloadLength: fc.constant(0 as const), remoteAddr, rkey: u32, compareAdd: u64, swap: u64 }),
      fc.record({ opcode: fc.constant('NAK' as const), flags: fc.constant(0 as const), psn, payloadLength: fc.constant(0 as const), code: fc.constantFrom(...NAK_CODES), rnrTimer: fc.integer({ min: 0, max: 31 }) }),
      fc.record({ opcode: fc.constant('SEND' as const), flags: requestFlags, psn, payloadLength, immData: u32 }),
    ) as fc.Arbitrary<FrameHeader>;
    fc.assert(
      fc.property(typeValid, (header) => {
        const bytes = new Uint8Array(MAX_FRAME_HEADER_BYTES);
        let written: number;
        try {
          written = encodeHeader(header, bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(WireEncodeError);
          return;
        }
        const decoded = decodeHeader(bytes.subarray(0, written), NO_LIMIT);
        expect(decoded.ok ? 'accepted' : `rejected: ${decoded.reason}`).toBe('accepted');
      }),
      { numRuns: 1000 },
    );
  });

  it('an ATOMIC_FETCH_AND_ADD with a non-zero swap is refused by the encoder, not emitted for the peer to reject', () => {
    const header: FrameHeader = { opcode: 'ATOMIC_FETCH_AND_ADD', flags: 0, psn: 1, payloadLength: 0, remoteAddr: 8, rkey: 1, compareAdd: 1n, swap: 5n };
    expect(() => encode(header)).toThrow(WireEncodeError);
  });

  it('a NAK other than RNR with a non-zero RNR timer is refused by the encoder, not emitted for the peer to reject', () => {
    const header: FrameHeader = { opcode: 'NAK', flags: 0, psn: 1, payloadLength: 0, code: 'REMOTE_ACCESS_ERROR', rnrTimer: 12 };
    expect(() => encode(header)).toThrow(WireEncodeError);
  });
});

// ---- the doc's worked examples -------------------------------------------------------------------------

describe('docs/wire.md: the worked examples are the encoder\'s exact bytes', () => {
  const doc = readFileSync(new URL('../../docs/wire.md', import.meta.url), 'utf8');

  const SEND_HELLO_PSN7 = [
    '0000  01 00 00 00 00 00 00 07 00 00 00 05 68 65 6c 6c',
    '0010  6f',
  ].join('\n');
  const ACK_PSN7 = [
    '0000  10 00 00 00 00 00 00 07 00 00 00 00',
  ].join('\n');
  const RNR_NAK_PSN7 = [
    '0000  11 00 00 00 00 00 00 07 00 00 00 00 00 00 00 01',
    '0010  0c 00 00 00',
  ].join('\n');
  const WRITE_PSN8 = [
    '0000  03 00 00 00 00 00 00 08 00 00 00 64 00 00 00 00',
    '0010  00 00 7f 00 00 00 10 00 00 00 12 34 00 00 00 64',
  ].join('\n');
  const HELLO_EXAMPLE = [
    '0000  54 43 50 56 02 00 00 00 00 0a 1b 2c 00 3d 4e 5f',
    '0010  00 00 00 07 40 00 00 00 10 00 00 00 00 00 00 00',
  ].join('\n');

  /** The doc's code blocks: a dump must be a whole block, not a prefix of a longer (stale) one. */
  const blocks = [...doc.matchAll(/```\n([\s\S]*?)\n```/g)].map((m) => m[1]);

  it('a SEND of the 5 bytes "hello" with PSN 7: its 12-byte header, then the payload', () => {
    const frame = new Uint8Array(HEADER_BYTES.SEND + 5);
    expect(encodeHeader({ opcode: 'SEND', flags: 0, psn: 7, payloadLength: 5 }, frame)).toBe(12);
    frame.set(new TextEncoder().encode('hello'), HEADER_BYTES.SEND);
    expect(hexDump(frame)).toBe(SEND_HELLO_PSN7);
    expect(blocks).toContain(SEND_HELLO_PSN7);
    expect(decodeHeader(frame, { maxPayload: 5 })).toEqual({ ok: true, value: { opcode: 'SEND', flags: 0, psn: 7, payloadLength: 5 } });
  });

  it('its 12-byte ACK', () => {
    const ack = encode({ opcode: 'ACK', flags: 0, psn: 7, payloadLength: 0 });
    expect(hexDump(ack)).toBe(ACK_PSN7);
    expect(blocks).toContain(ACK_PSN7);
  });

  it('the 20-byte RNR NAK with timer 12', () => {
    const nak = encode({ opcode: 'NAK', flags: 0, psn: 7, payloadLength: 0, code: 'RNR', rnrTimer: 12 });
    expect(hexDump(nak)).toBe(RNR_NAK_PSN7);
    expect(blocks).toContain(RNR_NAK_PSN7);
  });

  it('the 32-byte RDMA_WRITE header: the fields at their version-1 offsets', () => {
    const write = encode({ opcode: 'RDMA_WRITE', flags: 0, psn: 8, payloadLength: 100, remoteAddr: 0x7f0000001000, rkey: 0x1234 });
    expect(hexDump(write)).toBe(WRITE_PSN8);
    expect(blocks).toContain(WRITE_PSN8);
  });

  it('the HELLO example, version 2', () => {
    const hello = helloBytes({ srcQpn: 0x0a1b2c, destQpn: 0x3d4e5f, rqPsn: 7, maxMessage: 1 << 30, maxDestRdAtomic: 16 });
    expect(hexDump(hello)).toBe(HELLO_EXAMPLE);
    expect(blocks).toContain(HELLO_EXAMPLE);
  });

  it('the constants, opcode codes and header lengths, NAK codes and RNR timer table of the doc are the code\'s', () => {
    expect([MAX_FRAME_HEADER_BYTES, MIN_FRAME_HEADER_BYTES, HELLO_BYTES, WIRE_VERSION, HELLO_MAGIC, MAX_PSN, MAX_TERMINATE_TEXT]).toEqual([48, 12, 32, 2, 0x54435056, 0xffffff, 256]);
    for (const name of OPCODES) expect(doc).toContain(`| ${name} | \`0x${Opcode[name].toString(16).padStart(2, '0')}\` | ${HEADER_BYTES[name]} |`);
    for (const name of NAK_CODES) expect(doc).toContain(`| ${NakCode[name]} | ${name} |`);
    expect(RNR_TIMER_MS).toHaveLength(32);
    RNR_TIMER_MS.forEach((ms, code) => expect(doc).toContain(`| ${code} | ${ms} |`));
  });

  it('the doc\'s refusal of a version-1 peer and its bytes-per-message figures are the code\'s', () => {
    const v1 = mutated(helloBytes({ srcQpn: 1, destQpn: 2, rqPsn: 3, maxMessage: 4, maxDestRdAtomic: 5 }), (b) => { b[4] = 1; });
    const reason = rejection(decodeHello(v1));
    expect(reason).toBe('wire version 1 is not supported; this end speaks version 2');
    expect(doc).toContain(`\`${reason}\``);
    // A 64-byte SEND: behind v1's 48 header bytes, then behind v2's 12.
    expect(doc).toContain(`${MAX_FRAME_HEADER_BYTES + 64} bytes`);
    expect(doc).toContain(`${HEADER_BYTES.SEND + 64} bytes`);
  });
});

// ---- validation: every rule rejects its corrupted variant, with a reason that names it -------------------

describe('decodeHeader: every rule rejects the corrupted variant and says why', () => {
  const send = encode({ opcode: 'SEND', flags: 0, psn: 7, payloadLength: 5 });
  const sendImm = encode({ opcode: 'SEND_WITH_IMM', flags: 0, psn: 7, payloadLength: 5, immData: 9 });
  const write = encode({ opcode: 'RDMA_WRITE', flags: 0, psn: 7, payloadLength: 100, remoteAddr: 0x7f0000001000, rkey: 0x1234 });
  const writeImm = encode({ opcode: 'RDMA_WRITE_WITH_IMM', flags: 0, psn: 7, payloadLength: 100, remoteAddr: 0x7f0000001000, rkey: 0x1234, immData: 3 });
  const read = encode({ opcode: 'RDMA_READ_REQUEST', flags: 0, psn: 7, payloadLength: 0, remoteAddr: 0x7f0000001000, rkey: 0x1234, length: 100 });
  const readResponse = encode({ opcode: 'RDMA_READ_RESPONSE', flags: 0, psn: 7, payloadLength: 100 });
  const cas = encode({ opcode: 'ATOMIC_CMP_AND_SWP', flags: 0, psn: 7, payloadLength: 0, remoteAddr: 0x7f0000001000, rkey: 0x1234, compareAdd: 1n, swap: 2n });
  const faa = encode({ opcode: 'ATOMIC_FETCH_AND_ADD', flags: 0, psn: 7, payloadLength: 0, remoteAddr: 0x7f0000001000, rkey: 0x1234, compareAdd: 1n, swap: 0n });
  const atomicResponse = encode({ opcode: 'ATOMIC_RESPONSE', flags: 0, psn: 7, payloadLength: 0, original: 42n });
  const ack = encode({ opcode: 'ACK', flags: 0, psn: 7, payloadLength: 0 });
  const nak = encode({ opcode: 'NAK', flags: 0, psn: 7, payloadLength: 0, code: 'RNR', rnrTimer: 12 });
  const nakAccess = encode({ opcode: 'NAK', flags: 0, psn: 7, payloadLength: 0, code: 'REMOTE_ACCESS_ERROR', rnrTimer: 0 });
  const terminate = encode({ opcode: 'TERMINATE', flags: 0, psn: 0, payloadLength: 10, reason: 1 });
  const beyond2to53 = BigInt(Number.MAX_SAFE_INTEGER) + 1n;

  type Case = { name: string; bytes: Uint8Array; reason: RegExp; limits?: DecodeLimits };
  const cases: Case[] = [
    // lengths: fewer than the shortest header, then fewer than the opcode's own
    { name: 'no bytes at all', bytes: new Uint8Array(0), reason: /^header has 0 bytes, needs at least 12$/ },
    { name: 'a SEND of 11 bytes', bytes: send.subarray(0, 11), reason: /^header has 11 bytes, needs at least 12$/ },
    { name: '11 bytes of an RDMA_WRITE (the shortest-header rule comes first)', bytes: write.subarray(0, 11), reason: /^header has 11 bytes, needs at least 12$/ },
    { name: '1 byte that is no opcode', bytes: Uint8Array.of(0xee), reason: /^header has 1 bytes, needs at least 12$/ },
    { name: 'an RDMA_WRITE cut at 31 bytes', bytes: write.subarray(0, 31), reason: /^RDMA_WRITE header has 31 bytes, needs 32$/ },
    { name: 'an RDMA_READ_REQUEST cut at 12 bytes', bytes: read.subarray(0, 12), reason: /^RDMA_READ_REQUEST header has 12 bytes, needs 32$/ },
    { name: 'a SEND_WITH_IMM cut at 12 bytes', bytes: sendImm.subarray(0, 12), reason: /^SEND_WITH_IMM header has 12 bytes, needs 16$/ },
    { name: 'a NAK cut at 19 bytes', bytes: nak.subarray(0, 19), reason: /^NAK header has 19 bytes, needs 20$/ },
    { name: 'a TERMINATE cut at 15 bytes', bytes: terminate.subarray(0, 15), reason: /^TERMINATE header has 15 bytes, needs 16$/ },
    { name: 'an ATOMIC_RESPONSE cut at 39 bytes', bytes: atomicResponse.subarray(0, 39), reason: /^ATOMIC_RESPONSE header has 39 bytes, needs 40$/ },
    { name: 'an ATOMIC_CMP_AND_SWP cut at 47 bytes', bytes: cas.subarray(0, 47), reason: /^ATOMIC_CMP_AND_SWP header has 47 bytes, needs 48$/ },
    { name: 'an ATOMIC_FETCH_AND_ADD cut at 40 bytes', bytes: faa.subarray(0, 40), reason: /^ATOMIC_FETCH_AND_ADD header has 40 bytes, needs 48$/ },
    { name: 'a cut RDMA_WRITE with bad flags: the length is checked before any field', bytes: mutated(write, (b) => { b[1] = 0x80; }).subarray(0, 20), reason: /^RDMA_WRITE header has 20 bytes, needs 32$/ },
    // the first byte
    { name: 'unknown opcode 0x00', bytes: mutated(send, (b) => { b[0] = 0x00; }), reason: /^unknown opcode 0x0$/ },
    { name: 'unknown opcode 0x0a', bytes: mutated(send, (b) => { b[0] = 0x0a; }), reason: /^unknown opcode 0xa$/ },
    { name: 'unknown opcode 0xff', bytes: mutated(send, (b) => { b[0] = 0xff; }), reason: /^unknown opcode 0xff$/ },
    { name: 'unknown flag bit 0x04', bytes: mutated(send, (b) => { b[1] = 0x04; }), reason: /^SEND: unknown flag bits 0x4/ },
    { name: 'unknown flag bits 0x80', bytes: mutated(write, (b) => { b[1] = 0x83; }), reason: /^RDMA_WRITE: unknown flag bits 0x83/ },
    { name: 'reserved byte 2', bytes: mutated(send, (b) => { b[2] = 1; }), reason: /^SEND: reserved bytes 2\.\.3 are not zero/ },
    { name: 'reserved byte 3', bytes: mutated(ack, (b) => { b[3] = 0x80; }), reason: /^ACK: reserved bytes 2\.\.3 are not zero/ },
    { name: 'PSN of 25 bits', bytes: mutated(send, (_b, v) => v.setUint32(4, 0x1000000)), reason: /^SEND: PSN 16777216 exceeds 24 bits/ },
    { name: 'PSN 0xffffffff', bytes: mutated(ack, (_b, v) => v.setUint32(4, U32)), reason: /^ACK: PSN 4294967295 exceeds 24 bits/ },
    // payload limits
    { name: 'SEND payload over the limit', bytes: send, limits: { maxPayload: 4 }, reason: /^SEND: payload of 5 bytes exceeds the limit of 4/ },
    { name: 'SEND_WITH_IMM payload over the limit', bytes: sendImm, limits: { maxPayload: 4 }, reason: /^SEND_WITH_IMM: payload of 5 bytes exceeds the limit of 4/ },
    { name: 'RDMA_WRITE payload over the limit', bytes: write, limits: { maxPayload: 99 }, reason: /^RDMA_WRITE: payload of 100 bytes exceeds the limit of 99/ },
    { name: 'RDMA_WRITE_WITH_IMM payload over the limit', bytes: writeImm, limits: { maxPayload: 99 }, reason: /^RDMA_WRITE_WITH_IMM: payload of 100 bytes exceeds the limit of 99/ },
    { name: 'RDMA_READ_RESPONSE payload over the limit', bytes: readResponse, limits: { maxPayload: 99 }, reason: /^RDMA_READ_RESPONSE: payload of 100 bytes exceeds the limit of 99/ },
    { name: 'RDMA_READ_REQUEST length over the limit', bytes: read, limits: { maxPayload: 99 }, reason: /^RDMA_READ_REQUEST: 100 bytes exceed the limit of 99/ },
    // RDMA_WRITE
    { name: 'RDMA_WRITE with an immediate', bytes: mutated(write, (_b, v) => v.setUint32(12, 1)), reason: /^RDMA_WRITE: immediate field must be 0/ },
    { name: 'RDMA_WRITE address at 2^53', bytes: mutated(write, (_b, v) => v.setBigUint64(16, beyond2to53)), reason: /^RDMA_WRITE: remote address beyond 2\^53/ },
    { name: 'RDMA_WRITE_WITH_IMM address 2^64-1', bytes: mutated(writeImm, (_b, v) => v.setBigUint64(16, U64)), reason: /^RDMA_WRITE_WITH_IMM: remote address beyond 2\^53/ },
    { name: 'RDMA_WRITE length field differs', bytes: mutated(write, (_b, v) => v.setUint32(28, 99)), reason: /^RDMA_WRITE: length field 99 differs from payload length 100/ },
    { name: 'RDMA_WRITE payload length differs', bytes: mutated(write, (_b, v) => v.setUint32(8, 101)), reason: /^RDMA_WRITE: length field 100 differs from payload length 101/ },
    // RDMA_READ_REQUEST
    { name: 'RDMA_READ_REQUEST with a payload', bytes: mutated(read, (_b, v) => v.setUint32(8, 1)), reason: /^RDMA_READ_REQUEST: carries no payload, header says 1 bytes/ },
    { name: 'RDMA_READ_REQUEST with an aux value', bytes: mutated(read, (b) => { b[15] = 1; }), reason: /^RDMA_READ_REQUEST: bytes 12\.\.15 must be 0/ },
    { name: 'RDMA_READ_REQUEST address beyond 2^53', bytes: mutated(read, (_b, v) => v.setBigUint64(16, beyond2to53)), reason: /^RDMA_READ_REQUEST: remote address beyond 2\^53/ },
    // RDMA_READ_RESPONSE
    { name: 'RDMA_READ_RESPONSE with flags', bytes: mutated(readResponse, (b) => { b[1] = FrameFlag.SOLICITED; }), reason: /^RDMA_READ_RESPONSE: flags must be 0/ },
    // atomics
    { name: 'ATOMIC_CMP_AND_SWP with a payload', bytes: mutated(cas, (_b, v) => v.setUint32(8, 8)), reason: /^ATOMIC_CMP_AND_SWP: carries no payload, header says 8 bytes/ },
    { name: 'ATOMIC_CMP_AND_SWP with an aux value', bytes: mutated(cas, (b) => { b[12] = 1; }), reason: /^ATOMIC_CMP_AND_SWP: bytes 12\.\.15 must be 0/ },
    { name: 'ATOMIC_CMP_AND_SWP address beyond 2^53', bytes: mutated(cas, (_b, v) => v.setBigUint64(16, beyond2to53)), reason: /^ATOMIC_CMP_AND_SWP: remote address beyond 2\^53/ },
    { name: 'ATOMIC_CMP_AND_SWP length 4', bytes: mutated(cas, (_b, v) => v.setUint32(28, 4)), reason: /^ATOMIC_CMP_AND_SWP: length must be 8/ },
    { name: 'ATOMIC_FETCH_AND_ADD length 16', bytes: mutated(faa, (_b, v) => v.setUint32(28, 16)), reason: /^ATOMIC_FETCH_AND_ADD: length must be 8/ },
    { name: 'ATOMIC_FETCH_AND_ADD with a swap value', bytes: mutated(faa, (b) => { b[47] = 1; }), reason: /^ATOMIC_FETCH_AND_ADD: swap field must be 0/ },
    // ATOMIC_RESPONSE
    { name: 'ATOMIC_RESPONSE with flags', bytes: mutated(atomicResponse, (b) => { b[1] = FrameFlag.FENCE; }), reason: /^ATOMIC_RESPONSE: flags must be 0/ },
    { name: 'ATOMIC_RESPONSE with a payload', bytes: mutated(atomicResponse, (_b, v) => v.setUint32(8, 8)), reason: /^ATOMIC_RESPONSE: carries no payload/ },
    { name: 'ATOMIC_RESPONSE with an aux value (byte 12)', bytes: mutated(atomicResponse, (b) => { b[12] = 1; }), reason: /^ATOMIC_RESPONSE: only the original value may be set$/ },
    { name: 'ATOMIC_RESPONSE with an address', bytes: mutated(atomicResponse, (b) => { b[20] = 1; }), reason: /^ATOMIC_RESPONSE: only the original value may be set$/ },
    { name: 'ATOMIC_RESPONSE with a length (byte 31)', bytes: mutated(atomicResponse, (b) => { b[31] = 1; }), reason: /^ATOMIC_RESPONSE: only the original value may be set$/ },
    // ACK
    { name: 'ACK with flags', bytes: mutated(ack, (b) => { b[1] = FrameFlag.SOLICITED; }), reason: /^ACK: flags must be 0/ },
    { name: 'ACK with a payload', bytes: mutated(ack, (_b, v) => v.setUint32(8, 1)), reason: /^ACK: carries no payload, header says 1 bytes/ },
    // NAK
    { name: 'NAK with flags', bytes: mutated(nak, (b) => { b[1] = FrameFlag.SOLICITED; }), reason: /^NAK: flags must be 0/ },
    { name: 'NAK with a payload', bytes: mutated(nak, (_b, v) => v.setUint32(8, 4)), reason: /^NAK: carries no payload/ },
    { name: 'NAK code 0', bytes: mutated(nak, (_b, v) => v.setUint32(12, 0)), reason: /^NAK: unknown code 0/ },
    { name: 'NAK code 6', bytes: mutated(nak, (_b, v) => v.setUint32(12, 6)), reason: /^NAK: unknown code 6/ },
    { name: 'NAK RNR timer 32', bytes: mutated(nak, (b) => { b[16] = 32; }), reason: /^NAK: RNR timer 32 exceeds 31/ },
    { name: 'NAK RNR timer 255', bytes: mutated(nak, (b) => { b[16] = 255; }), reason: /^NAK: RNR timer 255 exceeds 31/ },
    { name: 'a non-RNR NAK with a timer', bytes: mutated(nakAccess, (b) => { b[16] = 5; }), reason: /^NAK: only an RNR NAK carries a timer/ },
    { name: 'NAK byte 17 set', bytes: mutated(nak, (b) => { b[17] = 1; }), reason: /^NAK: bytes 17\.\.19 must be 0$/ },
    { name: 'NAK byte 18 set', bytes: mutated(nakAccess, (b) => { b[18] = 0x80; }), reason: /^NAK: bytes 17\.\.19 must be 0$/ },
    { name: 'NAK byte 19 set', bytes: mutated(nak, (b) => { b[19] = 0xff; }), reason: /^NAK: bytes 17\.\.19 must be 0$/ },
    // TERMINATE
    { name: 'TERMINATE with flags', bytes: mutated(terminate, (b) => { b[1] = FrameFlag.FENCE; }), reason: /^TERMINATE: flags must be 0/ },
    { name: 'TERMINATE with a PSN', bytes: mutated(terminate, (_b, v) => v.setUint32(4, 1)), reason: /^TERMINATE: PSN must be 0/ },
    { name: 'TERMINATE text of 257 bytes', bytes: mutated(terminate, (_b, v) => v.setUint32(8, MAX_TERMINATE_TEXT + 1)), reason: /^TERMINATE: reason text of 257 bytes exceeds 256/ },
    { name: 'TERMINATE text of 2^32-1 bytes', bytes: mutated(terminate, (_b, v) => v.setUint32(8, U32)), reason: /^TERMINATE: reason text of 4294967295 bytes exceeds 256/ },
  ];

  it.each(cases)('$name', ({ bytes, reason, limits }) => {
    expect(rejection(decodeHeader(bytes, limits ?? NO_LIMIT))).toMatch(reason);
  });

  it('the uncorrupted originals all decode, at exactly their length (the cases above fail for their corruption only)', () => {
    for (const bytes of [send, sendImm, write, writeImm, read, readResponse, cas, faa, atomicResponse, ack, nak, nakAccess, terminate]) {
      expect(bytes.byteLength).toBe(headerBytesForCode(bytes[0]!));
      expect(decodeHeader(bytes, NO_LIMIT).ok).toBe(true);
    }
  });

  it('every opcode\'s header cut at any length from 12 up to one byte short is refused as too short for that opcode', () => {
    for (const opcode of OPCODES) {
      const bytes = fc.sample(VALID[opcode], { numRuns: 1, seed: 42 }).map(encode)[0]!;
      for (let length = MIN_FRAME_HEADER_BYTES; length < SPEC_HEADER_BYTES[opcode]; length++) {
        expect(rejection(decodeHeader(bytes.subarray(0, length), NO_LIMIT))).toBe(`${opcode} header has ${length} bytes, needs ${SPEC_HEADER_BYTES[opcode]}`);
        expect(rejection(decodeHeader(atBufferEnd(bytes.slice(0, length)), NO_LIMIT))).toBe(`${opcode} header has ${length} bytes, needs ${SPEC_HEADER_BYTES[opcode]}`);
      }
      for (let length = 0; length < MIN_FRAME_HEADER_BYTES; length++) {
        expect(rejection(decodeHeader(bytes.subarray(0, length), NO_LIMIT))).toBe(`header has ${length} bytes, needs at least 12`);
      }
      expect(decodeHeader(bytes.subarray(0, SPEC_HEADER_BYTES[opcode]), NO_LIMIT).ok).toBe(true);
    }
  });

  it('a payload exactly at the limit is accepted, one byte more is not', () => {
    fc.assert(
      fc.property(fc.constantFrom<OpcodeName>('SEND', 'SEND_WITH_IMM', 'RDMA_WRITE', 'RDMA_WRITE_WITH_IMM', 'RDMA_READ_RESPONSE'), fc.integer({ min: 0, max: U32 - 1 }), (opcode, limit) => {
        const header = { opcode, flags: 0, psn: 0, payloadLength: limit, remoteAddr: 0, rkey: 0 } as FrameHeader;
        expect(decodeHeader(encode(header), { maxPayload: limit }).ok).toBe(true);
        const over = { ...header, payloadLength: limit + 1 } as FrameHeader;
        expect(rejection(decodeHeader(encode(over), { maxPayload: limit }))).toMatch(new RegExp(`^${opcode}: payload of ${limit + 1} bytes exceeds the limit of ${limit}`));
      }),
      { numRuns: 300 },
    );
  });

  it('the bytes each opcode requires to be zero lie inside its header', () => {
    for (const opcode of OPCODES) {
      for (const offset of [...ALWAYS_ZERO, ...MUST_BE_ZERO[opcode]]) expect(offset).toBeLessThan(SPEC_HEADER_BYTES[opcode]);
    }
  });

  it('every byte an opcode requires to be zero is checked: setting it fails the frame with a reason naming the opcode', () => {
    const withOffset = fc.constantFrom(...OPCODES).chain((opcode) =>
      fc.tuple(VALID[opcode], fc.constantFrom(...ALWAYS_ZERO, ...MUST_BE_ZERO[opcode]), fc.integer({ min: 1, max: 255 })));
    fc.assert(
      fc.property(withOffset, ([header, offset, value]) => {
        const bytes = encode(header);
        expect(bytes[offset]).toBe(0);
        bytes[offset] = value;
        expect(rejection(decodeHeader(bytes, NO_LIMIT))).toMatch(new RegExp(`^${header.opcode}: `));
      }),
      { numRuns: 2000 },
    );
  });

  it('flags: unknown bits are refused on every opcode; SOLICITED/FENCE only on requests', () => {
    fc.assert(
      fc.property(anyValidHeader, fc.integer({ min: 1, max: 255 }), (header, flags) => {
        const bytes = encode(header);
        bytes[1] = flags;
        const result = decodeHeader(bytes, NO_LIMIT);
        if ((flags & ~ALL_FLAGS) !== 0) expect(rejection(result)).toMatch(new RegExp(`^${header.opcode}: unknown flag bits 0x${flags.toString(16)}`));
        else if (REQUEST_OPCODES.includes(header.opcode)) expect(result).toMatchObject({ ok: true, value: { flags } });
        else expect(rejection(result)).toBe(`${header.opcode}: flags must be 0`);
      }),
      { numRuns: 1000 },
    );
  });

  it('every address beyond 2^53 - 1 is refused on RDMA and atomic requests', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<OpcodeName>('RDMA_WRITE', 'RDMA_WRITE_WITH_IMM', 'RDMA_READ_REQUEST', 'ATOMIC_CMP_AND_SWP', 'ATOMIC_FETCH_AND_ADD').chain((opcode) => VALID[opcode]),
        fc.bigInt({ min: beyond2to53, max: U64 }),
        (header, addr) => {
          const bytes = encode(header);
          new DataView(bytes.buffer).setBigUint64(16, addr);
          expect(rejection(decodeHeader(bytes, NO_LIMIT))).toMatch(new RegExp(`^${header.opcode}: remote address beyond 2\\^53`));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('decodeHello: every rule rejects the corrupted variant and says why', () => {
  const hello = helloBytes({ srcQpn: 0x0a1b2c, destQpn: 0x3d4e5f, rqPsn: 7, maxMessage: 1 << 30, maxDestRdAtomic: 16 });
  const cases: { name: string; bytes: Uint8Array; reason: RegExp }[] = [
    { name: 'a short hello', bytes: hello.subarray(0, 31), reason: /^hello has 31 bytes, needs 32$/ },
    { name: 'bad magic (an HTTP request)', bytes: new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x.invalid\r\n'), reason: /^not a tcpverbs peer: magic 0x47455420 instead of 0x54435056 \("TCPV"\)/ },
    { name: 'magic off by one bit', bytes: mutated(hello, (b) => { b[3] = 0x57; }), reason: /^not a tcpverbs peer: magic 0x54435057/ },
    { name: 'version 0', bytes: mutated(hello, (b) => { b[4] = 0; }), reason: /^wire version 0 is not supported; this end speaks version 2$/ },
    { name: 'version 1 (a peer with 48-byte headers)', bytes: mutated(hello, (b) => { b[4] = 1; }), reason: /^wire version 1 is not supported; this end speaks version 2$/ },
    { name: 'version 3', bytes: mutated(hello, (b) => { b[4] = 3; }), reason: /^wire version 3 is not supported; this end speaks version 2$/ },
    ...[5, 6, 7, 25, 26, 27, 28, 29, 30, 31].map((offset) => ({ name: `reserved byte ${offset}`, bytes: mutated(hello, (b) => { b[offset] = 0x40; }), reason: /^hello: reserved bytes must be 0$/ })),
    { name: 'srcQpn of 25 bits', bytes: mutated(hello, (b) => { b[8] = 1; }), reason: /^hello: QP numbers and PSN are 24-bit$/ },
    { name: 'destQpn of 25 bits', bytes: mutated(hello, (b) => { b[12] = 0x80; }), reason: /^hello: QP numbers and PSN are 24-bit$/ },
    { name: 'rqPsn of 25 bits', bytes: mutated(hello, (b) => { b[16] = 0xff; }), reason: /^hello: QP numbers and PSN are 24-bit$/ },
  ];

  it.each(cases)('$name', ({ bytes, reason }) => {
    expect(rejection(decodeHello(bytes))).toMatch(reason);
  });

  it('maxMessage and maxDestRdAtomic take any value of their width', () => {
    const extreme = mutated(hello, (b, v) => { v.setUint32(20, U32); b[24] = 255; });
    expect(decodeHello(extreme)).toMatchObject({ ok: true, value: { maxMessage: U32, maxDestRdAtomic: 255 } });
  });
});

// ---- the encoders refuse impossible values -----------------------------------------------------------------

describe('encodeHeader / encodeHello throw WireEncodeError on out-of-range values', () => {
  const base = { flags: 0, psn: 0, payloadLength: 0 };
  const write = { ...base, opcode: 'RDMA_WRITE', remoteAddr: 0, rkey: 0 };
  const read = { ...base, opcode: 'RDMA_READ_REQUEST', remoteAddr: 0, rkey: 0, length: 0 };
  const cas = { ...base, opcode: 'ATOMIC_CMP_AND_SWP', remoteAddr: 0, rkey: 0, compareAdd: 0n, swap: 0n };
  const cases: { name: string; header: object; field: RegExp }[] = [
    { name: 'PSN 2^24', header: { ...base, opcode: 'ACK', psn: 0x1000000 }, field: /psn must be an integer in 0\.\.16777215, got 16777216/ },
    { name: 'PSN -1', header: { ...base, opcode: 'ACK', psn: -1 }, field: /psn/ },
    { name: 'PSN 1.5', header: { ...base, opcode: 'ACK', psn: 1.5 }, field: /psn/ },
    { name: 'PSN NaN', header: { ...base, opcode: 'ACK', psn: Number.NaN }, field: /psn/ },
    { name: 'flags 4', header: { ...base, opcode: 'SEND', flags: 4 }, field: /flags must be an integer in 0\.\.3, got 4/ },
    { name: 'flags -1', header: { ...base, opcode: 'SEND', flags: -1 }, field: /flags/ },
    { name: 'payloadLength 2^32', header: { ...base, opcode: 'SEND', payloadLength: 2 ** 32 }, field: /payloadLength/ },
    { name: 'payloadLength -1', header: { ...base, opcode: 'SEND', payloadLength: -1 }, field: /payloadLength/ },
    { name: 'immData 2^32', header: { ...base, opcode: 'SEND_WITH_IMM', immData: 2 ** 32 }, field: /immData/ },
    { name: 'RDMA_WRITE_WITH_IMM immData -1', header: { ...write, opcode: 'RDMA_WRITE_WITH_IMM', immData: -1 }, field: /immData/ },
    { name: 'remoteAddr -1', header: { ...write, remoteAddr: -1 }, field: /remoteAddr must be a safe non-negative integer/ },
    { name: 'remoteAddr 2^53', header: { ...write, remoteAddr: 2 ** 53 }, field: /remoteAddr/ },
    { name: 'remoteAddr 0.5', header: { ...read, remoteAddr: 0.5 }, field: /remoteAddr/ },
    { name: 'rkey 2^32', header: { ...write, rkey: 2 ** 32 }, field: /rkey/ },
    { name: 'READ length 2^32', header: { ...read, length: 2 ** 32 }, field: /length/ },
    { name: 'READ with a payload', header: { ...read, payloadLength: 1 }, field: /RDMA_READ_REQUEST carries no payload/ },
    { name: 'atomic rkey -1', header: { ...cas, rkey: -1 }, field: /rkey/ },
    { name: 'compareAdd -1n', header: { ...cas, compareAdd: -1n }, field: /compareAdd must fit in 64 bits/ },
    { name: 'compareAdd 2^64', header: { ...cas, compareAdd: 1n << 64n }, field: /compareAdd/ },
    { name: 'swap 2^64', header: { ...cas, swap: 1n << 64n }, field: /swap/ },
    { name: 'atomic remoteAddr 2^53', header: { ...cas, remoteAddr: 2 ** 53 }, field: /remoteAddr/ },
    { name: 'original 2^64', header: { ...base, opcode: 'ATOMIC_RESPONSE', original: 1n << 64n }, field: /original/ },
    { name: 'original -1n', header: { ...base, opcode: 'ATOMIC_RESPONSE', original: -1n }, field: /original/ },
    { name: 'RNR timer 32', header: { ...base, opcode: 'NAK', code: 'RNR', rnrTimer: 32 }, field: /rnrTimer must be an integer in 0\.\.31/ },
    { name: 'TERMINATE text of 257 bytes', header: { ...base, opcode: 'TERMINATE', payloadLength: 257, reason: 1 }, field: /payloadLength must be an integer in 0\.\.256/ },
    { name: 'TERMINATE reason 2^32', header: { ...base, opcode: 'TERMINATE', reason: 2 ** 32 }, field: /reason/ },
    { name: 'an unknown opcode', header: { ...base, opcode: 'BOGUS' }, field: /^unknown opcode "BOGUS"$/ },
  ];

  it.each(cases)('$name: WireEncodeError, and the output buffer is untouched', ({ header, field }) => {
    const out = new Uint8Array(MAX_FRAME_HEADER_BYTES + 8).fill(0xaa);
    const call = () => encodeHeader(header as FrameHeader, out);
    expect(call).toThrow(WireEncodeError);
    expect(call).toThrow(field);
    expect(out.every((b) => b === 0xaa)).toBe(true);
  });

  it('an unknown opcode is refused by the transmit-path encoders too, before they write a byte', () => {
    const bogus = { ...base, opcode: 'BOGUS' } as unknown as FrameHeader;
    const block = new Uint8Array(64).fill(0xaa);
    expect(() => encodeHeaderAt(bogus, block, 0)).toThrow(WireEncodeError);
    expect(() => encodeHeaderAt(bogus, block, 0)).toThrow(/^unknown opcode "BOGUS"$/);
    expect(() => encodeHeaderIn(bogus, new DataView(block.buffer), 0)).toThrow(/^unknown opcode "BOGUS"$/);
    expect(block.every((b) => b === 0xaa)).toBe(true);
  });

  it('the transmit path refuses the same common fields as encodeHeader for the 12-byte headers, and its opcode lookup never answers for another opcode', () => {
    const v = new DataView(new ArrayBuffer(64));
    for (const { header, field } of cases.filter(({ header }) => ['SEND', 'ACK'].includes((header as FrameHeader).opcode))) {
      expect(() => encodeHeaderIn(header as FrameHeader, v, 0)).toThrow(field);
    }
    // The last opcode looked up is remembered: a SEND, then an ACK, then an unknown one, then a SEND again.
    const bytes = new Uint8Array(v.buffer);
    const sequence: [string, number | null][] = [['SEND', Opcode.SEND], ['SEND', Opcode.SEND], ['ACK', Opcode.ACK], ['BOGUS', null], ['SEND', Opcode.SEND]];
    for (const [opcode, code] of sequence) {
      const header = { ...base, opcode } as FrameHeader;
      if (code === null) expect(() => encodeHeaderIn(header, v, 0)).toThrow(/^unknown opcode "BOGUS"$/);
      else expect([encodeHeaderIn(header, v, 0), bytes[0]]).toEqual([12, code]);
    }
  });

  it.each(OPCODES)('%s: an output buffer one byte shorter than its header is refused and left untouched', (opcode) => {
    const header = MAXED[opcode][0]!;
    const length = SPEC_HEADER_BYTES[opcode];
    const out = new Uint8Array(length - 1).fill(0xaa);
    const call = () => encodeHeader(header, out);
    expect(call).toThrow(WireEncodeError);
    expect(call).toThrow(new RegExp(`^header buffer holds ${length - 1} bytes, a ${opcode} header needs ${length}$`));
    expect(out.every((b) => b === 0xaa)).toBe(true);
    expect(encodeHeader(header, new Uint8Array(length))).toBe(length);
  });

  const hello: Hello = { srcQpn: 1, destQpn: 2, rqPsn: 3, maxMessage: 4, maxDestRdAtomic: 5 };
  it.each([
    ['srcQpn', 0x1000000], ['srcQpn', -1], ['destQpn', 0x1000000], ['destQpn', 0.5], ['rqPsn', 0x1000000],
    ['maxMessage', 2 ** 32], ['maxMessage', -1], ['maxDestRdAtomic', 256], ['maxDestRdAtomic', -1],
  ] as const)('hello %s = %s', (field, value) => {
    const call = () => encodeHello({ ...hello, [field]: value }, new Uint8Array(HELLO_BYTES));
    expect(call).toThrow(WireEncodeError);
    expect(call).toThrow(new RegExp(field));
  });

  it('a hello buffer under 32 bytes', () => {
    expect(() => encodeHello(hello, new Uint8Array(31))).toThrow(WireEncodeError);
  });
});

// ---- fuzz ------------------------------------------------------------------------------------------------------

describe('fuzz: the decoders never throw and accept only what is in range', () => {
  const limits = fc.oneof(fc.constant(NO_LIMIT), fc.record({ maxPayload: u32 }));
  const bytesOf = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
  const sparseBytes = (n: number) => fc.array(fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }), { minLength: n, maxLength: n });
  /** Mostly zero bytes behind a known opcode, of any length up to 64: reaches the per-opcode rules instead of dying at byte 0. */
  const sparseHeader = fc.tuple(fc.constantFrom(...Object.values(Opcode)), fc.integer({ min: 0, max: 63 }))
    .chain(([opcode, n]) => sparseBytes(n).map((rest) => Uint8Array.from([opcode, ...rest])));
  /** The same, exactly as long as the opcode's header. */
  const sparseExact = fc.constantFrom(...Object.values(Opcode))
    .chain((opcode) => sparseBytes(headerBytesForCode(opcode) - 1).map((rest) => Uint8Array.from([opcode, ...rest])));
  /** A valid header with a few random bytes of it overwritten, sometimes followed by more bytes. */
  const mutatedHeader = fc.tuple(anyValidHeader, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.uint8Array({ maxLength: 24, size: 'max' }))
    .map(([header, edits, after]) => followedBy(mutated(encode(header), (b) => { for (const [at, value] of edits) b[at % b.byteLength] = value; }), after));

  it('decodeHeader on arbitrary bytes of any length from 0 to 64', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 64, size: 'max' }), limits, (bytes, l) => checkHeaderDecode(bytes, l)), { numRuns: 3000 });
  });

  it('decodeHeader on arbitrary 48-byte arrays', () => {
    fc.assert(fc.property(bytesOf(48), limits, (bytes, l) => checkHeaderDecode(bytes, l)), { numRuns: 2000 });
  });

  it('decodeHeader on sparse headers of any length behind a known opcode', () => {
    fc.assert(fc.property(sparseHeader, limits, (bytes, l) => checkHeaderDecode(bytes, l)), { numRuns: 3000 });
  });

  it('decodeHeader on sparse headers cut to their opcode\'s exact length, at the end of their buffer', () => {
    fc.assert(fc.property(sparseExact, limits, (bytes, l) => checkHeaderDecode(atBufferEnd(bytes), l)), { numRuns: 2000 });
  });

  it('decodeHeader on mutated valid headers', () => {
    fc.assert(fc.property(mutatedHeader, limits, (bytes, l) => checkHeaderDecode(bytes, l)), { numRuns: 3000 });
  });

  it('decodeHeader on buffers of any length: the shortest-header rule, then the opcode\'s length, then the opcode\'s bytes alone decide', () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.values(Opcode), 0x00, 0xee), fc.uint8Array({ minLength: 0, maxLength: 96, size: 'max' }), fc.boolean(), (first, rest, withFirst) => {
        const bytes = withFirst ? Uint8Array.from([first, ...rest]) : rest;
        const result = decodeHeader(bytes, NO_LIMIT);
        const needed = bytes.byteLength === 0 ? 0 : headerBytesForCode(bytes[0]!);
        if (bytes.byteLength < MIN_FRAME_HEADER_BYTES) expect(rejection(result)).toBe(`header has ${bytes.byteLength} bytes, needs at least 12`);
        else if (bytes.byteLength < needed) expect(rejection(result)).toBe(`${Object.entries(Opcode).find(([, code]) => code === bytes[0])![0]} header has ${bytes.byteLength} bytes, needs ${needed}`);
        else expect(result).toEqual(decodeHeader(bytes.slice(0, Math.max(MIN_FRAME_HEADER_BYTES, needed)), NO_LIMIT));
      }),
      { numRuns: 2000 },
    );
  });

  it('decodeHello on arbitrary 32-byte arrays', () => {
    fc.assert(fc.property(bytesOf(32), (bytes) => checkHelloDecode(bytes)), { numRuns: 2000 });
  });

  it('decodeHello on arbitrary bytes behind the right magic and version', () => {
    const behindMagic = fc.tuple(fc.array(fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }), { minLength: 27, maxLength: 27 }))
      .map(([rest]) => Uint8Array.from([0x54, 0x43, 0x50, 0x56, WIRE_VERSION, ...rest]));
    fc.assert(fc.property(behindMagic, (bytes) => checkHelloDecode(bytes)), { numRuns: 3000 });
  });

  it('decodeHello on buffers of any length reads only the first 32 bytes', () => {
    fc.assert(
      fc.property(helloArb, fc.uint8Array({ minLength: 0, maxLength: 40 }), fc.integer({ min: 0, max: 40 }), (hello, after, cut) => {
        const bytes = Uint8Array.from([...helloBytes(hello), ...after]).subarray(0, HELLO_BYTES - 8 + cut);
        const result = decodeHello(bytes);
        if (bytes.byteLength < HELLO_BYTES) expect(rejection(result)).toBe(`hello has ${bytes.byteLength} bytes, needs 32`);
        else expect(result).toEqual({ ok: true, value: hello });
      }),
      { numRuns: 1000 },
    );
  });
});

// ---- PSN arithmetic -------------------------------------------------------------------------------------------

describe('PSN arithmetic is modulo 2^24', () => {
  it('psnAdd wraps and stays in range', () => {
    expect(psnAdd(MAX_PSN, 1)).toBe(0);
    expect(psnAdd(0, -1)).toBe(MAX_PSN);
    expect(psnAdd(0, -1 & 0xffffff)).toBe(MAX_PSN);
    expect(psnAdd(5, 0xffffff)).toBe(4);
    fc.assert(fc.property(psn, fc.integer({ min: -(2 ** 24), max: 2 ** 24 }), (p, n) => {
      const r = psnAdd(p, n);
      expect(r >= 0 && r <= MAX_PSN).toBe(true);
      expect((((r - p - n) % 2 ** 24) + 2 ** 24) % 2 ** 24).toBe(0);
    }), { numRuns: 1000 });
  });

  it('psnDistance(a, a + n) = n for every n in [-2^23, 2^23)', () => {
    expect(psnDistance(MAX_PSN, 0)).toBe(1);
    expect(psnDistance(0, MAX_PSN)).toBe(-1);
    expect(psnDistance(0, 0x7fffff)).toBe(0x7fffff);
    expect(psnDistance(0, 0x800000)).toBe(-0x800000);
    fc.assert(fc.property(psn, fc.integer({ min: -(2 ** 23), max: 2 ** 23 - 1 }), (a, n) => {
      expect(psnDistance(a, psnAdd(a, n))).toBe(n);
    }), { numRuns: 1000 });
  });

  it('psnDistance is antisymmetric away from the half-way point', () => {
    fc.assert(fc.property(psn, psn, (a, b) => {
      const d = psnDistance(a, b);
      expect(d >= -(2 ** 23) && d < 2 ** 23).toBe(true);
      if (d !== -(2 ** 23)) expect(psnDistance(b, a)).toBe(-d || 0);
    }), { numRuns: 1000 });
  });
});
