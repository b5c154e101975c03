import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtualClock, realClock } from '../../src/transport/clock.js';
import { Prng, deriveSeed } from '../../src/transport/prng.js';

describe('VirtualClock', () => {
  it('runs due timers in time order, ties in creation order, each at its own due time', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 60 }), (delays) => {
        const clock = new VirtualClock(100);
        const ran: Array<[number, number]> = [];
        delays.forEach((delay, i) => clock.setTimer(delay, () => ran.push([i, clock.now()])));
        expect(clock.pendingTimers()).toBe(delays.length);
        expect(clock.runUntilIdle()).toBe(delays.length);
        const expected = delays.map((delay, i) => [i, 100 + delay] as [number, number]).sort((x, y) => x[1] - y[1] || x[0] - y[0]);
        expect(ran).toEqual(expected);
        expect(clock.pendingTimers()).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('advance(ms) runs only what falls due in the window, including timers set on the way', () => {
    const clock = new VirtualClock();
    const ran: string[] = [];
    clock.setTimer(5, () => {
      ran.push(`a@${clock.now()}`);
      clock.setTimer(0, () => ran.push(`a0@${clock.now()}`));
      clock.setTimer(4, () => ran.push(`a4@${clock.now()}`));
      clock.setTimer(6, () => ran.push(`a6@${clock.now()}`));
    });
    clock.setTimer(10, () => ran.push(`b@${clock.now()}`));
    clock.advance(10);
    expect(ran).toEqual(['a@5', 'a0@5', 'a4@9', 'b@10']);
    expect(clock.now()).toBe(10);
    expect(clock.pendingTimers()).toBe(1);
    expect(clock.nextDue()).toBe(11);
    clock.advance(0.5);
    expect(clock.now()).toBe(10.5);
    expect(clock.runNext()).toBe(true);
    expect(ran.at(-1)).toBe('a6@11');
    expect(clock.runNext()).toBe(false);
  });

  it('clearTimer cancels, is idempotent, and compacts the heap under heavy re-arming', () => {
    const clock = new VirtualClock();
    let fired = 0;
    const handle = clock.setTimer(1, () => fired++);
    clock.clearTimer(handle);
    clock.clearTimer(handle);
    expect(clock.pendingTimers()).toBe(0);
    // An ACK timer re-armed on every send: set, clear, set, clear...
    let live = clock.setTimer(1000, () => fired++);
    for (let i = 0; i < 10_000; i++) {
      clock.clearTimer(live);
      live = clock.setTimer(1000, () => fired++);
    }
    expect(clock.pendingTimers()).toBe(1);
    expect(clock.runUntilIdle()).toBe(1);
    expect(fired).toBe(1);
  });

  it('refuses bad delays and re-entrant driving, and stops a livelock at maxSteps', () => {
    const clock = new VirtualClock();
    expect(() => clock.setTimer(-1, () => {})).toThrow(RangeError);
    expect(() => clock.setTimer(Number.NaN, () => {})).toThrow(RangeError);
    clock.setTimer(0, () => clock.advance(1));
    expect(() => clock.runUntilIdle()).toThrow(/not re-entrant/);
    const rearm = (): void => { clock.setTimer(1, rearm); };
    rearm();
    expect(() => clock.runUntilIdle(50)).toThrow(/after 50 steps/);
  });
});

describe('the scheduler beside the clock', () => {
  it('VirtualClock runs deferred tasks, then soon tasks, in ticks before any timer, in order', () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    clock.setTimer(0, () => log.push('timer 0'));
    clock.soon(() => {
      log.push('soon 1');
      clock.defer(() => log.push('defer from soon 1'));
    });
    clock.soon(() => log.push('soon 2'));
    clock.defer(() => {
      log.push('defer 1');
      clock.defer(() => log.push('defer from defer 1'));
      clock.soon(() => log.push('soon from defer 1'));
    });
    expect(clock.nextDue()).toBe(0);
    expect(clock.pendingTasks()).toBe(3);
    expect(log).toEqual([]); // nothing runs until the simulation is driven
    clock.runUntilIdle();
    expect(log).toEqual(['defer 1', 'defer from defer 1', 'soon 1', 'defer from soon 1', 'soon 2', 'soon from defer 1', 'timer 0']);
    expect(clock.pendingTasks()).toBe(0);
    expect(clock.nextDue()).toBeUndefined();
  });

  it('tasks deferred by a timer run right after it, before the next timer', () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    clock.setTimer(5, () => {
      log.push('timer 5');
      clock.defer(() => log.push(`deferred at ${clock.now()}`));
    });
    clock.setTimer(6, () => log.push('timer 6'));
    clock.advance(10);
    expect(log).toEqual(['timer 5', 'deferred at 5', 'timer 6']);
    expect(clock.tick()).toBe(0);
  });

  it('realClock defers to a microtask and runs soon after the I/O phase', async () => {
    const log: string[] = [];
    realClock.soon(() => log.push('soon'));
    realClock.defer(() => log.push('defer'));
    log.push('sync');
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual(['sync', 'defer', 'soon']);
  });
});

describe('realClock', () => {
  it('fires a timer after its delay and not after clearTimer', async () => {
    const start = realClock.now();
    let cleared = false;
    const handle = realClock.setTimer(5, () => { cleared = true; });
    realClock.clearTimer(handle);
    const firedAt = await new Promise<number>((resolve) => realClock.setTimer(15, () => resolve(realClock.now())));
    expect(firedAt - start).toBeGreaterThanOrEqual(14);
    expect(cleared).toBe(false);
    expect(realClock.pendingTimers()).toBe(0);
  });
});

describe('Prng', () => {
  it('is a pure function of its seed, and streams of one seed differ', () => {
    const draw = (seed: number) => { const p = new Prng(seed); return Array.from({ length: 8 }, () => p.nextUint32()); };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    expect(deriveSeed(42, 0)).not.toBe(deriveSeed(42, 1));
    expect(deriveSeed(42, 0)).toBe(deriveSeed(42, 0));
    // mulberry32(1) starts 0.6270739405881613 * 2^32: a change here would silently change every replay.
    expect(draw(1).slice(0, 3)).toEqual([2_693_262_067, 11_749_833, 2_265_367_787]);
  });

  it('nextInt stays in [min, max] and reaches both ends', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 0, max: 20 }), (seed, min, span) => {
        const p = new Prng(seed);
        const seen = new Set<number>();
        for (let i = 0; i < 400; i++) {
          const v = p.nextInt(min, min + span);
          expect(v >= min && v <= min + span && Number.isInteger(v)).toBe(true);
          seen.add(v);
        }
        expect(seen.has(min) && seen.has(min + span)).toBe(true);
      }),
      { numRuns: 100 },
    );
    expect(() => new Prng(1).nextInt(2, 1)).toThrow(RangeError);
  });
});
