import { afterEach, describe, expect, it } from 'vitest';
import { SendFlags, WcFlags, type AsyncEvent } from '../../src/index.js';
import { pollUntil, rcPair, sge, str, text, waitFor, type ConnectedPair } from '../support/verbs-harness.js';

const S = SendFlags.SIGNALED;
let pair: ConnectedPair | null = null;

afterEach(() => {
  const current = pair;
  pair = null;
  if (current === null) return;
  try {
    current.a.monitor.assertAgreement();
    current.b.monitor.assertAgreement();
  } finally {
    current.close();
  }
});

function asyncEvents(ctx: ConnectedPair['a']['ctx']): AsyncEvent[] {
  const events: AsyncEvent[] = [];
  for (let e = ctx.pollAsyncEvent(); e !== undefined; e = ctx.pollAsyncEvent()) events.push(e);
  return events;
}

describe('RC over real loopback TCP: every opcode', () => {
  it('SEND and SEND_WITH_IMM land in the posted receive, with immediate data and flags', async () => {
    pair = await rcPair();
    const { a, b } = pair;
    b.qp.postRecv([{ wrId: 10n, sgList: [sge(b, 0, 100)] }, { wrId: 11n, sgList: [sge(b, 100, 100)] }]);
    a.mr.buffer.set(text('first message'), 0);
    a.mr.buffer.set(text('second'), 64);
    a.qp.postSend([
      { wrId: 1n, opcode: 'SEND', sendFlags: S, sgList: [sge(a, 0, 13)] },
      { wrId: 2n, opcode: 'SEND_WITH_IMM', sendFlags: S, immData: 0xdeadbeef, sgList: [sge(a, 64, 6)] },
    ]);
    const received = await pollUntil(b.cq, 2);
    expect(received.map((wc) => [wc.wrId, wc.status, wc.opcode, wc.byteLen])).toEqual([[10n, 'SUCCESS', 'RECV', 13], [11n, 'SUCCESS', 'RECV', 6]]);
    expect(received[1]).toMatchObject({ immData: 0xdeadbeef, wcFlags: WcFlags.WITH_IMM, qpNum: b.qp.qpNum });
    expect(str(b.mr.buffer.subarray(0, 13))).toBe('first message');
    expect(str(b.mr.buffer.subarray(100, 106))).toBe('second');
    const sent = await pollUntil(a.cq, 2);
    expect(sent.map((wc) => [wc.wrId, wc.status, wc.opcode])).toEqual([[1n, 'SUCCESS', 'SEND'], [2n, 'SUCCESS', 'SEND']]);
  });

  it('RDMA_WRITE places data without consuming a receive; WRITE_WITH_IMM consumes one', async () => {
    pair = await rcPair();
    const { a, b } = pair;
    a.mr.buffer.set(text('remote write'), 0);
    a.qp.postSend({ wrId: 1n, opcode: 'RDMA_WRITE', sendFlags: S, sgList: [sge(a, 0, 12)], rdma: { remoteAddr: b.mr.addr + 1000, rkey: b.mr.rkey } });
    expect(await pollUntil(a.cq, 1)).toMatchObject([{ wrId: 1n, status: 'SUCCESS', opcode: 'RDMA_WRITE' }]);
    expect(str(b.mr.buffer.subarray(1000, 1012))).toBe('remote write');
    expect(b.cq.poll(4)).toEqual([]);
    b.qp.postRecv({ wrId: 7n, sgList: [] });
    a.qp.postSend({ wrId: 2n, opcode: 'RDMA_WRITE_WITH_IMM', sendFlags: S, immData: 42, sgList: [sge(a, 0, 6)], rdma: { remoteAddr: b.mr.addr + 2000, rkey: b.mr.rkey } });
    expect(await pollUntil(b.cq, 1)).toMatchObject([{ wrId: 7n, status: 'SUCCESS', opcode: 'RECV_RDMA_WITH_IMM', byteLen: 6, immData: 42, wcFlags: WcFlags.WITH_IMM }]);
    expect(str(b.mr.buffer.subarray(2000, 2006))).toBe('remote');
  });

  it('RDMA_READ brings remote bytes into the local SGEs (scattered over two)', async () => {
    pair = await rcPair();
    const { a, b } = pair;
    b.mr.buffer.set(text('0123456789'), 500);
    a.qp.postSend({ wrId: 3n, opcode: 'RDMA_READ', sendFlags: S, sgList: [sge(a, 100, 4), sge(a, 200, 6)], rdma: { remoteAddr: b.mr.addr + 500, rkey: b.mr.rkey } });
    expect(await pollUntil(a.cq, 1)).toMatchObject([{ wrId: 3n, status: 'SUCCESS', opcode: 'RDMA_READ', byteLen: 10 }]);
    expect(str(a.mr.buffer.subarray(100, 104)) + str(a.mr.buffer.subarray(200, 206))).toBe('0123456789');
  });

  it('atomics: FETCH_AND_ADD and CMP_AND_SWP return the original and update the target', async () => {
    pair = await rcPair();
    const { a, b } = pair;
    const remote = new DataView(b.mr.buffer.buffer, b.mr.buffer.byteOffset);
    remote.setBigUint64(64, 100n, true);
    const atomic = (compareAdd: bigint, swap: bigint) => ({ remoteAddr: b.mr.addr + 64, rkey: b.mr.rkey, compareAdd, swap });
    a.qp.postSend([
      { wrId: 1n, opcode: 'ATOMIC_FETCH_AND_ADD', sendFlags: S, sgList: [sge(a, 0, 8)], atomic: atomic(5n, 0n) },
      { wrId: 2n, opcode: 'ATOMIC_CMP_AND_SWP', sendFlags: S, sgList: [sge(a, 8, 8)], atomic: atomic(105n, 0xffff_ffff_ffff_ffffn) },
      { wrId: 3n, opcode: 'ATOMIC_CMP_AND_SWP', sendFlags: S, sgList: [sge(a, 16, 8)], atomic: atomic(1n, 2n) },
    ]);
    expect((await pollUntil(a.cq, 3)).map((wc) => [wc.opcode, wc.status])).toEqual([['FETCH_ADD', 'SUCCESS'], ['COMP_SWAP', 'SUCCESS'], ['COMP_SWAP', 'SUCCESS']]);
    const local = new DataView(a.mr.buffer.buffer, a.mr.buffer.byteOffset);
    expect([local.getBigUint64(0, true), local.getBigUint64(8, true), local.getBigUint64(16, true)]).toEqual([100n, 105n, 0xffff_ffff_ffff_ffffn]);
    expect(remote.getBigUint64(64, true)).toBe(0xffff_ffff_ffff_ffffn);
  });

  it('unsignaled sends leave no completion; sqSigAll signals every send', async () => {
    pair = await rcPair({ a: { sqSigAll: false } });
    const { a, b } = pair;
    b.qp.postRecv([{ wrId: 1n, sgList: [sge(b, 0, 8)] }, { wrId: 2n, sgList: [sge(b, 8, 8)] }]);
    a.qp.postSend([{ wrId: 1n, opcode: 'SEND', sgList: [sge(a, 0, 8)] }, { wrId: 2n, opcode: 'SEND', sendFlags: S, sgList: [sge(a, 0, 8)] }]);
    expect((await pollUntil(a.cq, 2, 300)).map((wc) => wc.wrId)).toEqual([2n]);
    expect(await pollUntil(b.cq, 2)).toHaveLength(2);
    const signalAll = await rcPair({ a: { sqSigAll: true } });
    try {
      signalAll.b.qp.postRecv({ wrId: 1n, sgList: [sge(signalAll.b, 0, 8)] });
      signalAll.a.qp.postSend({ wrId: 9n, opcode: 'SEND', sgList: [sge(signalAll.a, 0, 8)] });
      expect(await pollUntil(signalAll.a.cq, 1)).toMatchObject([{ wrId: 9n, status: 'SUCCESS' }]);
      signalAll.a.monitor.assertAgreement();
    } finally {
      signalAll.close();
    }
  });

  it('inline data is taken at post time: the buffer may change right after postSend', async () => {
    pair = await rcPair();
    const { a, b } = pair;
    b.qp.postRecv({ wrId: 1n, sgList: [sge(b, 0, 32)] });
    a.mr.buffer.set(text('inline!'), 0);
    a.qp.postSend({ wrId: 1n, opcode: 'SEND', sendFlags: S | SendFlags.INLINE, sgList: [{ addr: a.mr.addr, length: 7, lkey: 0 }] });
    a.mr.buffer.set(text('changed'), 0);
    expect(await pollUntil(b.cq, 1)).toMatchObject([{ status: 'SUCCESS', byteLen: 7 }]);
    expect(str(b.mr.buffer.subarray(0, 7))).toBe('inline!');
    // Copied once, at post: the NIC's own copy goes out as it is, never packed again.
    expect(a.ctx.queryCounters().txPayloadBytesCopied).toBe(7);
  });

  it('FENCE holds a SEND until the READ before it has its response', async () => {
    pair = await rcPair();
    const { a, b } = pair;
    b.mr.buffer.set(text('fenced'), 0);
    b.qp.postRecv({ wrId: 1n, sgList: [sge(b, 100, 16)] });
    a.qp.postSend([
      { wrId: 1n, opcode: 'RDMA_READ', sendFlags: S, sgList: [sge(a, 0, 6)], rdma: { remoteAddr: b.mr.addr, rkey: b.mr.rkey } },
      // Sends what the READ brought: correct only if the fence held the SEND back.
      { wrId: 2n, opcode: 'SEND', sendFlags: S | SendFlags.FENCE, sgList: [sge(a, 0, 6)] },
    ]);
    expect((await pollUntil(a.cq, 2)).map((wc) => wc.status)).toEqual(['SUCCESS', 'SUCCESS']);
    await pollUntil(b.cq, 1);
    expect(str(b.mr.buffer.subarray(100, 106))).toBe('fenced');
  });

  it('completion channel: an any-arming fires on the next completion, a solicited-only arming waits for SOLICITED', async () => {
    pair = await rcPair({ b: { withChannel: true } });
    const { a, b } = pair;
    const channel = b.channel!;
    b.qp.postRecv([{ wrId: 1n, sgList: [sge(b, 0, 8)] }, { wrId: 2n, sgList: [sge(b, 8, 8)] }, { wrId: 3n, sgList: [sge(b, 16, 8)] }]);
    b.cq.reqNotify(false);
    const first = channel.getEvent();
    a.qp.postSend({ wrId: 1n, opcode: 'SEND', sgList: [sge(a, 0, 8)] });
    expect((await first).cq).toBe(b.cq);
    b.cq.ackEvents(1);
    expect(b.cq.poll(4)).toMatchObject([{ wrId: 1n }]);
    b.cq.reqNotify(true);
    let fired = false;
    const second = channel.getEvent().then((e) => { fired = true; return e; });
    a.qp.postSend({ wrId: 2n, opcode: 'SEND', sgList: [sge(a, 0, 8)] });
    await pollUntil(b.cq, 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fired).toBe(false);
    a.qp.postSend({ wrId: 3n, opcode: 'SEND', sendFlags: SendFlags.SOLICITED, sgList: [sge(a, 0, 8)] });
    expect((await second).cq).toBe(b.cq);
    b.cq.ackEvents(1);
  });
});

describe('SQD and RESET', () => {
  it('SQD drains, raises SQ_DRAINED when asked, queues new sends until SQD -> RTS', async () => {
    pair = await rcPair();
    const { a, b } = pair;
    b.qp.postRecv([{ wrId: 1n, sgList: [sge(b, 0, 8)] }, { wrId: 2n, sgList: [sge(b, 8, 8)] }]);
    a.qp.postSend({ wrId: 1n, opcode: 'SEND', sendFlags: S, sgList: [sge(a, 0, 8)] });
    // The doorbell runs after this turn: once it has, WR 1 is on the wire and SQD lets it finish.
    await new Promise((resolve) => queueMicrotask(() => resolve(undefined)));
    a.qp.modify({ qpState: 'SQD', enSqdAsyncNotify: true }, 1 | 4 /* STATE | EN_SQD_ASYNC_NOTIFY */);
    expect(a.qp.query().qpState).toBe('SQD');
    expect(await a.ctx.getAsyncEvent()).toMatchObject({ type: 'SQ_DRAINED', qp: { qpNum: a.qp.qpNum } });
    expect(await pollUntil(a.cq, 1)).toMatchObject([{ wrId: 1n, status: 'SUCCESS' }]);
    a.qp.postSend({ wrId: 2n, opcode: 'SEND', sendFlags: S, sgList: [sge(a, 0, 8)] });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(a.cq.poll(1)).toEqual([]);
    expect(b.cq.poll(4)).toHaveLength(1);
    a.qp.modify({ qpState: 'RTS' }, 1);
    expect(await pollUntil(a.cq, 1)).toMatchObject([{ wrId: 2n, status: 'SUCCESS' }]);
    expect(await pollUntil(b.cq, 1)).toMatchObject([{ wrId: 2n, status: 'SUCCESS' }]);
  });

  it('RESET discards outstanding WRs without completions; the QP can be connected again', async () => {
    pair = await rcPair();
    const { a } = pair;
    a.qp.postRecv([{ wrId: 1n, sgList: [sge(a, 0, 8)] }]);
    a.qp.modify({ qpState: 'RESET' }, 1);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(a.cq.poll(4)).toEqual([]);
    expect(a.qp.query().qpState).toBe('RESET');
    expect(() => a.qp.postRecv({ wrId: 2n, sgList: [sge(a, 0, 8)] })).toThrow(/RESET/);
  });
});

describe('RC error paths', () => {
  it('a bad rkey: REM_ACCESS_ERR for the WR, WR_FLUSH_ERR behind it, both QPs in ERR with async events', async () => {
    pair = await rcPair();
    const { a, b } = pair;
    a.qp.postSend([
      { wrId: 1n, opcode: 'RDMA_WRITE', sendFlags: S, sgList: [sge(a, 0, 8)], rdma: { remoteAddr: b.mr.addr, rkey: (b.mr.rkey ^ 0x5a5a) >>> 0 } },
      { wrId: 2n, opcode: 'SEND', sgList: [sge(a, 0, 8)] },
    ]);
    expect((await pollUntil(a.cq, 2)).map((wc) => [wc.wrId, wc.status])).toEqual([[1n, 'REM_ACCESS_ERR'], [2n, 'WR_FLUSH_ERR']]);
    await waitFor(() => a.qp.state === 'ERR' && b.qp.state === 'ERR', 2000, 'both QPs in ERR');
    expect(asyncEvents(a.ctx).map((e) => e.type)).toEqual(['QP_ACCESS_ERR']);
    expect(asyncEvents(b.ctx)).toMatchObject([{ type: 'QP_ACCESS_ERR', reason: expect.stringContaining('rkey') }]);
  });

  it('out of bounds and missing REMOTE_READ permission are remote access errors', async () => {
    pair = await rcPair({ b: { mrAccess: 1 /* LOCAL_WRITE only */ } });
    const { a, b } = pair;
    a.qp.postSend({ wrId: 1n, opcode: 'RDMA_READ', sendFlags: S, sgList: [sge(a, 0, 8)], rdma: { remoteAddr: b.mr.addr, rkey: b.mr.rkey } });
    expect(await pollUntil(a.cq, 1)).toMatchObject([{ wrId: 1n, status: 'REM_ACCESS_ERR' }]);
    const bounds = await rcPair();
    try {
      bounds.a.qp.postSend({ wrId: 2n, opcode: 'RDMA_WRITE', sendFlags: S, sgList: [sge(bounds.a, 0, 16)], rdma: { remoteAddr: bounds.b.mr.addr + bounds.b.mr.length - 8, rkey: bounds.b.mr.rkey } });
      expect(await pollUntil(bounds.a.cq, 1)).toMatchObject([{ wrId: 2n, status: 'REM_ACCESS_ERR' }]);
      bounds.a.monitor.assertAgreement();
      bounds.b.monitor.assertAgreement();
    } finally {
      bounds.close();
    }
  });

  it('a stale key after dereg: the remote side refuses the rkey, the local side the lkey', async () => {
    pair = await rcPair();
    const { a, b } = pair;
    const extra = b.pd.regMr(new Uint8Array(64), 0b1111);
    const { rkey, addr } = extra;
    extra.dereg();
    a.qp.postSend({ wrId: 1n, opcode: 'RDMA_WRITE', sendFlags: S, sgList: [sge(a, 0, 8)], rdma: { remoteAddr: addr, rkey } });
    expect(await pollUntil(a.cq, 1)).toMatchObject([{ wrId: 1n, status: 'REM_ACCESS_ERR' }]);
    const local = await rcPair();
    try {
      const mine = local.a.pd.regMr(new Uint8Array(64), 1);
      const { lkey, addr: localAddr } = mine;
      mine.dereg();
      local.a.qp.postSend({ wrId: 5n, opcode: 'SEND', sendFlags: S, sgList: [{ addr: localAddr, length: 8, lkey }] });
      expect(await pollUntil(local.a.cq, 1)).toMatchObject([{ wrId: 5n, status: 'LOC_PROT_ERR' }]);
      await waitFor(() => local.a.qp.state === 'ERR', 1000, 'ERR after LOC_PROT_ERR');
      local.a.monitor.assertAgreement();
    } finally {
      local.close();
    }
  });

  it('a SEND larger than the posted receive: LOC_LEN_ERR there, REM_INV_REQ_ERR here', async () => {
    pair = await rcPair();
    const { a, b } = pair;
    b.qp.postRecv({ wrId: 1n, sgList: [sge(b, 0, 16)] });
    a.qp.postSend({ wrId: 1n, opcode: 'SEND', sendFlags: S, sgList: [sge(a, 0, 100)] });
    expect(await pollUntil(b.cq, 1)).toMatchObject([{ wrId: 1n, status: 'LOC_LEN_ERR' }]);
    expect(await pollUntil(a.cq, 1)).toMatchObject([{ wrId: 1n, status: 'REM_INV_REQ_ERR' }]);
  });

  it('RNR: with no receive posted the sender retries, and succeeds once one is posted', async () => {
    pair = await rcPair({ minRnrTimer: 1, rnrRetry: 7 });
    const { a, b } = pair;
    a.qp.postSend({ wrId: 1n, opcode: 'SEND', sendFlags: S, sgList: [sge(a, 0, 8)] });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(a.cq.poll(1)).toEqual([]);
    b.qp.postRecv({ wrId: 9n, sgList: [sge(b, 0, 8)] });
    expect(await pollUntil(a.cq, 1)).toMatchObject([{ wrId: 1n, status: 'SUCCESS' }]);
    expect(await pollUntil(b.cq, 1)).toMatchObject([{ wrId: 9n, status: 'SUCCESS' }]);
  });

  it('RNR retries exhausted: RNR_RETRY_EXC_ERR, then the QP is in ERR', async () => {
    pair = await rcPair({ minRnrTimer: 1, rnrRetry: 2 });
    const { a } = pair;
    a.qp.postSend([{ wrId: 1n, opcode: 'SEND', sendFlags: S, sgList: [sge(a, 0, 8)] }, { wrId: 2n, opcode: 'SEND', sgList: [sge(a, 0, 8)] }]);
    expect((await pollUntil(a.cq, 2)).map((wc) => [wc.wrId, wc.status])).toEqual([[1n, 'RNR_RETRY_EXC_ERR'], [2n, 'WR_FLUSH_ERR']]);
    expect(a.qp.state).toBe('ERR');
    expect(asyncEvents(a.ctx).map((e) => e.type)).toEqual(['QP_FATAL']);
  });

  it('a lost peer: the connection breaks, outstanding WRs flush, QP_FATAL', async () => {
    pair = await rcPair();
    const { a, b } = pair;
    a.qp.postRecv([{ wrId: 1n, sgList: [sge(a, 0, 8)] }, { wrId: 2n, sgList: [sge(a, 8, 8)] }]);
    b.ctx.close();
    await waitFor(() => a.qp.state === 'ERR', 2000, 'ERR after the peer vanished');
    expect((await pollUntil(a.cq, 2)).map((wc) => [wc.wrId, wc.status])).toEqual([[1n, 'WR_FLUSH_ERR'], [2n, 'WR_FLUSH_ERR']]);
    expect(asyncEvents(a.ctx)).toMatchObject([{ type: 'QP_FATAL', reason: expect.stringMatching(/peer closed the connection|connection failed/) }]);
  });

  it('CQ overrun: CQ_ERR, and the QPs using the CQ go to ERR', async () => {
    pair = await rcPair({ b: { cqe: 1 } });
    const { a, b } = pair;
    b.qp.postRecv([{ wrId: 1n, sgList: [sge(b, 0, 8)] }, { wrId: 2n, sgList: [sge(b, 8, 8)] }]);
    a.qp.postSend([{ wrId: 1n, opcode: 'SEND', sgList: [sge(a, 0, 8)] }, { wrId: 2n, opcode: 'SEND', sendFlags: S, sgList: [sge(a, 0, 8)] }]);
    await waitFor(() => b.qp.state === 'ERR', 2000, 'ERR after CQ overrun');
    expect(b.cq.inError).toBe(true);
    expect(asyncEvents(b.ctx).map((e) => e.type)).toEqual(['CQ_ERR', 'QP_FATAL']);
    expect(b.cq.poll(4)).toMatchObject([{ wrId: 1n, status: 'SUCCESS' }]);
  });

  it('modify to ERR flushes every outstanding WR in posting order; posts in ERR flush too', async () => {
    pair = await rcPair();
    const { a } = pair;
    a.qp.postRecv([{ wrId: 1n, sgList: [sge(a, 0, 8)] }, { wrId: 2n, sgList: [sge(a, 0, 8)] }]);
    a.qp.modify({ qpState: 'ERR' }, 1);
    a.qp.postSend({ wrId: 3n, opcode: 'SEND', sgList: [sge(a, 0, 8)] });
    a.qp.postRecv({ wrId: 4n, sgList: [sge(a, 0, 8)] });
    expect((await pollUntil(a.cq, 4)).map((wc) => [wc.wrId, wc.status])).toEqual([[1n, 'WR_FLUSH_ERR'], [2n, 'WR_FLUSH_ERR'], [3n, 'WR_FLUSH_ERR'], [4n, 'WR_FLUSH_ERR']]);
  });
});
