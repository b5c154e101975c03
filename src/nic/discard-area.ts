import { NIC_LIMITS } from '../abi/limits.js';

/**
 * Where bytes nobody will look at are read to: discarded payloads (RNR'd SENDs, refused requests),
 * everything after a QP failed, a stale transport's reads. Never read, so one area serves every QP
 * of every path in the process.
 */
export const DISCARD_AREA = new Uint8Array(NIC_LIMITS.discardAreaBytes);
