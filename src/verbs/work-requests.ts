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

// Not frozen: a frozen array's elements kind sends optimized keyed loads to V8's generic IC.
const NO_SGES: readonly Sge[] = [];
/** How a WR is named in errors (built only when one is thrown). */
const at = (index: number) => `wr[${index}]`;

/**
 * The last one-SGE list a post made, handed to the next WR whose one SGE has the same three
 * values: applications repost the same buffer (perftest one WR), and a checked list is a value
 * nothing below the verbs layer changes, so WRs can share it (two allocations per WR saved).
 */
const lastOneSge = { addr: -1, length: -1, lkey: -1, list: NO_SGES };

/** The checked one-SGE list with these values: the last one made, if its values are the same. */
function oneSgeList(addr: number, length: number, lkey: number): readonly Sge[] {
  const last = lastOneSge;
  if (addr !== last.addr || length !== last.length || lkey !== last.lkey) {
    last.addr = addr;
    last.length = length;
    last.lkey = lkey;
    last.list = [{ addr, length, lkey }];
  }
  return last.list;
}

/** The SGEs copied (the caller may reuse its WR once post returns), into an array of their exact number. */
function checkSgList(sgList: unknown, maxSge: number, index: number): readonly Sge[] {
  if (sgList === undefined || sgList === null) return NO_SGES;
  if (!Array.isArray(sgList)) throw einval(`${at(index)}.sgList must be an array, got ${describe(sgList)}`, index);
  const count = sgList.length;
  if (count > maxSge) throw einval(`${at(index)}.sgList has ${count} entries; the QP allows ${maxSge}`, index);
  if (count === 0) return NO_SGES;
  // One SGE (the common post) shares the last such list made: no array or object is built for it.
  const checked = count === 1 ? null : new Array<Sge>(count);
  for (let i = 0; i < count; i++) {
    if (!(i in sgList)) throw einval(`${at(index)}.sgList[${i}] is a hole in a sparse array; every entry must be { addr, length, lkey }`, index);
    const sge = sgList[i] as Sge;
    if (typeof sge !== 'object' || sge === null) throw einval(`${at(index)}.sgList[${i}] must be { addr, length, lkey }`, index);
    const { addr: rawAddr, length: rawLength, lkey: rawLkey } = sge;
    const addr = isIntIn(rawAddr, 0, MAX_ADDR) ? rawAddr : requireInt(`${at(index)}.sgList[${i}].addr`, rawAddr, 0, MAX_ADDR, index);
    const length = isIntIn(rawLength, 0, U32) ? rawLength : requireInt(`${at(index)}.sgList[${i}].length`, rawLength, 0, U32, index);
    const lkey = isIntIn(rawLkey, 0, U32) ? rawLkey : requireInt(`${at(index)}.sgList[${i}].lkey`, rawLkey, 0, U32, index);
    if (checked === null) return oneSgeList(addr, length, lkey);
    checked[i] = { addr, length, lkey };
  }
  return checked!;
}

function remoteOf(where: string, value: { remoteAddr: unknown; rkey: unknown }, index: number) {
  return { addr: requireInt(`${where}.remoteAddr`, value.remoteAddr, 0, Number.MAX_SAFE_INTEGER, index), rkey: requireInt(`${where}.rkey`, value.rkey, 0, U32, index) };
}

/** OPCODES.includes as a switch: the builtin's call measured ~0.4 % of the send path. */
function isOpcode(value: unknown): value is WrOpcode {
  switch (value) {
    case 'SEND':
    case 'SEND_WITH_IMM':
    case 'RDMA_WRITE':
    case 'RDMA_WRITE_WITH_IMM':
    case 'RDMA_READ':
    case 'ATOMIC_CMP_AND_SWP':
    case 'ATOMIC_FETCH_AND_ADD':
      return true;
    default:
      return false;
  }
}

export type SendRequestSlot = { -readonly [K in keyof SendRequest]: SendRequest[K] };

/** A request slot before its first use (every field of the shape). */
export const blankSendRequest = (): SendRequestSlot => ({
  wrId: 0n, opcode: 'SEND', signaled: false, solicited: false, fence: false, inline: false, sgList: NO_SGES, totalLength: 0, immData: undefined, remote: null, atomic: null,
});

/** ibv_post_send's checks of one WR's shape, as libibverbs and the kernel make them (EINVAL, badWr = index). */
export function checkSendWr(input: SendWr, index: number, qpType: QpType, cap: Readonly<QpCap>, into: SendRequestSlot): SendRequest {
  if (typeof input !== 'object' || input === null) throw einval(`WR ${index} must be an object, got ${describe(input)}`, index);
  // Each field read once (getters, proxies), into locals: what is checked is what is posted. A
  // field is read as any property is, own or inherited (a class's getters): the nested rdma and
  // atomic objects too, field by field (a spread would drop what their prototype holds).
  const { wrId: rawWrId, opcode: rawOpcode, sendFlags, sgList: rawSgList, immData: rawImm } = input;
  let { rdma, atomic: rawAtomic } = input;
  if (typeof rdma === 'object' && rdma !== null) rdma = { remoteAddr: rdma.remoteAddr, rkey: rdma.rkey };
  if (typeof rawAtomic === 'object' && rawAtomic !== null) rawAtomic = { remoteAddr: rawAtomic.remoteAddr, rkey: rawAtomic.rkey, compareAdd: rawAtomic.compareAdd, swap: rawAtomic.swap };
  const wrId = isU64(rawWrId) ? rawWrId : requireU64(`${at(index)}.wrId`, rawWrId, index);
  const opcode = isOpcode(rawOpcode) ? rawOpcode : requireOneOf(`${at(index)}.opcode`, rawOpcode, OPCODES, index);
  if (qpType === 'STREAM' && opcode !== 'SEND') throw einval(`a STREAM QP sends raw bytes: only SEND is supported, not ${opcode}`, index);
  const rawFlags = sendFlags ?? 0;
  const flags = isIntIn(rawFlags, 0, U32) && (rawFlags & ~KNOWN_SEND_FLAGS) === 0 ? rawFlags : requireFlags(`${at(index)}.sendFlags`, rawFlags, KNOWN_SEND_FLAGS, SEND_FLAG_NAMES, index);
  const inline = (flags & SendFlags.INLINE) !== 0;
  const sgList = checkSgList(rawSgList, cap.maxSendSge, index);
  let totalLength = 0;
  for (let i = 0; i < sgList.length; i++) totalLength += sgList[i]!.length;
  if (totalLength > DEVICE_LIMITS.maxMsgSize) throw einval(`${at(index)} is ${totalLength} bytes; the largest message is ${DEVICE_LIMITS.maxMsgSize}`, index);
  if (inline) {
    if (!INLINE_OPCODES.includes(opcode)) throw einval(`${at(index)}: INLINE applies to SEND and RDMA_WRITE only, not ${opcode}`, index);
    if (totalLength > cap.maxInlineData) throw einval(`${at(index)}: ${totalLength} inline bytes exceed cap.maxInlineData (${cap.maxInlineData})`, index);
  }
  const immData = opcode === 'SEND_WITH_IMM' || opcode === 'RDMA_WRITE_WITH_IMM' ? requireInt(`${at(index)}.immData`, rawImm, 0, U32, index) : undefined;
  let remote: SendRequest['remote'] = null;
  let atomic: SendRequest['atomic'] = null;
  if (opcode === 'RDMA_WRITE' || opcode === 'RDMA_WRITE_WITH_IMM' || opcode === 'RDMA_READ') {
    if (typeof rdma !== 'object' || rdma === null) throw einval(`${at(index)}.rdma { remoteAddr, rkey } is required for ${opcode}`, index);
    remote = remoteOf(`${at(index)}.rdma`, rdma, index);
  }
  if (opcode === 'ATOMIC_CMP_AND_SWP' || opcode === 'ATOMIC_FETCH_AND_ADD') {
    if (typeof rawAtomic !== 'object' || rawAtomic === null) throw einval(`${at(index)}.atomic { remoteAddr, rkey, compareAdd, swap } is required for ${opcode}`, index);
    remote = remoteOf(`${at(index)}.atomic`, rawAtomic, index);
    atomic = {
      compareAdd: requireU64(`${at(index)}.atomic.compareAdd`, rawAtomic.compareAdd, index),
      swap: opcode === 'ATOMIC_CMP_AND_SWP' ? requireU64(`${at(index)}.atomic.swap`, rawAtomic.swap, index) : 0n,
    };
    if (sgList.length !== 1 || sgList[0]!.length !== 8) throw einval(`${at(index)}: an atomic needs exactly one 8-byte SGE for the original value`, index);
  }
  into.wrId = wrId;
  into.opcode = opcode;
  into.signaled = (flags & SendFlags.SIGNALED) !== 0;
  into.solicited = (flags & SendFlags.SOLICITED) !== 0;
  into.fence = (flags & SendFlags.FENCE) !== 0;
  into.inline = inline;
  into.sgList = sgList;
  into.totalLength = totalLength;
  into.immData = immData;
  into.remote = remote;
  into.atomic = atomic;
  return into;
}

/**
 * The last receive request made: a receive reposted with the same wrId and the same shared SGE
 * list gets it again (a request is a value, never changed once made; perftest reposts one WR).
 */
let lastRecvRequest: RecvRequest = { wrId: -1n, sgList: NO_SGES };

/** ibv_post_recv's checks of one WR's shape. */
export function checkRecvWr(input: RecvWr, index: number, cap: Readonly<QpCap>): RecvRequest {
  if (typeof input !== 'object' || input === null) throw einval(`WR ${index} must be an object, got ${describe(input)}`, index);
  // Each field read once (getters, proxies), as checkSendWr reads them.
  const { wrId: rawWrId, sgList } = input;
  const wrId = isU64(rawWrId) ? rawWrId : requireU64(`${at(index)}.wrId`, rawWrId, index);
  const checked = checkSgList(sgList, cap.maxRecvSge, index);
  if (checked !== lastRecvRequest.sgList || wrId !== lastRecvRequest.wrId) lastRecvRequest = { wrId, sgList: checked };
  return lastRecvRequest;
}
