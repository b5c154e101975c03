import type { Socket } from 'node:net';
import { QpAttrMask as M } from '../../src/index.js';
import type { AsyncEvent } from '../../src/index.js';
import {
  HELLO_BYTES, MIN_FRAME_HEADER_BYTES, decodeHeader, headerBytesForCode, headerBytesOf, decodeHello, encodeHeader, encodeHello, type FrameHeader,
} from '../../src/wire/frame.js';
import { makeSide, socketPair, toRtr, type Side } from './verbs-harness.js';

/** A real QP whose peer is a raw socket scripted byte by byte, and a parser of what the QP wrote. */

export interface ParsedFrame {
  readonly header: FrameHeader;
  readonly payload: Uint8Array;
  /** Offset of the frame's first byte in the received stream. */
  readonly offset: number;
}

/** The stream a tcpverbs QP wrote: its 32-byte HELLO, then complete frames (a partial tail is left out). */
export function parseStream(bytes: Uint8Array): ParsedFrame[] {
  if (bytes.byteLength < HELLO_BYTES) return [];
  const hello = decodeHello(bytes.subarray(0, HELLO_BYTES));
  if (!hello.ok) throw new Error(`the QP's hello does not decode: ${hello.reason}`);
  const frames: ParsedFrame[] = [];
  let at = HELLO_BYTES;
  while (at + MIN_FRAME_HEADER_BYTES <= bytes.byteLength) {
    const headerBytes = headerBytesForCode(bytes[at]!);
    if (headerBytes === 0) throw new Error(`frame at byte ${at} has no opcode: 0x${bytes[at]!.toString(16)}`);
    if (at + headerBytes > bytes.byteLength) break;
    const decoded = decodeHeader(bytes.subarray(at, at + headerBytes), { maxPayload: 1 << 30 });
    if (!decoded.ok) throw new Error(`frame at byte ${at} does not decode: ${decoded.reason}`);
    const end = at + headerBytes + decoded.value.payloadLength;
    if (end > bytes.byteLength) break;
    frames.push({ header: decoded.value, payload: bytes.subarray(at + headerBytes, end), offset: at });
    at = end;
  }
  return frames;
}

export function frame(header: FrameHeader, payload?: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(headerBytesOf(header.opcode) + (payload?.byteLength ?? 0));
  const headerBytes = encodeHeader(header, bytes);
  if (payload !== undefined) bytes.set(payload, headerBytes);
  return bytes;
}

export const ack = (psn: number) => frame({ opcode: 'ACK', flags: 0, psn, payloadLength: 0 });
export const nak = (psn: number, code: 'RNR' | 'PSN_SEQUENCE_ERROR', rnrTimer = 0) => frame({ opcode: 'NAK', flags: 0, psn, payloadLength: 0, code, rnrTimer });

export interface RawPeerOptions {
  /** The QP's sq_psn, set at RTR -> RTS. */
  sqPsn?: number;
  timeout?: number;
  retryCnt?: number;
  rnrRetry?: number;
  /** The QP's max_rd_atomic (default 16). */
  maxRdAtomic?: number;
  /** rq_psn announced in the raw peer's hello. */
  helloRqPsn?: number;
  /** maxMessage and maxDestRdAtomic announced in the raw peer's hello (defaults 2^20 and 4). */
  helloMaxMessage?: number;
  helloMaxDestRdAtomic?: number;
}

export interface RawPeer {
  readonly side: Side;
  readonly raw: Socket;
  readonly hello: Uint8Array;
  received(): Buffer;
  frames(): ParsedFrame[];
  /** The QP's end of the connection went away (FIN, reset or close). */
  ended(): boolean;
  close(): void;
}

/** One real QP in RTS (with the given sq_psn, timeout, retry counts) whose peer is a raw socket. */
export async function rawPeer(options: RawPeerOptions = {}): Promise<RawPeer> {
  const [client, raw, stop] = await socketPair();
  const side = makeSide();
  const fakeQpn = 0x123456;
  toRtr(side, fakeQpn, { socket: client });
  side.qp.modify(
    { qpState: 'RTS', sqPsn: options.sqPsn ?? 0, timeout: options.timeout ?? 14, retryCnt: options.retryCnt ?? 7, rnrRetry: options.rnrRetry ?? 7, maxRdAtomic: options.maxRdAtomic ?? 16 },
    M.STATE | M.SQ_PSN | M.TIMEOUT | M.RETRY_CNT | M.RNR_RETRY | M.MAX_QP_RD_ATOMIC,
  );
  const chunks: Buffer[] = [];
  let ended = false;
  raw.setNoDelay(true);
  raw.on('data', (chunk: Buffer) => chunks.push(chunk));
  raw.on('end', () => { ended = true; });
  raw.on('close', () => { ended = true; });
  raw.on('error', () => { ended = true; });
  const hello = new Uint8Array(HELLO_BYTES);
  encodeHello({ srcQpn: fakeQpn, destQpn: side.qp.qpNum, rqPsn: options.helloRqPsn ?? options.sqPsn ?? 0, maxMessage: options.helloMaxMessage ?? 1 << 20, maxDestRdAtomic: options.helloMaxDestRdAtomic ?? 4 }, hello);
  const received = () => Buffer.concat(chunks);
  return {
    side, raw, hello, received,
    frames: () => parseStream(received()),
    ended: () => ended,
    close: () => { side.ctx.close(); raw.destroy(); stop(); },
  };
}

/** Every async event of the side's context so far, oldest first. */
export function asyncEvents(side: Side): AsyncEvent[] {
  const events: AsyncEvent[] = [];
  for (let e = side.ctx.pollAsyncEvent(); e !== undefined; e = side.ctx.pollAsyncEvent()) events.push(e);
  return events;
}
