import { KNOWN_SEND_FLAGS, SendFlags } from '../abi/constants.js';
import { einval } from '../abi/errors.js';
import { DEVICE_LIMITS } from '../abi/limits.js';
import type { QpCap, QpType, RecvWr, SendWr, Sge, WrOpcode } from '../abi/types.js';
import type { RecvRequest, SendRequest } from '../provider/ops.js';
import { MAX_ADDR, U32, isIntIn, isU64, requireInt, requireU64 } from './validate.js';
import {
  at, badOpcode, badSendFlags, badSgeField, badWrId, inlineRefusal, messageTooLong, notAnObject, sgeHole, sgeNotAnObject, sgListRefusal, streamSendOnly,
} from './wr-refusals.js';


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
// fails is named, by its refusal in wr-refusals.ts (no string built otherwise).

// Not frozen: a frozen array's elements kind sends optimized keyed loads to V8's generic IC.
const NO_SGES: readonly Sge[] = [];

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
  if (!Array.isArray(sgList)) throw sgListRefusal(sgList, 0, maxSge, index);
  // Read once: a proxy's length could say one thing to the check and another to the copy.
  const count = sgList.length;
  if (count > maxSge) throw sgListRefusal(sgList, count, maxSge, index);
  if (count === 0) return NO_SGES;
  if (count === 1) {
    // One SGE (the common post) shares the last such list made: no array or object is built for it.
    const { addr, length, lkey } = sgeAt(sgList, 0, index);
    if (!sgeFieldsOk(addr, length, lkey)) badSgeField(index, 0, addr, length, lkey);
    return oneSgeList(addr, length, lkey);
  }
  const checked = new Array<Sge>(count);
  for (let i = 0; i < count; i++) {
    const { addr, length, lkey } = sgeAt(sgList, i, index);
    if (!sgeFieldsOk(addr, length, lkey)) badSgeField(index, i, addr, length, lkey);
    checked[i] = { addr, length, lkey };
  }
  return checked;
}

/** Entry `i` of an SGE list, present and an object (its fields are the caller's to read, once). */
function sgeAt(sgList: readonly unknown[], i: number, index: number): Sge {
  if (!(i in sgList)) throw sgeHole(index, i);
  const sge = sgList[i];
  if (typeof sge !== 'object' || sge === null) throw sgeNotAnObject(index, i);
  return sge as Sge;
}

const sgeFieldsOk = (addr: unknown, length: unknown, lkey: unknown): boolean => isIntIn(addr, 0, MAX_ADDR) && isIntIn(length, 0, U32) && isIntIn(lkey, 0, U32);

function remoteOf(where: string, value: { remoteAddr: unknown; rkey: unknown }, index: number) {
  return { addr: requireInt(`${where}.remoteAddr`, value.remoteAddr, 0, MAX_ADDR, index), rkey: requireInt(`${where}.rkey`, value.rkey, 0, U32, index) };
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
  if (typeof input !== 'object' || input === null) throw notAnObject(index, input);
  // Each field read once (getters, proxies), into locals: what is checked is what is posted. A
  // field is read as any property is, own or inherited (a class's getters): the nested rdma and
  // atomic objects too, field by field, by the opcode that uses them (opcodeFields).
  const { wrId: rawWrId, opcode: rawOpcode, sendFlags, sgList: rawSgList, immData: rawImm, rdma, atomic } = input;
  const wrId = isU64(rawWrId) ? rawWrId : badWrId(rawWrId, index);
  const opcode = isOpcode(rawOpcode) ? rawOpcode : badOpcode(rawOpcode, index);
  if (qpType === 'STREAM' && opcode !== 'SEND') throw streamSendOnly(index, opcode);
  const rawFlags = sendFlags ?? 0;
  const flags = isIntIn(rawFlags, 0, U32) && (rawFlags & ~KNOWN_SEND_FLAGS) === 0 ? rawFlags : badSendFlags(rawFlags, KNOWN_SEND_FLAGS, index);
  const sgList = checkSgList(rawSgList, cap.maxSendSge, index);
  const totalLength = bytesOf(sgList);
  if (totalLength > DEVICE_LIMITS.maxMsgSize) throw messageTooLong(index, totalLength);
  if ((flags & SendFlags.INLINE) !== 0 && (!isInlineOpcode(opcode) || totalLength > cap.maxInlineData)) throw inlineRefusal(index, opcode, isInlineOpcode(opcode), totalLength, cap);
  fillRequest(into, wrId, opcode, flags, sgList, totalLength);
  if (opcode === 'SEND') {
    into.immData = undefined;
    into.remote = null;
    into.atomic = null;
  } else {
    opcodeFields(into, opcode, rawImm, rdma, atomic, sgList, index);
  }
  return into;
}

function bytesOf(sgList: readonly Sge[]): number {
  let total = 0;
  for (let i = 0; i < sgList.length; i++) total += sgList[i]!.length;
  return total;
}

function fillRequest(into: SendRequestSlot, wrId: bigint, opcode: WrOpcode, flags: number, sgList: readonly Sge[], totalLength: number): void {
  into.wrId = wrId;
  into.opcode = opcode;
  into.signaled = (flags & SendFlags.SIGNALED) !== 0;
  into.solicited = (flags & SendFlags.SOLICITED) !== 0;
  into.fence = (flags & SendFlags.FENCE) !== 0;
  into.inline = (flags & SendFlags.INLINE) !== 0;
  into.sgList = sgList;
  into.totalLength = totalLength;
}

type RdmaFields = NonNullable<SendWr['rdma']>;
type AtomicFields = NonNullable<SendWr['atomic']>;

function isInlineOpcode(opcode: WrOpcode): boolean {
  return opcode === 'SEND' || opcode === 'SEND_WITH_IMM' || opcode === 'RDMA_WRITE' || opcode === 'RDMA_WRITE_WITH_IMM';
}

/** What the opcodes other than SEND carry besides their SGEs: an immediate, a remote address, atomic operands. */
function opcodeFields(into: SendRequestSlot, opcode: WrOpcode, rawImm: unknown, rawRdma: unknown, rawAtomic: unknown, sgList: readonly Sge[], index: number): void {
  const immData = opcode === 'SEND_WITH_IMM' || opcode === 'RDMA_WRITE_WITH_IMM' ? requireInt(`${at(index)}.immData`, rawImm, 0, U32, index) : undefined;
  let remote: SendRequest['remote'] = null;
  let atomic: SendRequest['atomic'] = null;
  if (opcode === 'RDMA_WRITE' || opcode === 'RDMA_WRITE_WITH_IMM' || opcode === 'RDMA_READ') {
    if (typeof rawRdma !== 'object' || rawRdma === null) throw einval(`${at(index)}.rdma { remoteAddr, rkey } is required for ${opcode}`, index);
    const { remoteAddr, rkey } = rawRdma as RdmaFields;
    remote = remoteOf(`${at(index)}.rdma`, { remoteAddr, rkey }, index);
  }
  if (opcode === 'ATOMIC_CMP_AND_SWP' || opcode === 'ATOMIC_FETCH_AND_ADD') {
    if (typeof rawAtomic !== 'object' || rawAtomic === null) throw einval(`${at(index)}.atomic { remoteAddr, rkey, compareAdd, swap } is required for ${opcode}`, index);
    const { remoteAddr, rkey, compareAdd, swap } = rawAtomic as AtomicFields;
    remote = remoteOf(`${at(index)}.atomic`, { remoteAddr, rkey }, index);
    atomic = {
      compareAdd: requireU64(`${at(index)}.atomic.compareAdd`, compareAdd, index),
      swap: opcode === 'ATOMIC_CMP_AND_SWP' ? requireU64(`${at(index)}.atomic.swap`, swap, index) : 0n,
    };
    if (sgList.length !== 1 || sgList[0]!.length !== 8) throw einval(`${at(index)}: an atomic needs exactly one 8-byte SGE for the original value`, index);
  }
  into.immData = immData;
  into.remote = remote;
  into.atomic = atomic;
}

/**
 * The last receive request made: a receive reposted with the same wrId and the same shared SGE
 * list gets it again (a request is a value, never changed once made; perftest reposts one WR).
 */
let lastRecvRequest: RecvRequest = { wrId: -1n, sgList: NO_SGES };

/** ibv_post_recv's checks of one WR's shape. */
export function checkRecvWr(input: RecvWr, index: number, cap: Readonly<QpCap>): RecvRequest {
  if (typeof input !== 'object' || input === null) throw notAnObject(index, input);
  // Each field read once (getters, proxies), as checkSendWr reads them.
  const { wrId: rawWrId, sgList } = input;
  const wrId = isU64(rawWrId) ? rawWrId : badWrId(rawWrId, index);
  const checked = checkSgList(sgList, cap.maxRecvSge, index);
  if (checked !== lastRecvRequest.sgList || wrId !== lastRecvRequest.wrId) lastRecvRequest = { wrId, sgList: checked };
  return lastRecvRequest;
}
