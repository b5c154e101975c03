/**
 * The RC frame protocol over a TCP byte stream (docs/wire.md). Every frame is a header, whose
 * length its first byte (the opcode) sets, optionally followed by `payloadLength` bytes. The
 * headers are the first 12 to 48 bytes of one layout (opcodes.ts HEADER_BYTES): a SEND needs 12.
 * Knowing the length from the first byte lets the receiver read exactly one header and then
 * point the next read at the payload's final place. Pure functions only: no I/O, no state.
 */
import { WIRE_LIMITS } from '../abi/limits.js';
import { HEADER_BYTES, HEADER_BYTES_BY_CODE, KNOWN_FLAGS, NAK_NAMES, NakCode, OPCODE_NAMES, Opcode, opcodeCode, type NakCodeName, type OpcodeName } from './opcodes.js';

/** The longest header (an atomic request's): a buffer this long holds any header. */
export const MAX_FRAME_HEADER_BYTES: number = WIRE_LIMITS.maxFrameHeaderBytes;
/** The shortest header (SEND, ACK, READ response). */
export const MIN_FRAME_HEADER_BYTES: number = Math.min(...Object.values(HEADER_BYTES));
if (Math.max(...Object.values(HEADER_BYTES)) !== MAX_FRAME_HEADER_BYTES) throw new Error('frame invariant: WIRE_LIMITS.maxFrameHeaderBytes is not the longest header');
export const HELLO_BYTES: number = WIRE_LIMITS.helloBytes;
/** 2: headers as long as their opcode needs (version 1 gave every frame 48 bytes). */
export const WIRE_VERSION = 2;
export const HELLO_MAGIC = 0x54435056; // "TCPV"
export const MAX_PSN = 0xffffff;
/** TERMINATE carries a short UTF-8 reason, nothing else. */
export const MAX_TERMINATE_TEXT: number = WIRE_LIMITS.maxTerminateText;

export { FrameFlag, HEADER_BYTES, NakCode, Opcode, type NakCodeName, type OpcodeName } from './opcodes.js';

/** The header length of a frame whose first byte is `code`; 0 when `code` is no opcode. */
export function headerBytesForCode(code: number): number {
  return HEADER_BYTES_BY_CODE[code & 0xff]!;
}

/** The header length of `opcode`'s frames (through its code: no keyed lookup by a varying name). */
export function headerBytesOf(opcode: OpcodeName): number {
  return HEADER_BYTES_BY_CODE[opcodeCode(opcode) ?? 0]!;
}

/** A decoded header. Fields an opcode does not use are absent here (and zero, or cut off, on the wire). */
export type FrameHeader =
  | { opcode: 'SEND' | 'SEND_WITH_IMM'; flags: number; psn: number; payloadLength: number; immData?: number }
  | { opcode: 'RDMA_WRITE' | 'RDMA_WRITE_WITH_IMM'; flags: number; psn: number; payloadLength: number; immData?: number; remoteAddr: number; rkey: number }
  | { opcode: 'RDMA_READ_REQUEST'; flags: number; psn: number; payloadLength: 0; remoteAddr: number; rkey: number; length: number }
  | { opcode: 'RDMA_READ_RESPONSE'; flags: 0; psn: number; payloadLength: number }
  | { opcode: 'ATOMIC_CMP_AND_SWP' | 'ATOMIC_FETCH_AND_ADD'; flags: number; psn: number; payloadLength: 0; remoteAddr: number; rkey: number; compareAdd: bigint; swap: bigint }
  | { opcode: 'ATOMIC_RESPONSE'; flags: 0; psn: number; payloadLength: 0; original: bigint }
  | { opcode: 'ACK'; flags: 0; psn: number; payloadLength: 0 }
  | { opcode: 'NAK'; flags: 0; psn: number; payloadLength: 0; code: NakCodeName; rnrTimer: number }
  | { opcode: 'TERMINATE'; flags: 0; psn: 0; payloadLength: number; reason: number };

export interface Hello {
  readonly srcQpn: number;
  readonly destQpn: number;
  /** The first PSN the sender's responder expects (its rq_psn). */
  readonly rqPsn: number;
  /** The largest message the sender accepts. */
  readonly maxMessage: number;
  /** The sender's responder resources for READ/atomic (max_dest_rd_atomic). */
  readonly maxDestRdAtomic: number;
}

export interface DecodeLimits {
  /** Largest payload this endpoint accepts in one frame. */
  readonly maxPayload: number;
}

export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** A programming error on our side: an encoder was asked to put an impossible value on the wire. */
export class WireEncodeError extends Error {}

const OFFSET = { opcode: 0, flags: 1, reserved: 2, psn: 4, payloadLength: 8, aux: 12, remoteAddr: 16, rkey: 24, length: 28, compareAdd: 32, swap: 40 } as const;
const U32 = 0xffffffff;
/** The fields every header starts with (opcode, flags, reserved, psn, payloadLength): the shortest header. */
const COMMON_BYTES = OFFSET.aux;

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A DataView of a whole buffer, reused while the same buffer comes again. One per direction: the
 * decoder sees the receive ring, the encoder the transmit blocks, so neither evicts the other.
 */
function wholeViewCache(): (buffer: ArrayBufferLike) => DataView {
  let cachedBuffer: ArrayBufferLike | null = null;
  let cachedView: DataView | null = null;
  return (buffer) => {
    if (buffer !== cachedBuffer || cachedView === null) {
      cachedBuffer = buffer;
      cachedView = new DataView(buffer);
    }
    return cachedView;
  };
}

const decodeView = wholeViewCache();
const encodeView = wholeViewCache();

function requireU32(name: string, value: number, max = U32): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new WireEncodeError(`${name} must be an integer in 0..${max}, got ${value}`);
}

function requireAddr(value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new WireEncodeError(`remoteAddr must be a safe non-negative integer, got ${value}`);
}

function requireU64(name: string, value: bigint): void {
  if (value < 0n || value > 0xffffffffffffffffn) throw new WireEncodeError(`${name} must fit in 64 bits, got ${value}`);
}

/** The code of `opcode`, refused when it names none: looked up once per encode (and passed on). */
function requireCode(opcode: OpcodeName): number {
  const code = opcodeCode(opcode) ?? 0;
  if (HEADER_BYTES_BY_CODE[code] === 0) throw new WireEncodeError(`unknown opcode ${JSON.stringify(opcode)}`);
  return code;
}

/**
 * Writes `header` into the first bytes of `out` and returns how many: its opcode's header length
 * (HEADER_BYTES), every unused byte zeroed. Everything is validated first: on a WireEncodeError
 * `out` is untouched, and whatever this accepts for a header of its type the decoder accepts too.
 */
export function encodeHeader(header: FrameHeader, out: Uint8Array): number {
  const code = requireCode(header.opcode);
  const bytes = HEADER_BYTES_BY_CODE[code]!;
  if (out.byteLength < bytes) throw new WireEncodeError(`header buffer holds ${out.byteLength} bytes, a ${header.opcode} header needs ${bytes}`);
  // Encoded into a scratch header first so that `out` stays untouched when a field is refused.
  HEADER_SCRATCH.fill(0);
  writeHeader(header, code, SCRATCH_VIEW, 0);
  out.set(HEADER_SCRATCH.subarray(0, bytes));
  return bytes;
}

/**
 * encodeHeader for the transmit path: straight into `bytes` at `at`, with no scratch and no view
 * per frame; returns the header's length. On a WireEncodeError those bytes hold a partial
 * header: only for room the caller gives back (the staging block's reservation), never for
 * bytes that are sent.
 */
export function encodeHeaderAt(header: FrameHeader, bytes: Uint8Array, at: number): number {
  const length = HEADER_BYTES_BY_CODE[requireCode(header.opcode)]!;
  if (at < 0 || at + length > bytes.byteLength) throw new WireEncodeError(`no room for a ${length}-byte ${header.opcode} header at ${at} of a ${bytes.byteLength}-byte buffer`);
  return encodeHeaderIn(header, encodeView(bytes.buffer), bytes.byteOffset + at);
}

/**
 * encodeHeaderAt through a DataView the caller keeps (a staging block's), for room the caller
 * has reserved: headerBytesOf(opcode) bytes at `base` (a DataView access past its end throws
 * RangeError); returns that length. The header is zeroed word by word and written with no
 * `fill`, `.buffer` or `.byteLength` (runtime calls, measured ~4 % of the send path together).
 */
export function encodeHeaderIn(header: FrameHeader, v: DataView, base: number): number {
  const code = requireCode(header.opcode);
  const length = HEADER_BYTES_BY_CODE[code]!;
  // writeHeader writes the first COMMON_BYTES whole (the reserved bytes as zeros): only what
  // follows them is zeroed first (nothing, for the 12-byte headers of SEND, ACK and READ_RESPONSE).
  for (let i = COMMON_BYTES; i < length; i += 4) v.setUint32(base + i, 0);
  writeHeader(header, code, v, base);
  return length;
}

const HEADER_SCRATCH = new Uint8Array(MAX_FRAME_HEADER_BYTES);
const SCRATCH_VIEW = new DataView(HEADER_SCRATCH.buffer);

function writeHeader(header: FrameHeader, code: number, v: DataView, base: number): void {
  requireU32('flags', header.flags, KNOWN_FLAGS);
  requireU32('psn', header.psn, MAX_PSN);
  requireU32('payloadLength', header.payloadLength);
  // Opcode, flags and the two reserved (zero) bytes as one word.
  v.setUint32(base + OFFSET.opcode, ((code << 24) | (header.flags << 16)) >>> 0);
  v.setUint32(base + OFFSET.psn, header.psn);
  v.setUint32(base + OFFSET.payloadLength, header.payloadLength);
  switch (header.opcode) {
    case 'SEND':
    case 'SEND_WITH_IMM':
      if (header.opcode === 'SEND_WITH_IMM') { requireU32('immData', header.immData ?? 0); v.setUint32(base + OFFSET.aux, header.immData ?? 0); }
      return;
    case 'RDMA_WRITE':
    case 'RDMA_WRITE_WITH_IMM':
      if (header.opcode === 'RDMA_WRITE_WITH_IMM') { requireU32('immData', header.immData ?? 0); v.setUint32(base + OFFSET.aux, header.immData ?? 0); }
      requireAddr(header.remoteAddr);
      requireU32('rkey', header.rkey);
      v.setBigUint64(base + OFFSET.remoteAddr, BigInt(header.remoteAddr));
      v.setUint32(base + OFFSET.rkey, header.rkey);
      v.setUint32(base + OFFSET.length, header.payloadLength);
      return;
    case 'RDMA_READ_REQUEST':
      requireAddr(header.remoteAddr);
      requireU32('rkey', header.rkey);
      requireU32('length', header.length);
      if (header.payloadLength !== 0) throw new WireEncodeError('RDMA_READ_REQUEST carries no payload');
      v.setBigUint64(base + OFFSET.remoteAddr, BigInt(header.remoteAddr));
      v.setUint32(base + OFFSET.rkey, header.rkey);
      v.setUint32(base + OFFSET.length, header.length);
      return;
    case 'ATOMIC_CMP_AND_SWP':
    case 'ATOMIC_FETCH_AND_ADD':
      requireAddr(header.remoteAddr);
      requireU32('rkey', header.rkey);
      requireU64('compareAdd', header.compareAdd);
      requireU64('swap', header.swap);
      if (header.opcode === 'ATOMIC_FETCH_AND_ADD' && header.swap !== 0n) throw new WireEncodeError('ATOMIC_FETCH_AND_ADD carries no swap value; pass 0n');
      v.setBigUint64(base + OFFSET.remoteAddr, BigInt(header.remoteAddr));
      v.setUint32(base + OFFSET.rkey, header.rkey);
      v.setUint32(base + OFFSET.length, 8);
      v.setBigUint64(base + OFFSET.compareAdd, header.compareAdd);
      v.setBigUint64(base + OFFSET.swap, header.swap);
      return;
    case 'ATOMIC_RESPONSE':
      requireU64('original', header.original);
      v.setBigUint64(base + OFFSET.compareAdd, header.original);
      return;
    case 'NAK':
      requireU32('rnrTimer', header.rnrTimer, 31);
      if (header.code !== 'RNR' && header.rnrTimer !== 0) throw new WireEncodeError(`only an RNR NAK carries a timer; ${header.code} must have rnrTimer 0`);
      v.setUint32(base + OFFSET.aux, NakCode[header.code]);
      v.setUint8(base + OFFSET.remoteAddr, header.rnrTimer);
      return;
    case 'TERMINATE':
      requireU32('payloadLength', header.payloadLength, MAX_TERMINATE_TEXT);
      requireU32('reason', header.reason);
      v.setUint32(base + OFFSET.aux, header.reason);
      return;
    case 'RDMA_READ_RESPONSE':
    case 'ACK':
      return;
  }
}

/** Bytes [from, to) of the header at `base` are all zero. */
function zeroFrom(v: DataView, base: number, from: number, to: number): boolean {
  let i = base + from;
  const end = base + to;
  for (; i + 4 <= end; i += 4) if (v.getUint32(i) !== 0) return false;
  for (; i < end; i++) if (v.getUint8(i) !== 0) return false;
  return true;
}

function readAddr(v: DataView, base: number): number | null {
  const addr = v.getBigUint64(base + OFFSET.remoteAddr);
  return addr > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(addr);
}

/** Bytes 12..15: only headers of 16 bytes or more have them. */
const auxOf = (v: DataView, base: number) => v.getUint32(base + OFFSET.aux);

const fail = (reason: string): Decoded<never> => ({ ok: false, reason });

/**
 * Decodes and validates a header from the peer. Every field is checked against its opcode's shape
 * (the unused bytes inside its length must be zero, so a desynchronized stream is soon caught) and the
 * payload length against `limits` before the caller places a single payload byte.
 */
export function decodeHeader(bytes: Uint8Array, limits: DecodeLimits): Decoded<FrameHeader> {
  if (bytes.byteLength < MIN_FRAME_HEADER_BYTES) return fail(`header has ${bytes.byteLength} bytes, needs at least ${MIN_FRAME_HEADER_BYTES}`);
  const needed = headerBytesForCode(bytes[0]!);
  if (bytes.byteLength < needed) return fail(`${OPCODE_NAMES[bytes[0]!]} header has ${bytes.byteLength} bytes, needs ${needed}`);
  const header = parseHeaderAt(bytes, 0, limits.maxPayload);
  return typeof header === 'string' ? fail(header) : { ok: true, value: header };
}

/**
 * What a SEND (without immediate) and an ACK header decode into: the two frames of a stream of
 * small messages. A parser passes its own, and the header it gets back is valid until it parses
 * the next one (its handler keeps no header past the call).
 */
export type ScratchHeader = { opcode: 'SEND' | 'ACK'; flags: number; psn: number; payloadLength: number };

function reuse(scratch: ScratchHeader | undefined, opcode: 'SEND' | 'ACK', flags: number, psn: number, payloadLength: number): FrameHeader {
  if (scratch === undefined) return opcode === 'SEND' ? { opcode, flags, psn, payloadLength } : { opcode, flags: 0, psn, payloadLength: 0 };
  scratch.opcode = opcode;
  scratch.flags = flags;
  scratch.psn = psn;
  scratch.payloadLength = payloadLength;
  return scratch as FrameHeader;
}

/**
 * decodeHeader for the receive path: the header at `at` in `bytes` (which holds at least the
 * header's length, headerBytesForCode of its first byte, from there), the header itself or why
 * it is refused. Reads nothing past that length.
 */
export function parseHeaderAt(bytes: Uint8Array, at: number, maxPayload: number, scratch?: ScratchHeader): FrameHeader | string {
  return parseHeaderIn(decodeView(bytes.buffer), bytes.byteOffset + at, maxPayload, scratch);
}

/**
 * parseHeaderAt on a DataView the caller keeps (the staging ring's): no view, wrapper, string or
 * closure is made per accepted frame, and the reason for a refusal is only built when refused.
 */
export function parseHeaderIn(v: DataView, base: number, maxPayload: number, scratch?: ScratchHeader): FrameHeader | string {
  const code = v.getUint8(base + OFFSET.opcode);
  const opcode = OPCODE_NAMES[code];
  if (opcode === undefined) return `unknown opcode 0x${code.toString(16)}`;
  const flags = v.getUint8(base + OFFSET.flags);
  if ((flags & ~KNOWN_FLAGS) !== 0) return `${opcode}: unknown flag bits 0x${flags.toString(16)}`;
  if (v.getUint16(base + OFFSET.reserved) !== 0) return `${opcode}: reserved bytes 2..3 are not zero`;
  const psn = v.getUint32(base + OFFSET.psn);
  if (psn > MAX_PSN) return `${opcode}: PSN ${psn} exceeds 24 bits`;
  const payloadLength = v.getUint32(base + OFFSET.payloadLength);
  if (opcode === 'SEND') {
    // The frame of a stream of small messages, checked first and without the general chain.
    if (payloadLength > maxPayload) return `SEND: payload of ${payloadLength} bytes exceeds the limit of ${maxPayload}`;
    return reuse(scratch, opcode, flags, psn, payloadLength);
  }
  const tooLong = payloadLength > maxPayload ? `${opcode}: payload of ${payloadLength} bytes exceeds the limit of ${maxPayload}` : null;
  const flagged = flags !== 0 ? `${opcode}: flags must be 0` : null;
  const carries = payloadLength !== 0 ? `${opcode}: carries no payload, header says ${payloadLength} bytes` : null;
  switch (opcode) {
    case 'SEND_WITH_IMM':
      return tooLong ?? { opcode, flags, psn, payloadLength, immData: auxOf(v, base) };
    case 'RDMA_WRITE':
    case 'RDMA_WRITE_WITH_IMM': {
      const remoteAddr = readAddr(v, base);
      const length = v.getUint32(base + OFFSET.length);
      const rkey = v.getUint32(base + OFFSET.rkey);
      return tooLong
        ?? (opcode === 'RDMA_WRITE' && auxOf(v, base) !== 0 ? 'RDMA_WRITE: immediate field must be 0' : null)
        ?? (remoteAddr === null ? `${opcode}: remote address beyond 2^53` : null)
        ?? (length !== payloadLength ? `${opcode}: length field ${length} differs from payload length ${payloadLength}` : null)
        ?? (opcode === 'RDMA_WRITE' ? { opcode, flags, psn, payloadLength, remoteAddr: remoteAddr!, rkey } : { opcode, flags, psn, payloadLength, remoteAddr: remoteAddr!, rkey, immData: auxOf(v, base) });
    }
    case 'RDMA_READ_REQUEST': {
      const remoteAddr = readAddr(v, base);
      const length = v.getUint32(base + OFFSET.length);
      return carries ?? (auxOf(v, base) !== 0 ? 'RDMA_READ_REQUEST: bytes 12..15 must be 0' : null)
        ?? (remoteAddr === null ? 'RDMA_READ_REQUEST: remote address beyond 2^53' : null)
        ?? (length > maxPayload ? `RDMA_READ_REQUEST: ${length} bytes exceed the limit of ${maxPayload}` : null)
        ?? { opcode, flags, psn, payloadLength: 0, remoteAddr: remoteAddr!, rkey: v.getUint32(base + OFFSET.rkey), length };
    }
    case 'RDMA_READ_RESPONSE':
      return flagged ?? tooLong ?? { opcode, flags: 0, psn, payloadLength };
    case 'ATOMIC_CMP_AND_SWP':
    case 'ATOMIC_FETCH_AND_ADD': {
      const remoteAddr = readAddr(v, base);
      const swap = v.getBigUint64(base + OFFSET.swap);
      return carries ?? (auxOf(v, base) !== 0 ? `${opcode}: bytes 12..15 must be 0` : null)
        ?? (remoteAddr === null ? `${opcode}: remote address beyond 2^53` : null)
        ?? (v.getUint32(base + OFFSET.length) !== 8 ? `${opcode}: length must be 8` : null)
        ?? (opcode === 'ATOMIC_FETCH_AND_ADD' && swap !== 0n ? 'ATOMIC_FETCH_AND_ADD: swap field must be 0' : null)
        ?? { opcode, flags, psn, payloadLength: 0, remoteAddr: remoteAddr!, rkey: v.getUint32(base + OFFSET.rkey), compareAdd: v.getBigUint64(base + OFFSET.compareAdd), swap };
    }
    case 'ATOMIC_RESPONSE':
      return flagged ?? carries ?? (zeroFrom(v, base, OFFSET.aux, OFFSET.compareAdd) ? null : 'ATOMIC_RESPONSE: only the original value may be set')
        ?? { opcode, flags: 0, psn, payloadLength: 0, original: v.getBigUint64(base + OFFSET.compareAdd) };
    case 'ACK':
      return flagged ?? carries ?? reuse(scratch, opcode, 0, psn, 0);
    case 'NAK': {
      const nakCode = auxOf(v, base);
      const nak = NAK_NAMES.get(nakCode);
      const rnrTimer = v.getUint8(base + OFFSET.remoteAddr);
      return flagged ?? carries ?? (nak === undefined ? `NAK: unknown code ${nakCode}` : null)
        ?? (rnrTimer > 31 ? `NAK: RNR timer ${rnrTimer} exceeds 31` : null)
        ?? (nak !== 'RNR' && rnrTimer !== 0 ? 'NAK: only an RNR NAK carries a timer' : null)
        ?? (zeroFrom(v, base, OFFSET.remoteAddr + 1, HEADER_BYTES.NAK) ? null : `NAK: bytes 17..${HEADER_BYTES.NAK - 1} must be 0`)
        ?? { opcode, flags: 0, psn, payloadLength: 0, code: nak!, rnrTimer };
    }
    case 'TERMINATE':
      return flagged ?? (psn !== 0 ? 'TERMINATE: PSN must be 0' : null)
        ?? (payloadLength > MAX_TERMINATE_TEXT ? `TERMINATE: reason text of ${payloadLength} bytes exceeds ${MAX_TERMINATE_TEXT}` : null)
        ?? { opcode, flags: 0, psn: 0, payloadLength, reason: auxOf(v, base) };
  }
}

export function encodeHello(hello: Hello, out: Uint8Array): void {
  if (out.byteLength < HELLO_BYTES) throw new WireEncodeError(`hello buffer holds ${out.byteLength} bytes, needs ${HELLO_BYTES}`);
  requireU32('srcQpn', hello.srcQpn, MAX_PSN);
  requireU32('destQpn', hello.destQpn, MAX_PSN);
  requireU32('rqPsn', hello.rqPsn, MAX_PSN);
  requireU32('maxMessage', hello.maxMessage);
  requireU32('maxDestRdAtomic', hello.maxDestRdAtomic, 255);
  out.fill(0, 0, HELLO_BYTES);
  const v = view(out);
  v.setUint32(0, HELLO_MAGIC);
  v.setUint8(4, WIRE_VERSION);
  v.setUint32(8, hello.srcQpn);
  v.setUint32(12, hello.destQpn);
  v.setUint32(16, hello.rqPsn);
  v.setUint32(20, hello.maxMessage);
  v.setUint8(24, hello.maxDestRdAtomic);
}

export function decodeHello(bytes: Uint8Array): Decoded<Hello> {
  if (bytes.byteLength < HELLO_BYTES) return fail(`hello has ${bytes.byteLength} bytes, needs ${HELLO_BYTES}`);
  const v = view(bytes);
  if (v.getUint32(0) !== HELLO_MAGIC) return fail(`not a tcpverbs peer: magic 0x${v.getUint32(0).toString(16)} instead of 0x${HELLO_MAGIC.toString(16)} ("TCPV")`);
  if (v.getUint8(4) !== WIRE_VERSION) return fail(`wire version ${v.getUint8(4)} is not supported; this end speaks version ${WIRE_VERSION}`);
  if (v.getUint8(5) !== 0 || v.getUint16(6) !== 0 || !zeroFrom(v, 0, 25, HELLO_BYTES)) return fail('hello: reserved bytes must be 0');
  const [srcQpn, destQpn, rqPsn] = [v.getUint32(8), v.getUint32(12), v.getUint32(16)];
  if (srcQpn > MAX_PSN || destQpn > MAX_PSN || rqPsn > MAX_PSN) return fail('hello: QP numbers and PSN are 24-bit');
  return { ok: true, value: { srcQpn, destQpn, rqPsn, maxMessage: v.getUint32(20), maxDestRdAtomic: v.getUint8(24) } };
}

/** PSN arithmetic modulo 2^24. */
export const psnAdd = (psn: number, n: number) => (psn + n) & MAX_PSN;
/** Signed distance from `a` to `b` in the 24-bit PSN space (positive: b is after a). */
export function psnDistance(a: number, b: number): number {
  const d = (b - a) & MAX_PSN;
  return d >= 0x800000 ? d - 0x1000000 : d;
}
