/**
 * The header layout both directions share (docs/wire.md): where each field sits, the limits of
 * the common fields, and the DataView cache the encoder and the decoder each keep.
 */
import { WIRE_LIMITS } from '../abi/limits.js';

/** The longest header (an atomic request's): a buffer this long holds any header. */
export const MAX_FRAME_HEADER_BYTES: number = WIRE_LIMITS.maxFrameHeaderBytes;
export const MAX_PSN = 0xffffff;
/** TERMINATE carries a short UTF-8 reason, nothing else. */
export const MAX_TERMINATE_TEXT: number = WIRE_LIMITS.maxTerminateText;

export const OFFSET = { opcode: 0, flags: 1, reserved: 2, psn: 4, payloadLength: 8, aux: 12, remoteAddr: 16, rkey: 24, length: 28, compareAdd: 32, swap: 40 } as const;
export const U32 = 0xffffffff;
/** The fields every header starts with (opcode, flags, reserved, psn, payloadLength): the shortest header. */
export const COMMON_BYTES = OFFSET.aux;

/**
 * A DataView of a whole buffer, reused while the same buffer comes again. One per direction: the
 * decoder sees the receive ring, the encoder the transmit blocks, so neither evicts the other.
 */
export function wholeViewCache(): (buffer: ArrayBufferLike) => DataView {
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
