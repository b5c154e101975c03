import { KNOWN_SEND_FLAGS, SendFlags } from '../abi/constants.js';
import { einval } from '../abi/errors.js';
import { DEVICE_LIMITS } from '../abi/limits.js';
import type { QpCap, QpType, RecvWr, SendWr, Sge, WrOpcode } from '../abi/types.js';
import type { RecvRequest, SendRequest } from '../provider/ops.js';
import { describe, isIntIn, isU64, requireFlags, requireInt, requireOneOf, requireU64 } from './validate.js';

const OPCODES: readonly WrOpcode[] = ['SEND', 'SEND_WITH_IMM', 'RDMA_WRITE', 'RDMA_WRITE_WITH_IMM', 'RDMA_READ', 'ATOMIC_CMP_AND_SWP', 'ATOMIC_FETCH_AND_ADD'];
const INLINE_OPCODES: readonly WrOpcode[] = ['SEND', 'SEND_WITH_IMM', 'RDMA_WRITE', 'RDMA_WRITE_WITH_IMM'];
const U32 = 0xffffffff;
const SEND_FLAG_NAMES = 'FENCE|SIGNALED|SOLICITED|INLINE';

/**
 * The WR list of a post, as an array with no holes: `Array#map` and `forEach` skip the holes of
 * a sparse array, so a hole is refused here, by index, before anything is posted for it.
 */
export function wrList<T>(wrs: T | readonly T[]): { list: readonly T[]; hole: number | null } {
  let isArray: boolean;
  try {
    isArray = Array.isArray(wrs);
  } catch {
    throw einval('the WR list could not be read (a revoked proxy?); pass a WR object or an array of them', 0);
  }
  if (!isArray) return { list: [wrs as T], hole: null };
  const list = wrs as readonly T[];
  for (let index = 0; index < list.length; index++) if (!(index in list)) return { list, hole: index };
  return { list, hole: null };
}

export const holeError = (index: number) => einval(`WR ${index} is a hole in a sparse array; every entry must be a WR object`, index);

// The hot path of a post: each field is tested with the predicate alone, and only a field that
// fails is checked again through require* to be named in the error (no string built otherwise).
const MAX_ADDR = Number.MAX_SAFE_INTEGER;

function checkSgList(sgList: unknown, maxSge: number, where: () => string, index: number): Sge[] {
  if (!Array.isArray(sgList)) throw einval(`${where()}.sgList must be an array, got ${describe(sgList)}`, index);
  if (sgList.length > maxSge) throw einval(`${where()}.sgList has ${sgList.length} entries; the QP allows ${maxSge}`, index);
  const checked: Sge[] = [];
  for (let i = 0; i < sgList.length; i++) {
    if (!(i in sgList)) throw einval(`${where()}.sgList[${i}] is a hole in a sparse array; every entry must be { addr, length, lkey }`, index);
    const sge = sgList[i] as Sge;
    if (typeof sge !== 'object' || sge === null) throw einval(`${where()}.sgList[${i}] must be { addr, length, lkey }`, index);
    const { addr, length, lkey } = sge;
    checked.push({
      addr: isIntIn(addr, 0, MAX_ADDR) ? addr : requireInt(`${where()}.sgList[${i}].addr`, addr, 0, MAX_ADDR, index),
      length: isIntIn(length, 0, U32) ? length : requireInt(`${where()}.sgList[${i}].length`, length, 0, U32, index),
      lkey: isIntIn(lkey, 0, U32) ? lkey : requireInt(`${where()}.sgList[${i}].lkey`, lkey, 0, U32, index),
    });
  }
  return checked;
}

function remoteOf(where: string, value: { remoteAddr: unknown; rkey: unknown }, index: number) {
  return { addr: requireInt(`${where}.remoteAddr`, value.remoteAddr, 0, Number.MAX_SAFE_INTEGER, index), rkey: requireInt(`${where}.rkey`, value.rkey, 0, U32, index) };
}

/** ibv_post_send's checks of one WR's shape, as libibverbs and the kernel make them (EINVAL, badWr = index). */
export function checkSendWr(input: SendWr, index: number, qpType: QpType, cap: Readonly<QpCap>): SendRequest {
  if (typeof input !== 'object' || input === null) throw einval(`WR ${index} must be an object, got ${describe(input)}`, index);
  // Each field read once (getters, proxies): what is checked is what is posted.
  const wr: SendWr = { ...input };
  if (typeof wr.rdma === 'object' && wr.rdma !== null) wr.rdma = { ...wr.rdma };
  if (typeof wr.atomic === 'object' && wr.atomic !== null) wr.atomic = { ...wr.atomic };
  const at = () => `wr[${index}]`;
  const wrId = isU64(wr.wrId) ? wr.wrId : requireU64(`${at()}.wrId`, wr.wrId, index);
  const opcode = OPCODES.includes(wr.opcode) ? wr.opcode : requireOneOf(`${at()}.opcode`, wr.opcode, OPCODES, index);
  if (qpType === 'STREAM' && opcode !== 'SEND') throw einval(`a STREAM QP sends raw bytes: only SEND is supported, not ${opcode}`, index);
  const rawFlags = wr.sendFlags ?? 0;
  const flags = isIntIn(rawFlags, 0, U32) && (rawFlags & ~KNOWN_SEND_FLAGS) === 0 ? rawFlags : requireFlags(`${at()}.sendFlags`, rawFlags, KNOWN_SEND_FLAGS, SEND_FLAG_NAMES, index);
  const inline = (flags & SendFlags.INLINE) !== 0;
  const sgList = checkSgList(wr.sgList ?? [], cap.maxSendSge, at, index);
  const totalLength = sgList.reduce((sum, sge) => sum + sge.length, 0);
  if (totalLength > DEVICE_LIMITS.maxMsgSize) throw einval(`${at()} is ${totalLength} bytes; the largest message is ${DEVICE_LIMITS.maxMsgSize}`, index);
  if (inline) {
    if (!INLINE_OPCODES.includes(opcode)) throw einval(`${at()}: INLINE applies to SEND and RDMA_WRITE only, not ${opcode}`, index);
    if (totalLength > cap.maxInlineData) throw einval(`${at()}: ${totalLength} inline bytes exceed cap.maxInlineData (${cap.maxInlineData})`, index);
  }
  const immData = opcode === 'SEND_WITH_IMM' || opcode === 'RDMA_WRITE_WITH_IMM' ? requireInt(`${at()}.immData`, wr.immData, 0, U32, index) : undefined;
  let remote: SendRequest['remote'] = null;
  let atomic: SendRequest['atomic'] = null;
  if (opcode.startsWith('RDMA_')) {
    if (typeof wr.rdma !== 'object' || wr.rdma === null) throw einval(`${at()}.rdma { remoteAddr, rkey } is required for ${opcode}`, index);
    remote = remoteOf(`${at()}.rdma`, wr.rdma, index);
  }
  if (opcode.startsWith('ATOMIC_')) {
    if (typeof wr.atomic !== 'object' || wr.atomic === null) throw einval(`${at()}.atomic { remoteAddr, rkey, compareAdd, swap } is required for ${opcode}`, index);
    remote = remoteOf(`${at()}.atomic`, wr.atomic, index);
    atomic = {
      compareAdd: requireU64(`${at()}.atomic.compareAdd`, wr.atomic.compareAdd, index),
      swap: opcode === 'ATOMIC_CMP_AND_SWP' ? requireU64(`${at()}.atomic.swap`, wr.atomic.swap, index) : 0n,
    };
    if (sgList.length !== 1 || sgList[0]!.length !== 8) throw einval(`${at()}: an atomic needs exactly one 8-byte SGE for the original value`, index);
  }
  return {
    wrId, opcode, signaled: (flags & SendFlags.SIGNALED) !== 0, solicited: (flags & SendFlags.SOLICITED) !== 0,
    fence: (flags & SendFlags.FENCE) !== 0, inline, sgList, totalLength, immData, remote, atomic,
  };
}

/** ibv_post_recv's checks of one WR's shape. */
export function checkRecvWr(input: RecvWr, index: number, cap: Readonly<QpCap>): RecvRequest {
  if (typeof input !== 'object' || input === null) throw einval(`WR ${index} must be an object, got ${describe(input)}`, index);
  // Own fields only, each read once (getters, proxies), as checkSendWr reads them.
  const wr: RecvWr = { ...input };
  const wrId = isU64(wr.wrId) ? wr.wrId : requireU64(`wr[${index}].wrId`, wr.wrId, index);
  return { wrId, sgList: checkSgList(wr.sgList ?? [], cap.maxRecvSge, () => `wr[${index}]`, index) };
}
