/**
 * The RC frame protocol over a TCP byte stream (docs/wire.md). Every frame is a header, whose
 * length its first byte (the opcode) sets, optionally followed by `payloadLength` bytes. The
 * headers are the first 12 to 48 bytes of one layout (opcodes.ts HEADER_BYTES): a SEND needs 12.
 * Knowing the length from the first byte lets the receiver read exactly one header and then
 * point the next read at the payload's final place. Pure functions only: no I/O, no state.
 */
import { WIRE_LIMITS } from '../abi/limits.js';
import { requireU32, WireEncodeError } from './encode.js';
import { MAX_FRAME_HEADER_BYTES, MAX_PSN, MAX_TERMINATE_TEXT, OFFSET, wholeViewCache } from './layout.js';
import { HEADER_BYTES, HEADER_BYTES_BY_CODE, KNOWN_FLAGS, NAK_NAMES, NakCode, OPCODE_NAMES, Opcode, opcodeCode, type NakCodeName, type OpcodeName } from './opcodes.js';

/** The shortest header (SEND, ACK, READ response). */
export const MIN_FRAME_HEADER_BYTES: number = Math.min(...Object.values(HEADER_BYTES));
if (Math.max(...Object.values(HEADER_BYTES)) !== MAX_FRAME_HEADER_BYTES) throw new Error('frame invariant: WIRE_LIMITS.maxFrameHeaderBytes is not the longest header');
export const HELLO_BYTES: number = WIRE_LIMITS.helloBytes;
/** 2: headers as long as their opcode needs (version 1 gave every frame 48 bytes). */
export const WIRE_VERSION = 2;
export const HELLO_MAGIC = 0x54435056; // "TCPV"

export { FrameFlag, HEADER_BYTES, NakCode, Opcode, type NakCodeName, type OpcodeName } from './opcodes.js';
export { MAX_FRAME_HEADER_BYTES, MAX_PSN, MAX_TERMINATE_TEXT } from './layout.js';
export { encodeHeader, encodeHeaderAt, encodeHeaderIn, requireCode, WireEncodeError } from './encode.js';

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



function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
const decodeView = wholeViewCache();

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
