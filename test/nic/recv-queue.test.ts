import { describe, expect, it } from 'vitest';
import { RecvQueue } from '../../src/nic/recv-queue.js';
import type { RecvWqe } from '../../src/nic/work-queues.js';

const wqe = (id: number): RecvWqe => ({ wrId: BigInt(id), sgList: [] });

describe('RecvQueue: posted receives, consumed in posting order, in a fixed ring', () => {
  it('keeps posting order across the end of the ring, and is full at exactly its capacity', () => {
    const rq = new RecvQueue(3);
    const consumed: bigint[] = [];
    let posted = 0;
    for (let round = 0; round < 5; round++) {
      while (!rq.full) rq.push(wqe(posted++));
      expect(rq.length).toBe(3);
      expect(() => rq.push(wqe(99))).toThrow(/full/);
      // Consume two, so the head walks around the ring.
      for (let i = 0; i < 2; i++) {
        expect(rq.peek()!.wrId).toBe(BigInt(consumed.length));
        consumed.push(rq.shift()!.wrId);
      }
    }
    expect(consumed).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(i)));
    expect(rq.drain().map((w) => w.wrId)).toEqual([10n]);
    expect(rq.length).toBe(0);
    expect(rq.peek()).toBeUndefined();
    expect(rq.shift()).toBeUndefined();
  });

  it('a queue of capacity 0 holds nothing', () => {
    const rq = new RecvQueue(0);
    expect(rq.full).toBe(true);
    expect(rq.shift()).toBeUndefined();
    expect(rq.drain()).toEqual([]);
  });
});
