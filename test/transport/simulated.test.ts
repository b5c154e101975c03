import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/transport/clock.js';
import { createSimulatedPair, type SimulatedEvent, type SimulatedPairOptions } from '../../src/transport/simulated.js';
import type { Transport } from '../../src/transport/types.js';
import { RecordingSink, payload } from './helpers.js';

const batchArb = fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 0, maxLength: 6 });
const linkArb = fc.record({
  seed: fc.integer(),
  maxChunk: fc.integer({ min: 1, max: 512 }),
  maxDelayMs: fc.integer({ min: 0, max: 7 }),
});
const targetSizesArb = fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 5 });

interface Sim {
  readonly clock: VirtualClock;
  readonly a: Transport;
  readonly b: Transport;
  readonly sinkA: RecordingSink;
  readonly sinkB: RecordingSink;
  readonly events: SimulatedEvent[];
}

function simulate(options: Omit<SimulatedPairOptions, 'clock' | 'trace'>, sizesA: readonly number[] = [4096], sizesB: readonly number[] = [4096]): Sim {
  const clock = new VirtualClock();
  const events: SimulatedEvent[] = [];
  const [a, b] = createSimulatedPair({ ...options, clock, trace: (e) => events.push(e) });
  const sinkA = new RecordingSink(sizesA);
  const sinkB = new RecordingSink(sizesB);
  a.start(sinkA);
  b.start(sinkB);
  return { clock, a, b, sinkA, sinkB, events };
}

const concat = (batches: readonly (readonly Uint8Array[])[]): Buffer => Buffer.concat(batches.flat());

describe('simulated pair: delivery', () => {
  it('delivers exactly the written bytes, in order, both ways, for any seed, chunking, delays and targets', () => {
    fc.assert(
      fc.property(linkArb, targetSizesArb, targetSizesArb, fc.array(batchArb, { maxLength: 8 }), fc.array(batchArb, { maxLength: 8 }), (link, sizesA, sizesB, fromA, fromB) => {
        const sim = simulate(link, sizesA, sizesB);
        const acks: string[] = [];
        fromA.forEach((batch, i) => sim.a.writev(batch, () => acks.push(`a${i}`)));
        fromB.forEach((batch, i) => sim.b.writev(batch, () => acks.push(`b${i}`)));
        sim.clock.runUntilIdle();

        expect(sim.sinkB.bytes().equals(concat(fromA))).toBe(true);
        expect(sim.sinkA.bytes().equals(concat(fromB))).toBe(true);
        for (const [sink, t] of [[sim.sinkA, sim.a], [sim.sinkB, sim.b]] as const) {
          expect(sink.violations).toEqual([]);
          expect(sink.closes).toEqual([]);
          expect(sink.chunks.every((c) => c.byteLength <= link.maxChunk)).toBe(true);
          expect(t.counters.readCallbacks).toBe(sink.chunks.length);
          expect(t.counters.bytesRead).toBe(sink.byteCount());
          expect(t.counters.bytesCopied).toBe(0);
          // Like the socket: one target lent at start and one after every read.
          expect(sink.targetsLent).toBe(sink.chunks.length + 1);
        }
        // Every batch acknowledged, in order per side; empty batches count no batch.
        expect(acks.filter((x) => x[0] === 'a')).toEqual(fromA.map((_, i) => `a${i}`));
        expect(acks.filter((x) => x[0] === 'b')).toEqual(fromB.map((_, i) => `b${i}`));
        expect(sim.a.counters.writeBatches).toBe(fromA.filter((batch) => batch.some((c) => c.byteLength > 0)).length);
        expect(sim.a.counters.bytesWritten).toBe(concat(fromA).length);
        expect(sim.clock.pendingTimers()).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps every received byte a prefix of the written stream at every step (fc.commands)', () => {
    interface Model { sentAB: number[]; sentBA: number[] }
    interface Real { sim: Sim }
    const prefixOf = (got: Buffer, sent: number[]) => got.length <= sent.length && got.equals(Buffer.from(sent.slice(0, got.length)));
    const check = (m: Model, r: Real): void => {
      expect(prefixOf(r.sim.sinkB.bytes(), m.sentAB)).toBe(true);
      expect(prefixOf(r.sim.sinkA.bytes(), m.sentBA)).toBe(true);
      expect(r.sim.sinkA.violations.concat(r.sim.sinkB.violations)).toEqual([]);
    };
    class Write implements fc.Command<Model, Real> {
      constructor(readonly from: 'a' | 'b', readonly batch: Uint8Array[]) {}
      check = (): boolean => true;
      run(m: Model, r: Real): void {
        (this.from === 'a' ? r.sim.a : r.sim.b).writev(this.batch);
        (this.from === 'a' ? m.sentAB : m.sentBA).push(...this.batch.flatMap((c) => [...c]));
        check(m, r);
      }
      toString = (): string => `write(${this.from}, [${this.batch.map((c) => c.byteLength).join(',')}])`;
    }
    class Advance implements fc.Command<Model, Real> {
      constructor(readonly ms: number) {}
      check = (): boolean => true;
      run(m: Model, r: Real): void {
        r.sim.clock.advance(this.ms);
        check(m, r);
      }
      toString = (): string => `advance(${this.ms})`;
    }
    class Step implements fc.Command<Model, Real> {
      check = (): boolean => true;
      run(m: Model, r: Real): void {
        r.sim.clock.runNext();
        check(m, r);
      }
      toString = (): string => 'step';
    }
    const commands = fc.commands(
      [
        fc.tuple(fc.constantFrom<'a' | 'b'>('a', 'b'), batchArb).map(([from, batch]) => new Write(from, batch)),
        fc.integer({ min: 0, max: 6 }).map((ms) => new Advance(ms)),
        fc.constant(new Step()),
      ],
      { size: 'medium' },
    );
    fc.assert(
      fc.property(linkArb, targetSizesArb, commands, (link, sizes, cmds) => {
        const sim = simulate(link, sizes, sizes);
        const model: Model = { sentAB: [], sentBA: [] };
        fc.modelRun(() => ({ model, real: { sim } }), cmds);
        sim.clock.runUntilIdle();
        expect(sim.sinkB.bytes().equals(Buffer.from(model.sentAB))).toBe(true);
        expect(sim.sinkA.bytes().equals(Buffer.from(model.sentBA))).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('replays: the same seed gives the identical delivery schedule, other seeds another', () => {
    const run = (seed: number) => {
      const sim = simulate({ seed, maxChunk: 64, maxDelayMs: 5 }, [10, 100], [33]);
      const schedule: string[] = [];
      const recordB = sim.sinkB.onBytesHook;
      sim.sinkB.onBytesHook = (n) => { schedule.push(`b+${n}@${sim.clock.now()}`); recordB?.(n); };
      sim.sinkA.onBytesHook = (n) => schedule.push(`a+${n}@${sim.clock.now()}`);
      for (let i = 0; i < 5; i++) {
        sim.a.writev([payload(200, i + 1), payload(50, i + 7)]);
        sim.b.writev([payload(120, i + 3)]);
        sim.clock.advance(3);
      }
      sim.clock.runUntilIdle();
      return { schedule, events: sim.events };
    };
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        expect(run(seed)).toEqual(run(seed));
      }),
      { numRuns: 30 },
    );
    const distinct = new Set([1, 2, 3, 4, 5].map((seed) => JSON.stringify(run(seed).schedule)));
    expect(distinct.size).toBeGreaterThan(1);
  });

  it('holds bytes for a reader that has not started and delivers them after start()', () => {
    const clock = new VirtualClock();
    const [a, b] = createSimulatedPair({ clock, seed: 7 });
    a.start(new RecordingSink());
    a.writev([Buffer.from('early bird')]);
    clock.runUntilIdle();
    const sink = new RecordingSink([3]);
    b.start(sink);
    clock.runUntilIdle();
    expect(sink.bytes().toString()).toBe('early bird');
  });

  it('keeps a batch in the writer\'s memory until onWritten: reusing a chunk early corrupts the stream', () => {
    const sim = simulate({ seed: 3, maxDelayMs: 4 });
    const chunk = Buffer.from('AAAA');
    let acked = false;
    sim.a.writev([chunk], () => { acked = true; });
    // A buggy NIC overwrites its header buffer before the completion.
    if (!acked) chunk.fill('B');
    sim.clock.runUntilIdle();
    expect(sim.sinkB.bytes().toString()).toBe('BBBB');
  });

  it('limits buffering and batch size, and validates options', () => {
    const clock = new VirtualClock();
    const [a] = createSimulatedPair({ clock, seed: 1, maxBufferedBytes: 100 });
    a.writev([new Uint8Array(60)]);
    expect(() => a.writev([new Uint8Array(60)])).toThrow(/more than 100 bytes buffered/);
    expect(() => a.writev(Array.from({ length: 1025 }, () => new Uint8Array(1)))).toThrow(RangeError);
    expect(() => createSimulatedPair({ clock, seed: 1, maxChunk: 0 })).toThrow(RangeError);
    expect(() => createSimulatedPair({ clock, seed: 1, maxDelayMs: -1 })).toThrow(RangeError);
    expect(() => createSimulatedPair({ clock, seed: 1, faults: { aToB: { breakAfterBytes: 1.5 } } })).toThrow(RangeError);
    expect(() => createSimulatedPair({ clock, seed: Number.NaN })).toThrow(RangeError);
  });
});

describe('simulated pair: faults', () => {
  it('breakAfterBytes: the reader gets exactly N bytes, then both ends get one error; at most N written: no break', () => {
    fc.assert(
      fc.property(linkArb, fc.constantFrom<'aToB' | 'bToA'>('aToB', 'bToA'), fc.integer({ min: 0, max: 600 }), fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 6 }), (link, direction, n, lengths) => {
        const sim = simulate({ ...link, faults: { [direction]: { breakAfterBytes: n } } });
        const [writer, readerSink, writerSink] = direction === 'aToB' ? [sim.a, sim.sinkB, sim.sinkA] : [sim.b, sim.sinkA, sim.sinkB];
        const batches = lengths.map((len, i) => [payload(len, i + 1)]);
        batches.forEach((batch) => writer.writev(batch));
        sim.clock.runUntilIdle();
        const written = concat(batches);
        if (written.length > n) {
          expect(readerSink.bytes().equals(written.subarray(0, n))).toBe(true);
          for (const sink of [readerSink, writerSink]) {
            expect(sink.closes).toHaveLength(1);
            expect(sink.closes[0]!.kind).toBe('error');
          }
          expect(sim.a.closed && sim.b.closed).toBe(true);
        } else {
          expect(readerSink.bytes().equals(written)).toBe(true);
          expect(readerSink.closes.concat(writerSink.closes)).toEqual([]);
        }
        expect(readerSink.violations.concat(writerSink.violations)).toEqual([]);
        expect(sim.clock.pendingTimers()).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('stallAfterBytes: N bytes arrive, then silence without a close; the simulation still quiesces', () => {
    fc.assert(
      fc.property(linkArb, fc.integer({ min: 0, max: 500 }), fc.integer({ min: 1, max: 1500 }), (link, n, total) => {
        const sim = simulate({ ...link, faults: { aToB: { stallAfterBytes: n } } });
        const data = payload(total, 11);
        let acked = false;
        sim.a.writev([data], () => { acked = true; });
        sim.b.writev([Buffer.from('reply')]);
        sim.clock.runUntilIdle();
        expect(sim.sinkB.bytes().equals(Buffer.from(data.subarray(0, Math.min(n, total))))).toBe(true);
        expect(acked).toBe(true); // the writer's kernel accepted the bytes: a silent peer, not a full buffer
        expect(sim.sinkA.bytes().toString()).toBe('reply'); // the other direction still flows
        expect(sim.clock.pendingTimers()).toBe(0);
        sim.clock.advance(1_000_000);
        expect(sim.sinkB.byteCount()).toBe(Math.min(n, total));
        expect(sim.sinkA.closes.concat(sim.sinkB.closes)).toEqual([]);
        expect(sim.a.closed || sim.b.closed).toBe(false);
        if (total > n) {
          // The FIN is stuck behind the stalled bytes too: the peer never learns of the close.
          sim.a.close();
          sim.clock.runUntilIdle();
          expect(sim.sinkA.closes).toEqual([{ kind: 'local' }]);
          expect(sim.sinkB.closes).toEqual([]);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('simulated pair: closing', () => {
  it('local close: local for the closer, peer-closed for the peer after the flushed bytes; unflushed batches are dropped', () => {
    const sim = simulate({ seed: 5, maxChunk: 7, maxDelayMs: 3 });
    let flushedAck = false;
    sim.a.writev([Buffer.from('flushed before close')], () => { flushedAck = true; });
    while (!flushedAck) sim.clock.runNext();
    let droppedAck = false;
    sim.a.writev([Buffer.from('never flushed')], () => { droppedAck = true; });
    sim.a.close();
    sim.a.close();
    expect(sim.sinkA.closes).toEqual([]); // never from inside close()
    sim.a.writev([Buffer.from('after close')]);
    sim.clock.runUntilIdle();
    expect(sim.sinkA.closes).toEqual([{ kind: 'local' }]);
    expect(sim.sinkB.closes).toEqual([{ kind: 'peer-closed' }]);
    expect(sim.sinkB.bytes().toString()).toBe('flushed before close');
    expect(droppedAck).toBe(false);
    expect(sim.a.counters.writeBatches).toBe(2);
    expect(sim.sinkA.violations.concat(sim.sinkB.violations)).toEqual([]);
  });

  it('a sink that throws, or lends an empty target, closes its own end with an error; the peer sees a close', () => {
    for (const fault of ['throw', 'empty'] as const) {
      const clock = new VirtualClock();
      const [a, b] = createSimulatedPair({ clock, seed: 9 });
      const sinkA = new RecordingSink();
      a.start(sinkA);
      const sinkB = new RecordingSink([2]);
      let lent = 0;
      b.start({
        nextReadTarget: () => (fault === 'empty' && lent++ > 0 ? new Uint8Array(0) : sinkB.nextReadTarget()),
        onBytes: (n) => { sinkB.onBytes(n); if (fault === 'throw') throw new Error('NIC bug'); },
        onClose: (r) => sinkB.onClose(r),
      });
      a.writev([Buffer.from('abcdef')]);
      clock.runUntilIdle();
      expect(sinkB.closes).toEqual([{ kind: 'error', message: fault === 'throw' ? 'sink.onBytes threw: NIC bug' : 'sink.nextReadTarget returned an empty target' }]);
      expect(sinkB.byteCount()).toBe(2);
      expect(sinkA.closes).toEqual([{ kind: 'peer-closed' }]);
    }
  });

  it('close before start: onClose(local) arrives after start, from the clock', () => {
    const clock = new VirtualClock();
    const [a, b] = createSimulatedPair({ clock, seed: 2 });
    const sinkB = new RecordingSink();
    b.start(sinkB);
    a.close();
    clock.runUntilIdle();
    expect(sinkB.closes).toEqual([{ kind: 'peer-closed' }]);
    const sinkA = new RecordingSink();
    a.start(sinkA);
    expect(sinkA.closes).toEqual([]);
    clock.runUntilIdle();
    expect(sinkA.closes).toEqual([{ kind: 'local' }]);
    expect(sinkA.targetsLent).toBe(0);
    expect(() => a.start(sinkA)).toThrow(/twice/);
  });
});
