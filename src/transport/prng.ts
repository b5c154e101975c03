/**
 * A small seeded PRNG for the deterministic simulation. Not cryptographic: it only has to be
 * reproducible across runs and Node versions (pure 32-bit integer arithmetic, no Math.random), so
 * a failing property test replays bit for bit from its seed.
 *
 * Generator: mulberry32 (a 32-bit state, period 2^32, passes the usual quick statistical checks).
 * Streams: `deriveSeed(seed, stream)` hashes a (seed, stream) pair so that independent consumers
 * (the two directions of a simulated link) draw from unrelated sequences and the schedule of one
 * direction does not depend on how much traffic the other carried.
 */

const UINT32 = 0x1_0000_0000;

/** Accepts any finite number as a seed and folds it to a uint32 (negative and fractional seeds are fine). */
function toUint32(seed: number): number {
  if (!Number.isFinite(seed)) throw new RangeError(`PRNG seed must be a finite number, got ${seed}`);
  // Fold the high part in so seeds above 2^32 (e.g. Date.now()) do not collide with their low bits.
  const low = Math.trunc(seed) >>> 0;
  const high = Math.trunc(seed / UINT32) >>> 0;
  return (low ^ Math.imul(high, 0x9e3779b9)) >>> 0;
}

/** A finaliser with good avalanche (from splitmix32/murmur3's fmix32). */
function mix32(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** The seed of sub-stream `stream` of `seed`: distinct streams give unrelated sequences. */
export function deriveSeed(seed: number, stream: number): number {
  if (!Number.isInteger(stream) || stream < 0) throw new RangeError(`stream must be a non-negative integer, got ${stream}`);
  return mix32(toUint32(seed) ^ mix32(Math.imul(stream + 1, 0x9e3779b9)));
}

export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = toUint32(seed);
  }

  /** The next uint32 (mulberry32). */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / UINT32;
  }

  /**
   * An integer uniformly in [min, max] (both inclusive). Rejection sampling keeps it unbiased;
   * the range is limited to 2^32 values, which is far more than the simulator asks for.
   */
  nextInt(min: number, max: number): number {
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max < min) {
      throw new RangeError(`nextInt needs integers min <= max, got [${min}, ${max}]`);
    }
    const span = max - min + 1;
    if (span > UINT32) throw new RangeError(`nextInt range too wide: ${span} values (limit 2^32)`);
    if (span === UINT32) return min + this.nextUint32();
    // Largest multiple of span below 2^32: draws at or above it would bias the low values.
    const limit = UINT32 - (UINT32 % span);
    for (;;) {
      const draw = this.nextUint32();
      if (draw < limit) return min + (draw % span);
    }
  }
}
