/**
 * Arguments no caller should pass, found by a fault campaign: each is refused with a VerbsError
 * that says what was wrong, and what is checked is what is applied (getters read once).
 */
import { describe, expect, it } from 'vitest';
import { QpAttrMask as M, SendFlags, VerbsError, openDevice } from '../../src/index.js';
import { makeSide, pollUntil, rcPair, sge } from '../support/verbs-harness.js';

function thrown(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** A property that reads `good` the first time and `bad` after. */
const flip = (good: unknown, bad: unknown) => {
  let reads = 0;
  return { get: () => (reads++ === 0 ? good : bad), enumerable: true };
};

describe('misuse is refused with a VerbsError, never a TypeError', () => {
  it('openDevice with a non-string name or non-object options', () => {
    expect(thrown(() => openDevice(1n as never))).toMatchObject({ errno: 'EINVAL', message: expect.stringMatching(/device name must be a string, got 1n/) });
    expect(thrown(() => openDevice(undefined, null as never))).toMatchObject({ errno: 'EINVAL', message: expect.stringMatching(/options must be an object/) });
  });

  it('revoked proxies as a WR list or a count; an odd curQpState with an observer attached', () => {
    const side = makeSide();
    try {
      const { proxy, revoke } = Proxy.revocable([], {});
      revoke();
      expect(thrown(() => side.qp.postSend(proxy as never))).toBeInstanceOf(VerbsError);
      expect(thrown(() => side.cq.poll(proxy as never))).toBeInstanceOf(VerbsError);
      const error = thrown(() => side.qp.modify({ qpState: 'INIT', curQpState: Object.create(null) }, M.STATE | M.CUR_STATE));
      expect(error).toBeInstanceOf(VerbsError);
      side.monitor.assertAgreement();
    } finally {
      side.ctx.close();
    }
  });

  it('a WR that throws when read is refused at its index; the WRs before it are posted', async () => {
    const pair = await rcPair();
    try {
      const { a, b } = pair;
      b.qp.postRecv({ wrId: 9n, sgList: [sge(b, 0, 64)] });
      const bad = { get wrId(): bigint { throw new Error('boom'); } };
      const error = thrown(() => a.qp.postSend([{ wrId: 1n, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [sge(a, 0, 8)] }, bad as never]));
      expect(error).toMatchObject({ errno: 'EINVAL', badWr: 1, message: expect.stringMatching(/wr\[1\] could not be read: boom/) });
      expect(await pollUntil(a.cq, 1)).toMatchObject([{ wrId: 1n, status: 'SUCCESS' }]);
    } finally {
      pair.close();
    }
  });

  it('a receive WR that throws when read is refused at its index; the receives before it are posted and used', async () => {
    const pair = await rcPair();
    try {
      const { a, b } = pair;
      const bad = { get sgList(): never { throw new Error('no list'); }, wrId: 8n };
      const error = thrown(() => b.qp.postRecv([{ wrId: 7n, sgList: [sge(b, 0, 64)] }, bad as never, { wrId: 9n, sgList: [sge(b, 64, 64)] }]));
      expect(error).toMatchObject({ errno: 'EINVAL', badWr: 1, message: expect.stringMatching(/wr\[1\] could not be read: no list/) });
      a.qp.postSend({ wrId: 1n, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [sge(a, 0, 8)] });
      expect(await pollUntil(b.cq, 1)).toMatchObject([{ wrId: 7n, status: 'SUCCESS', byteLen: 8 }]);
      // Only WR 0 was posted: a second SEND finds no receive (RNR, retried until one is posted).
      a.qp.postSend({ wrId: 2n, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [sge(a, 0, 8)] });
      b.qp.postRecv({ wrId: 10n, sgList: [sge(b, 0, 64)] });
      expect(await pollUntil(b.cq, 1)).toMatchObject([{ wrId: 10n, status: 'SUCCESS' }]);
    } finally {
      pair.close();
    }
  });
});

describe('a WR is read by ordinary property access, once per field, at post', () => {
  it('fields a class holds as getters on its prototype (the WR, its SGEs, rdma and atomic) are read like own fields, and each is read once', async () => {
    const pair = await rcPair();
    try {
      const { a, b } = pair;
      let reads = 0;
      class Remote {
        constructor(private readonly addr: number, private readonly key: number) {}
        get remoteAddr(): number { reads++; return this.addr; }
        get rkey(): number { reads++; return this.key; }
      }
      class AddOne extends Remote {
        get compareAdd(): bigint { reads++; return 1n; }
        get swap(): bigint { reads++; return 0n; }
      }
      class Sge {
        constructor(readonly offset: number, readonly bytes: number) {}
        get addr(): number { reads++; return a.mr.addr + this.offset; }
        get length(): number { reads++; return this.bytes; }
        get lkey(): number { reads++; return a.mr.lkey; }
      }
      const write = Object.create({ wrId: 1n, opcode: 'RDMA_WRITE', sendFlags: SendFlags.SIGNALED }) as Record<string, unknown>;
      write.sgList = [new Sge(0, 16)];
      write.rdma = new Remote(b.mr.addr + 64, b.mr.rkey);
      a.mr.buffer.set(new TextEncoder().encode('sixteen bytes ok'));
      a.qp.postSend(write as never);
      expect(reads).toBe(5);
      expect(await pollUntil(a.cq, 1)).toMatchObject([{ wrId: 1n, status: 'SUCCESS', opcode: 'RDMA_WRITE' }]);
      expect(new TextDecoder().decode(b.mr.buffer.subarray(64, 80))).toBe('sixteen bytes ok');
      // An atomic's operands read through the prototype chain the same way.
      b.mr.buffer.fill(0, 128, 136);
      a.qp.postSend({ wrId: 2n, opcode: 'ATOMIC_FETCH_AND_ADD', sendFlags: SendFlags.SIGNALED, sgList: [new Sge(256, 8)], atomic: new AddOne(b.mr.addr + 128, b.mr.rkey) } as never);
      expect(reads).toBe(5 + 3 + 4);
      expect(await pollUntil(a.cq, 1)).toMatchObject([{ wrId: 2n, status: 'SUCCESS' }]);
      expect(new DataView(b.mr.buffer.buffer, b.mr.buffer.byteOffset + 128, 8).getBigUint64(0, true)).toBe(1n);
    } finally {
      pair.close();
    }
  });
});

describe('what modify checks is what it applies (each attribute read once)', () => {
  it('getters valid when checked and out of range after (minRnrTimer 1 → 99, access 0 → 2^31): the QP runs with the checked values', async () => {
    const pair = await rcPair();
    try {
      const { a } = pair;
      const attr = { qpState: 'RTS' } as Record<string, unknown>;
      Object.defineProperty(attr, 'minRnrTimer', flip(1, 99));
      Object.defineProperty(attr, 'qpAccessFlags', flip(0, 2 ** 31));
      a.qp.modify(attr as never, M.STATE | M.MIN_RNR_TIMER | M.ACCESS_FLAGS);
      expect(a.qp.query()).toMatchObject({ qpState: 'RTS', minRnrTimer: 1, qpAccessFlags: 0 });
    } finally {
      pair.close();
    }
  });
});
