import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WriteOrder, batchBytes } from '../../src/transport/write-order.js';

describe('WriteOrder: batches are reported in writev order, whatever order the kernel finishes them in', () => {
  it('for any order of completions, with empty batches between them, every onWritten runs once, in the order written', () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }).chain((emptyAfter) =>
          fc.tuple(fc.constant(emptyAfter), fc.shuffledSubarray([...emptyAfter.keys()], { minLength: emptyAfter.length, maxLength: emptyAfter.length }))),
        ([emptyAfter, completionOrder]) => {
          const order = new WriteOrder();
          const reported: string[] = [];
          const expected: string[] = [];
          const ids: number[] = [];
          emptyAfter.forEach((withEmpty, i) => {
            ids.push(order.add([new Uint8Array(1)], () => reported.push(`b${i}`), false).id);
            expected.push(`b${i}`);
            if (withEmpty) {
              expect(order.addEmpty(() => reported.push(`e${i}`))).toBe(true);
              expected.push(`e${i}`);
            }
          });
          for (const k of completionOrder) {
            const due = order.flushed(ids[k]!);
            expect(due).not.toBeNull();
            for (const onWritten of due!) onWritten();
            // Nothing is reported while a batch written before it is not in the kernel.
            const done = new Set(completionOrder.slice(0, completionOrder.indexOf(k) + 1));
            let prefix = 0;
            while (done.has(prefix)) prefix++;
            expect(reported).toEqual(expected.filter((name) => Number(name.slice(1)) < prefix));
          }
          expect(reported).toEqual(expected);
          expect(order.idle).toBe(true);
        },
      ),
    );
  });

  it('a completion for a batch not waiting (unknown, or reported twice) is refused, never taken for another', () => {
    const order = new WriteOrder();
    const a = order.add([new Uint8Array(1)], () => {}, false);
    expect(order.flushed(a.id + 1)).toBeNull();
    expect(order.flushed(a.id)).toHaveLength(1);
    expect(order.flushed(a.id)).toBeNull();
  });

  it('an empty batch with nothing waiting is the caller\'s to report; batches written before the socket wait in its queue', () => {
    const order = new WriteOrder();
    expect(order.addEmpty(() => {})).toBe(false);
    const early = order.add([new Uint8Array(2)], undefined, true);
    order.add([new Uint8Array(3)], undefined, false);
    expect(order.takeQueued()).toEqual([early]);
    expect(order.takeQueued()).toEqual([]);
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
