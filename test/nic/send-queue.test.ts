import { describe, expect, it } from 'vitest';
import { SendQueue } from '../../src/nic/send-queue.js';
import { blankSendWqe, type SendWqe } from '../../src/nic/work-queues.js';
import { fillSendWqe } from '../../src/nic/wqe-builder.js';
import type { NicServices, QpInit } from '../../src/nic/qp.js';
import type { SendRequest } from '../../src/provider/ops.js';

const wqe = (id: number): SendWqe => ({ ...blankSendWqe(), wrId: BigInt(id), signaled: true, phase: 'queued' });

/** Posts WQE `id` as the NIC does: the slot's own object, claimed, filled and pushed. */
const queue = (sq: SendQueue, id: number, fields: Partial<SendWqe> = {}): SendWqe => {
  const w = sq.claim();
  Object.assign(w, { ...blankSendWqe(), serial: w.serial, wrId: BigInt(id), signaled: true, phase: 'queued', psn: -1 }, fields);
  sq.push(w);
  return w;
};

/** A ring of 4 whose head was moved to slot 3 by three WQEs posted, sent, acknowledged and completed. */
function ringAtSlot3(): SendQueue {
  const sq = new SendQueue(4);
  const first = [queue(sq, 0), queue(sq, 1), queue(sq, 2)];
  first.forEach((w, i) => { expect(sq.peekQueued()).toBe(w); sq.markSent(w, i); });
  for (const w of first) sq.finish(w, 'SUCCESS');
  expect([sq.shiftDone(), sq.shiftDone(), sq.shiftDone()]).toEqual(first);
  expect(sq.length).toBe(0);
  return sq;
}

describe('the send queue ring across its wrap-around (head at the last slot)', () => {
  it('WQEs pushed across the end of the ring are sent, found, acknowledged, rewound and completed in posting order', () => {
    const sq = ringAtSlot3();
    const w = [queue(sq, 3), queue(sq, 4), queue(sq, 5), queue(sq, 6)]; // slots 3, 0, 1, 2
    expect(sq.isFull).toBe(true);
    expect(() => sq.claim()).toThrow('SendQueue invariant: claim beyond the capacity of 4');
    expect(() => sq.push(wqe(7))).toThrow('SendQueue invariant: push beyond the capacity of 4');
    // Sent in posting order, with PSNs that also cross the 24-bit wrap.
    const psns = [0xfffffe, 0xffffff, 0];
    for (let i = 0; i < 3; i++) {
      expect(sq.peekQueued()).toBe(w[i]);
      sq.markSent(w[i]!, psns[i]!);
    }
    expect(sq.peekQueued()).toBe(w[3]);
    expect(sq.inFlight).toBe(3);
    expect(sq.oldestInFlight()).toBe(w[0]);
    expect(sq.findInFlight(0xffffff)).toBe(w[1]);
    expect(sq.findInFlight(0)).toBe(w[2]);
    expect(sq.findInFlight(1)).toBeUndefined();

    // The oldest is acknowledged and completed: the head wraps to slot 0.
    sq.finish(w[0]!, 'SUCCESS');
    expect(sq.oldestInFlight()).toBe(w[1]);
    expect(sq.shiftDone()).toBe(w[0]);
    expect(sq.shiftDone()).toBeUndefined();
    const w7 = queue(sq, 7); // slot 3 again, behind the WQEs in slots 0..2
    expect(sq.isFull).toBe(true);

    // Go-back-N from the WQE in slot 0: it and everything after it are queued again, in order.
    expect(sq.rewindTo(w[1]!)).toEqual([w[1], w[2]]);
    expect(sq.inFlight).toBe(0);
    expect(sq.oldestInFlight()).toBeUndefined();
    const resent: SendWqe[] = [];
    for (let next = sq.peekQueued(), psn = 0xffffff; next !== undefined; next = sq.peekQueued(), psn = (psn + 1) & 0xffffff) {
      sq.markSent(next, psn);
      resent.push(next);
    }
    expect(resent).toEqual([w[1], w[2], w[3], w7]);
    expect(resent.map((x) => x.psn)).toEqual([0xffffff, 0, 1, 2]);
    expect(sq.findInFlight(2)).toBe(w7);

    // All but the newest are acknowledged through PSN 1 (across the 24-bit wrap: 0xffffff, 0, 1):
    // the newest (the last slot of the ring) is the oldest in flight.
    sq.finishThrough(1);
    expect([w[1], w[2], w[3], w7].map((x) => x!.phase)).toEqual(['done', 'done', 'done', 'inFlight']);
    expect(sq.oldestInFlight()).toBe(w7);
    expect(sq.inFlight).toBe(1);
    // Go-back-N to the newest WQE sent (just before the cursor); one never sent cannot be rewound to.
    expect(() => sq.rewindTo(wqe(99))).toThrow('SendQueue invariant: rewind to WQE 99, which is not in flight');
    expect(() => sq.rewindTo(w[1]!)).toThrow('which is not in flight');
    expect(sq.rewindTo(w7)).toEqual([w7]);
    expect(sq.peekQueued()).toBe(w7);
    sq.markSent(w7, 2);
    sq.finish(w7, 'SUCCESS');
    const completed: (SendWqe | undefined)[] = [];
    for (let head = sq.shiftDone(); head !== undefined; head = sq.shiftDone()) completed.push(head);
    expect(completed).toEqual([w[1], w[2], w[3], w7]);
    expect(sq.length).toBe(0);
    expect(sq.inFlight).toBe(0);
  });

  it('ERR across the wrap: flushAll returns every WQE in posting order, the ones not done as WR_FLUSH_ERR', () => {
    const sq = ringAtSlot3();
    const w = [queue(sq, 3), queue(sq, 4), queue(sq, 5)]; // slots 3, 0, 1
    sq.markSent(w[0]!, 7);
    sq.markSent(w[1]!, 8);
    sq.finish(w[0]!, 'SUCCESS');
    const flushed = sq.flushAll();
    expect(flushed).toEqual(w);
    expect(flushed.map((x) => x.status)).toEqual(['SUCCESS', 'WR_FLUSH_ERR', 'WR_FLUSH_ERR']);
    expect(sq.length).toBe(0);
  });
});

describe('readOrAtomicThrough: the in-flight READ or atomic an ACK must not cover', () => {
  const read = (sq: SendQueue, id: number): SendWqe => queue(sq, id, { opcode: 'RDMA_READ' });

  it('is found while in flight, and not once it is answered, rewound (until resent) or flushed; SENDs alone are never a match', () => {
    const sq = new SendQueue(8);
    const [s0, r1, s2] = [queue(sq, 0), read(sq, 1), queue(sq, 2)];
    sq.markSent(s0, 10);
    expect(sq.readOrAtomicThrough(10)).toBeUndefined();
    sq.markSent(r1, 11);
    sq.markSent(s2, 12);
    expect(sq.readOrAtomicThrough(10)).toBeUndefined();
    expect(sq.readOrAtomicThrough(12)).toBe(r1);
    // Go-back-N to the READ: queued again, not in flight, until it is resent.
    expect(sq.rewindTo(r1)).toEqual([r1, s2]);
    expect(sq.readOrAtomicThrough(12)).toBeUndefined();
    sq.markSent(r1, 11);
    expect(sq.readOrAtomicThrough(12)).toBe(r1);
    sq.finish(r1, 'SUCCESS');
    expect(sq.readOrAtomicThrough(12)).toBeUndefined();
    // A new READ behind, then a flush: nothing is in flight afterwards.
    const r3 = read(sq, 3);
    sq.markSent(s2, 12);
    sq.markSent(r3, 13);
    expect(sq.readOrAtomicThrough(13)).toBe(r3);
    sq.flushAll();
    const r4 = read(sq, 4);
    expect(sq.readOrAtomicThrough(0xffffff)).toBeUndefined();
    sq.markSent(r4, 14);
    expect(sq.readOrAtomicThrough(14)).toBe(r4);
  });
});

describe('SendQueue slots: one WQE object per slot, refilled by each post', () => {
  const post = (sq: SendQueue, id: number): SendWqe => {
    const w = sq.claim();
    Object.assign(w, { serial: w.serial + 1, wrId: BigInt(id), phase: 'queued', psn: -1, status: null, local: [new Uint8Array(4)] });
    sq.push(w);
    return w;
  };
  const complete = (sq: SendQueue, w: SendWqe, psn: number): SendWqe | undefined => {
    sq.markSent(w, psn);
    sq.finish(w, 'SUCCESS');
    return sq.shiftDone();
  };

  it('gives the same object back to the post that reuses its slot, with the memory it pointed at let go', () => {
    const sq = new SendQueue(2);
    const first = post(sq, 1);
    expect(complete(sq, first, 0)).toBe(first);
    expect(first.local).toBeNull();
    post(sq, 2);
    const third = post(sq, 3);
    expect(third).toBe(first);
    expect(third.serial).toBe(2);
    expect(third.wrId).toBe(3n);
  });

  it('queues only the slot it handed out: any other object is refused, and the slot keeps its own', () => {
    const sq = new SendQueue(2);
    const foreign = wqe(9);
    expect(() => sq.push(foreign)).toThrow('SendQueue invariant: WQE 9 pushed is not the claimed slot');
    expect(sq.length).toBe(0);
    const own = post(sq, 1);
    expect(own).not.toBe(foreign);
    expect(sq.peekQueued()).toBe(own);
  });

  it('refuses a claim when every slot is taken', () => {
    const sq = new SendQueue(1);
    post(sq, 1);
    expect(() => sq.claim()).toThrow('SendQueue invariant: claim beyond the capacity of 1');
  });

  it('hands discarded WQEs to the caller and gives their slots new objects', () => {
    const sq = new SendQueue(2);
    const a = post(sq, 1);
    const b = post(sq, 2);
    const discarded = sq.discardAll();
    expect(discarded).toEqual([a, b]);
    const next = post(sq, 3);
    expect(next).not.toBe(a);
    expect(next).not.toBe(b);
    expect(discarded.map((w) => w.wrId)).toEqual([1n, 2n]);
    // A callback still holding one finds it done and posted again (its serial moved on).
    expect(discarded.map((w) => [w.phase, w.serial])).toEqual([['done', 2], ['done', 2]]);
  });

  it('fillSendWqe leaves nothing of the WR before: a refilled WQE equals a new one filled from the same request', () => {
    const init = { sqSigAll: false, pdHandle: 1 } as QpInit;
    const services = {} as NicServices;
    const request: SendRequest = {
      wrId: 5n, opcode: 'RDMA_WRITE', signaled: false, solicited: true, fence: false, inline: false,
      sgList: [{ addr: 0, length: 4, lkey: 1 }], totalLength: 4, immData: undefined, remote: { addr: 64, rkey: 2 }, atomic: null,
    };
    const dirty: SendWqe = {
      serial: 7, wrId: 1n, opcode: 'ATOMIC_CMP_AND_SWP', signaled: true, solicited: false, fence: true, sgList: [], inline: new Uint8Array(8), length: 8,
      immData: 9, remote: { addr: 1, rkey: 1 }, atomic: { compareAdd: 1n, swap: 2n }, phase: 'done', psn: 12, status: 'REM_ACCESS_ERR',
      errorCause: { kind: 'LOCAL_ERROR', fault: 'access', reason: 'x' }, rnrRetriesLeft: 3, local: [new Uint8Array(8)], pinned: [],
    };
    const fresh = blankSendWqe();
    expect(fillSendWqe(dirty, request, init, services)).toBeNull();
    expect(fillSendWqe(fresh, request, init, services)).toBeNull();
    expect(dirty.serial).toBe(8);
    expect({ ...dirty, serial: 0 }).toEqual({ ...fresh, serial: 0 });
  });
});
