import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WriteOrder, batchBytes } from '../../src/transport/write-order.js';

describe('WriteOrder: batches are reported in writev order, whatever order the kernel finishes them in', () => {
  /** What the transport does when batch `id` is in the kernel: report every batch now due, oldest first. */
  const completeAndReport = (order: WriteOrder, id: number): boolean => {
    if (!order.markWritten(id)) return false;
    for (let batch = order.takeDue(); batch !== undefined; batch = order.takeDue()) batch.onWritten?.();
    return true;
  };

  it('for any order of completions, empty batches among them, every onWritten runs once, in the order written, never before a batch written earlier', () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }).chain((empty) =>
          fc.tuple(fc.constant(empty), fc.shuffledSubarray([...empty.keys()], { minLength: empty.length, maxLength: empty.length }))),
        ([empty, completionOrder]) => {
          const order = new WriteOrder();
          const reported: number[] = [];
          const ids = empty.map((isEmpty, i) => order.add(isEmpty ? [] : [new Uint8Array(1)], () => reported.push(i), false).id);
          const done = new Set<number>();
          for (const k of completionOrder) {
            expect(completeAndReport(order, ids[k]!)).toBe(true);
            done.add(k);
            let prefix = 0;
            while (done.has(prefix)) prefix++;
            expect(reported).toEqual([...Array(prefix).keys()]);
          }
          expect(order.idle).toBe(true);
        },
      ),
    );
  });

  it('a batch is taken off as it is reported: from inside a report, the batches behind it still wait (the order is not idle)', () => {
    const order = new WriteOrder();
    const seen: boolean[] = [];
    const a = order.add([new Uint8Array(1)], () => seen.push(order.idle), false);
    const b = order.add([], () => seen.push(order.idle), false);
    expect(order.markWritten(b.id)).toBe(true);
    completeAndReport(order, a.id);
    expect(seen).toEqual([false, true]);
  });

  it('a completion for a batch not waiting (unknown, or reported twice) is refused, never taken for another', () => {
    const order = new WriteOrder();
    const a = order.add([new Uint8Array(1)], () => {}, false);
    expect(order.markWritten(a.id + 1)).toBe(false);
    expect(order.markWritten(a.id)).toBe(true);
    expect(order.markWritten(a.id)).toBe(false);
    expect(order.takeDue()).toBe(a);
    expect(order.takeDue()).toBeUndefined();
  });

  it('batches written before the socket exists wait in its queue, oldest first; clear() drops everything', () => {
    const order = new WriteOrder();
    const early = order.add([new Uint8Array(2)], undefined, true);
    order.add([new Uint8Array(3)], undefined, false);
    expect(order.takeQueued()).toEqual([early]);
    expect(order.takeQueued()).toEqual([]);
    expect(order.idle).toBe(false);
    order.clear();
    expect(order.idle).toBe(true);
  });

  it('batchBytes: the bytes of a batch, -1 when a chunk is empty, TypeError for a chunk that is not a Uint8Array', () => {
    expect(batchBytes([new Uint8Array(3), new Uint8Array(4)])).toBe(7);
    expect(batchBytes([])).toBe(0);
    expect(batchBytes([new Uint8Array(3), new Uint8Array(0)])).toBe(-1);
    expect(() => batchBytes([new Uint8Array(1), [1, 2] as unknown as Uint8Array])).toThrow(TypeError);
  });
});
