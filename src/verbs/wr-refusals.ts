import { einval, type VerbsError } from '../abi/errors.js';
import { DEVICE_LIMITS } from '../abi/limits.js';
import type { QpCap, WrOpcode } from '../abi/types.js';
import { MAX_ADDR, U32, describe, requireInt, requireOneOf, requireU64, requireFlags } from './validate.js';

/**
 * Why a WR is refused, one named builder per rule, out of line: the checks of a post stay small
 * enough for V8 to inline them into the post loop (each error's text made the checking function
 * too long to inline, a call per WR and per SGE; measured with --trace-turbo-inlining), and the
 * text is only built for a WR that is refused. Each builder gets the values the check already
 * read: a WR's fields are read once (getters, proxies), never again to explain a refusal.
 */
const OPCODES: readonly WrOpcode[] = ['SEND', 'SEND_WITH_IMM', 'RDMA_WRITE', 'RDMA_WRITE_WITH_IMM', 'RDMA_READ', 'ATOMIC_CMP_AND_SWP', 'ATOMIC_FETCH_AND_ADD'];
const SEND_FLAG_NAMES = 'FENCE|SIGNALED|SOLICITED|INLINE';

/** How a WR is named in errors. */
export const at = (index: number) => `wr[${index}]`;

export const notAnObject = (index: number, input: unknown): VerbsError => einval(`WR ${index} must be an object, got ${describe(input)}`, index);

/** wrId failed isU64: throws, naming it. */
export const badWrId = (value: unknown, index: number): bigint => requireU64(`${at(index)}.wrId`, value, index);

/** opcode failed isOpcode: throws, naming what is allowed. */
export const badOpcode = (value: unknown, index: number): WrOpcode => requireOneOf(`${at(index)}.opcode`, value, OPCODES, index);

/** sendFlags failed the fast check: throws for the value or its unknown bits. */
export const badSendFlags = (value: unknown, known: number, index: number): number => requireFlags(`${at(index)}.sendFlags`, value, known, SEND_FLAG_NAMES, index);

export const streamSendOnly = (index: number, opcode: WrOpcode): VerbsError => einval(`a STREAM QP sends raw bytes: only SEND is supported, not ${opcode}`, index);

export const messageTooLong = (index: number, totalLength: number): VerbsError => einval(`${at(index)} is ${totalLength} bytes; the largest message is ${DEVICE_LIMITS.maxMsgSize}`, index);

export function inlineRefusal(index: number, opcode: WrOpcode, inlineOpcode: boolean, totalLength: number, cap: Readonly<QpCap>): VerbsError {
  if (!inlineOpcode) return einval(`${at(index)}: INLINE applies to SEND and RDMA_WRITE only, not ${opcode}`, index);
  return einval(`${at(index)}: ${totalLength} inline bytes exceed cap.maxInlineData (${cap.maxInlineData})`, index);
}

/** The sgList is no array, or `count` (its length, as the check read it) is more than the QP allows. */
export function sgListRefusal(sgList: unknown, count: number, maxSge: number, index: number): VerbsError {
  if (!Array.isArray(sgList)) return einval(`${at(index)}.sgList must be an array, got ${describe(sgList)}`, index);
  return einval(`${at(index)}.sgList has ${count} entries; the QP allows ${maxSge}`, index);
}

export const sgeHole = (index: number, i: number): VerbsError => einval(`${at(index)}.sgList[${i}] is a hole in a sparse array; every entry must be { addr, length, lkey }`, index);

export const sgeNotAnObject = (index: number, i: number): VerbsError => einval(`${at(index)}.sgList[${i}] must be { addr, length, lkey }`, index);

/** One of an SGE's fields, as read, is out of range: throws for the first. */
export function badSgeField(index: number, i: number, addr: unknown, length: unknown, lkey: unknown): never {
  requireInt(`${at(index)}.sgList[${i}].addr`, addr, 0, MAX_ADDR, index);
  requireInt(`${at(index)}.sgList[${i}].length`, length, 0, U32, index);
  requireInt(`${at(index)}.sgList[${i}].lkey`, lkey, 0, U32, index);
  throw new Error(`badSgeField called for a valid SGE (${at(index)}.sgList[${i}])`);
}
