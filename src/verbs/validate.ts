import { einval } from '../abi/errors.js';

/** The largest u32, and the largest address an SGE or a remote address may name. */
export const U32 = 0xffffffff;
export const MAX_ADDR = Number.MAX_SAFE_INTEGER;

/** The predicates of requireInt and requireU64, for hot paths that name the argument only on failure. */
export const isIntIn = (value: unknown, min: number, max: number): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
// asUintN(64) gives a bigint in 0..2^64-1 back unchanged, and only such a bigint: one builtin,
// where two range comparisons were two (Builtins_BigIntLessThanOrEqual, 0.7 % of the sender).
export const isU64 = (value: unknown): value is bigint => typeof value === 'bigint' && BigInt.asUintN(64, value) === value;

/** Shared argument checks: each names the argument, what it got and what is allowed. */
export function requireInt(name: string, value: unknown, min: number, max: number, badWr?: number): number {
  if (!isIntIn(value, min, max)) throw einval(`${name} must be an integer in ${min}..${max}, got ${describe(value)}`, badWr);
  return value;
}

export function requireU64(name: string, value: unknown, badWr?: number): bigint {
  if (!isU64(value)) throw einval(`${name} must be a bigint in 0..2^64-1, got ${describe(value)}`, badWr);
  return value;
}

export function requireFlags(name: string, value: unknown, known: number, names: string, badWr?: number): number {
  const flags = requireInt(name, value ?? 0, 0, 0xffffffff, badWr);
  if ((flags & ~known) !== 0) throw einval(`${name} has unknown bits 0x${((flags & ~known) >>> 0).toString(16)}; allowed: ${names}`, badWr);
  return flags;
}

export function requireOneOf<T extends string | number>(name: string, value: unknown, allowed: readonly T[], badWr?: number): T {
  if (!allowed.includes(value as T)) throw einval(`${name} must be one of ${allowed.join(', ')}, got ${describe(value)}`, badWr);
  return value as T;
}

export function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') {
    try {
      return Array.isArray(value) ? 'an array' : 'an object';
    } catch {
      return 'an unreadable object (a revoked proxy?)';
    }
  }
  return String(value);
}
