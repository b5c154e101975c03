/**
 * The frame encoder (docs/wire.md): a header from its fields, validated first, so that whatever
 * this writes the decoder (frame.ts) accepts. The transmit path writes straight into its staging
 * blocks (encodeHeaderIn); encodeHeader leaves its output untouched when it refuses.
 */
import { HEADER_BYTES_BY_CODE, KNOWN_FLAGS, NakCode, opcodeCode, type OpcodeName } from './opcodes.js';
import { COMMON_BYTES, MAX_FRAME_HEADER_BYTES, MAX_PSN, MAX_TERMINATE_TEXT, OFFSET, U32, wholeViewCache } from './layout.js';
import type { FrameHeader } from './frame.js';

/** A programming error on our side: an encoder was asked to put an impossible value on the wire. */
export class WireEncodeError extends Error {}

const encodeView = wholeViewCache();

export function requireU32(name: string, value: number, max = U32): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new WireEncodeError(`${name} must be an integer in 0..${max}, got ${value}`);
}

function requireAddr(value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new WireEncodeError(`remoteAddr must be a safe non-negative integer, got ${value}`);
}

function requireU64(name: string, value: bigint): void {
  if (value < 0n || value > 0xffffffffffffffffn) throw new WireEncodeError(`${name} must fit in 64 bits, got ${value}`);
}

/** The wire code of `opcode`, refused when it names none. */
export function requireCode(opcode: OpcodeName): number {
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
  const code = requireCode(header.opcode);
  const length = HEADER_BYTES_BY_CODE[code]!;
  if (at < 0 || at + length > bytes.byteLength) throw new WireEncodeError(`no room for a ${length}-byte ${header.opcode} header at ${at} of a ${bytes.byteLength}-byte buffer`);
  return encodeHeaderIn(header, encodeView(bytes.buffer), bytes.byteOffset + at, code);
}

/**
 * encodeHeaderAt through a DataView the caller keeps (a staging block's), for room the caller
 * has reserved: headerBytesOf(opcode) bytes at `base` (a DataView access past its end throws
 * RangeError); returns that length. The header is zeroed word by word and written with no
 * `fill`, `.buffer` or `.byteLength` (runtime calls, measured ~4 % of the send path together).
 */
export function encodeHeaderIn(header: FrameHeader, v: DataView, base: number, code = requireCode(header.opcode)): number {
  const length = HEADER_BYTES_BY_CODE[code]!;
  // The 12-byte headers (SEND, ACK, READ_RESPONSE: most frames) are the common fields alone,
  // written by a function small enough for V8 to inline into the transmit path; writeHeader's
  // switch over every opcode is not (measured: 0.3 µs of a 32-frame doorbell, 64 B send_bw).
  if (length === COMMON_BYTES) {
    writeCommonFields(v, base, code, header.flags, header.psn, header.payloadLength);
    return length;
  }
  // writeHeader writes the first COMMON_BYTES whole (the reserved bytes as zeros): only what
  // follows them is zeroed first.
  for (let i = COMMON_BYTES; i < length; i += 4) v.setUint32(base + i, 0);
  writeHeader(header, code, v, base);
  return length;
}

const HEADER_SCRATCH = new Uint8Array(MAX_FRAME_HEADER_BYTES);
const SCRATCH_VIEW = new DataView(HEADER_SCRATCH.buffer);

/**
 * The fields every header starts with, checked as writeHeader checks them: `x >>> 0 === x` holds
 * exactly for an integer in 0..2^32-1, so the common case costs no call (the refusal is built by
 * requireU32, which names the field).
 */
function writeCommonFields(v: DataView, base: number, code: number, flags: number, psn: number, payloadLength: number): void {
  if (flags >>> 0 !== flags || flags > KNOWN_FLAGS || psn >>> 0 !== psn || psn > MAX_PSN || payloadLength >>> 0 !== payloadLength) refuseCommonFields(flags, psn, payloadLength);
  // Opcode, flags and the two reserved (zero) bytes as one word.
  v.setUint32(base + OFFSET.opcode, ((code << 24) | (flags << 16)) >>> 0);
  v.setUint32(base + OFFSET.psn, psn);
  v.setUint32(base + OFFSET.payloadLength, payloadLength);
}

/** Out of line, so that writeCommonFields stays small: throws for the first field out of range. */
function refuseCommonFields(flags: number, psn: number, payloadLength: number): never {
  requireU32('flags', flags, KNOWN_FLAGS);
  requireU32('psn', psn, MAX_PSN);
  requireU32('payloadLength', payloadLength);
  throw new WireEncodeError(`encoder invariant: common fields flags ${flags}, psn ${psn}, payloadLength ${payloadLength} refused, yet each is in range`);
}

function writeHeader(header: FrameHeader, code: number, v: DataView, base: number): void {
  writeCommonFields(v, base, code, header.flags, header.psn, header.payloadLength);
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
