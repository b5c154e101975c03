/**
 * The HELLO is honoured (docs/wire.md §2.1), as siw honours its MPA negotiation: the PSNs must
 * agree, READ/atomic credits are the minimum of both sides, a message above the peer's maxMessage
 * fails with the IB error, and each responder enforces what it announced.
 */
import { describe, expect, it } from 'vitest';
import { Access, QpAttrMask as M, SendFlags } from '../../src/index.js';
import { ack, asyncEvents, frame, rawPeer } from '../support/raw-peer.js';
import { makeSide, pollUntil, sge, socketPair, toRts, waitFor, type Side } from '../support/verbs-harness.js';

const SIGNALED = SendFlags.SIGNALED;

describe('the HELLO is honoured', () => {
  it('a peer expecting another first PSN fails the QP with both PSNs named, and a TERMINATE', async () => {
    const peer = await rawPeer({ sqPsn: 100, helloRqPsn: 5 });
    try {
      peer.raw.write(peer.hello);
      await waitFor(() => peer.side.qp.state === 'ERR', 2000, 'ERR');
      expect(asyncEvents(peer.side).map((e) => `${e.type}: ${e.reason}`)).toEqual([
        'QP_FATAL: PSN mismatch: this QP sends from PSN 100 (sq_psn) but the peer expects PSN 5 (its rq_psn)',
      ]);
      await waitFor(() => peer.frames().some((f) => f.header.opcode === 'TERMINATE'), 2000, 'TERMINATE');
      peer.side.monitor.assertAgreement();
    } finally {
      peer.close();
    }
  });

  it('agreeing PSNs (sq_psn = the peer\'s rq_psn, here 0x123456) keep the QP in RTS', async () => {
    const peer = await rawPeer({ sqPsn: 0x123456, helloRqPsn: 0x123456 });
    try {
      peer.raw.write(peer.hello);
      peer.side.qp.postSend({ wrId: 1n, opcode: 'SEND', sendFlags: SIGNALED, sgList: [sge(peer.side, 0, 8)] });
      await waitFor(() => peer.frames().some((f) => f.header.opcode === 'SEND'), 2000, 'SEND on the wire');
      expect(peer.frames().find((f) => f.header.opcode === 'SEND')!.header.psn).toBe(0x123456);
      expect(peer.side.qp.state).toBe('RTS');
    } finally {
      peer.close();
    }
  });

  it('READ credits are the minimum of max_rd_atomic (16) and the peer\'s max_dest_rd_atomic (1)', async () => {
    const peer = await rawPeer({ helloMaxDestRdAtomic: 1, maxRdAtomic: 16 });
    try {
      peer.raw.write(peer.hello);
      const { side } = peer;
      side.qp.postSend([0, 1, 2].map((i) => ({
        wrId: BigInt(i + 1), opcode: 'RDMA_READ' as const, sendFlags: SIGNALED, sgList: [sge(side, i * 16, 16)], rdma: { remoteAddr: 0x1000, rkey: 7 },
      })));
      const reads = () => peer.frames().filter((f) => f.header.opcode === 'RDMA_READ_REQUEST');
      await waitFor(() => reads().length === 1, 2000, 'the first READ');
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(reads()).toHaveLength(1);
      // Answering the first READ frees the one credit: the second goes out, and only it.
      peer.raw.write(frame({ opcode: 'RDMA_READ_RESPONSE', flags: 0, psn: 0, payloadLength: 16 }, new Uint8Array(16).fill(7)));
      await waitFor(() => reads().length === 2, 2000, 'the second READ');
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(reads().map((f) => f.header.psn)).toEqual([0, 1]);
      expect(await pollUntil(side.cq, 1)).toMatchObject([{ wrId: 1n, status: 'SUCCESS', opcode: 'RDMA_READ' }]);
    } finally {
      peer.close();
    }
  });

  it('before the peer\'s HELLO one READ goes out; its HELLO (max_dest_rd_atomic 4) releases the others', async () => {
    const peer = await rawPeer({ helloMaxDestRdAtomic: 4, maxRdAtomic: 16 });
    try {
      const { side } = peer;
      side.qp.postSend([0, 1, 2, 3, 4].map((i) => ({
        wrId: BigInt(i + 1), opcode: 'RDMA_READ' as const, sendFlags: SIGNALED, sgList: [sge(side, i * 16, 16)], rdma: { remoteAddr: 0x1000, rkey: 7 },
      })));
      const reads = () => peer.frames().filter((f) => f.header.opcode === 'RDMA_READ_REQUEST');
      await waitFor(() => reads().length === 1, 2000, 'the first READ');
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(reads()).toHaveLength(1);
      peer.raw.write(peer.hello);
      await waitFor(() => reads().length === 4, 2000, 'four READs in flight');
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(reads().map((f) => f.header.psn)).toEqual([0, 1, 2, 3]);
    } finally {
      peer.close();
    }
  });

  it('a SEND above the peer\'s maxMessage is not sent: REM_INV_REQ_ERR, ERR, TERMINATE', async () => {
    const peer = await rawPeer({ helloMaxMessage: 1024 });
    try {
      peer.raw.write(peer.hello);
      const { side } = peer;
      await new Promise((resolve) => setTimeout(resolve, 10));
      side.qp.postSend([
        { wrId: 1n, opcode: 'SEND', sendFlags: SIGNALED, sgList: [sge(side, 0, 1024)] },
        { wrId: 2n, opcode: 'SEND', sendFlags: SIGNALED, sgList: [sge(side, 0, 1025)] },
        { wrId: 3n, opcode: 'SEND', sendFlags: SIGNALED, sgList: [sge(side, 0, 8)] },
      ]);
      await waitFor(() => peer.frames().some((f) => f.header.opcode === 'SEND'), 2000, 'the 1024-byte SEND');
      // WR 2's failure completes in order, after WR 1: the peer acknowledges WR 1.
      expect(side.qp.state).toBe('RTS');
      peer.raw.write(ack(0));
      await waitFor(() => side.qp.state === 'ERR', 2000, 'ERR');
      const sends = peer.frames().filter((f) => f.header.opcode === 'SEND');
      expect(sends.map((f) => f.header.payloadLength)).toEqual([1024]);
      await waitFor(() => peer.frames().some((f) => f.header.opcode === 'TERMINATE'), 2000, 'TERMINATE');
      expect((await pollUntil(side.cq, 3)).map((wc) => `${wc.wrId}:${wc.status}`)).toEqual(['1:SUCCESS', '2:REM_INV_REQ_ERR', '3:WR_FLUSH_ERR']);
      expect(asyncEvents(side).map((e) => e.type)).toEqual(['QP_REQ_ERR']);
      side.monitor.assertAgreement();
    } finally {
      peer.close();
    }
  });

  it('the responder refuses a request above its maxMessage with NAK INVALID_REQUEST, before placing a byte', async () => {
    const peer = await rawPeer();
    try {
      const { side } = peer;
      side.qp.postRecv({ wrId: 1n, sgList: [sge(side, 0, 64)] });
      const before = Buffer.from(side.mr.buffer);
      peer.raw.write(peer.hello);
      peer.raw.write(frame({ opcode: 'SEND', flags: 0, psn: 0, payloadLength: (1 << 30) + 1 }));
      peer.raw.write(new Uint8Array(64).fill(0xee));
      await waitFor(() => side.qp.state === 'ERR', 2000, 'ERR');
      await waitFor(() => peer.frames().some((f) => f.header.opcode === 'TERMINATE'), 2000, 'TERMINATE');
      const naks = peer.frames().filter((f) => f.header.opcode === 'NAK');
      expect(naks.map((f) => f.header.opcode === 'NAK' && [f.header.psn, f.header.code])).toEqual([[0, 'INVALID_REQUEST']]);
      expect(asyncEvents(side).map((e) => `${e.type}: ${e.reason}`)).toEqual([
        `QP_REQ_ERR: SEND: payload of ${(1 << 30) + 1} bytes exceeds the limit of ${1 << 30} bytes (maxMessage)`,
      ]);
      expect(Buffer.compare(Buffer.from(side.mr.buffer), before)).toBe(0);
    } finally {
      peer.close();
    }
  });

  it('a responder that announced max_dest_rd_atomic 0 refuses READs: the requester gets REM_INV_REQ_ERR', async () => {
    const [client, server, stop] = await socketPair();
    const a = makeSide();
    const b = makeSide();
    try {
      const rtr = (side: Side, peer: Side, socket: typeof client, maxDestRdAtomic: number) => side.qp.modify(
        { qpState: 'RTR', ahAttr: { socket }, pathMtu: 4096, destQpNum: peer.qp.qpNum, rqPsn: 0, maxDestRdAtomic, minRnrTimer: 1 },
        M.STATE | M.AV | M.PATH_MTU | M.DEST_QPN | M.RQ_PSN | M.MAX_DEST_RD_ATOMIC | M.MIN_RNR_TIMER,
      );
      rtr(a, b, client, 16);
      rtr(b, a, server, 0);
      toRts(a);
      toRts(b);
      expect(b.mr.access & Access.REMOTE_READ).not.toBe(0);
      a.qp.postSend({ wrId: 1n, opcode: 'RDMA_READ', sendFlags: SIGNALED, sgList: [sge(a, 0, 32)], rdma: { remoteAddr: b.mr.addr, rkey: b.mr.rkey } });
      expect(await pollUntil(a.cq, 1)).toMatchObject([{ wrId: 1n, status: 'REM_INV_REQ_ERR' }]);
      await waitFor(() => b.qp.state === 'ERR', 2000, 'the responder in ERR');
      expect(asyncEvents(b).map((e) => e.reason)).toEqual(['READ or atomic request, but this QP has max_dest_rd_atomic 0']);
      a.monitor.assertAgreement();
      b.monitor.assertAgreement();
    } finally {
      a.ctx.close();
      b.ctx.close();
      stop();
    }
  });
});
