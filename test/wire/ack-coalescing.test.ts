import { describe, expect, it } from 'vitest';
import { NIC_LIMITS } from '../../src/abi/limits.js';
import { psnAdd } from '../../src/wire/frame.js';
import { frame, rawPeer } from '../support/raw-peer.js';
import { endOfIoPhase, scriptedPeer, type ScriptedPeer } from '../support/scripted-transport.js';
import { pollUntil, sge, waitFor } from '../support/verbs-harness.js';

/*
 * docs/wire.md §5.3: a responder's cumulative ACK leaves after every ackCoalesceRequests (32)
 * requests or ackCoalesceBytes (128 KiB) of payload, even in the middle of one read, and otherwise
 * at the end of the I/O phase; a pending ACK always leaves before a response or a NAK.
 * The peer's burst arrives as one delivery (what one write becomes when the kernel holds it all).
 */

const sends = (p: number, count: number, length: number) => {
  const payload = new Uint8Array(length).fill(0x5a);
  return Buffer.concat(Array.from({ length: count }, (_, i) => frame({ opcode: 'SEND', flags: 0, psn: psnAdd(p, i), payloadLength: length }, payload)));
};

const ackPsns = (peer: ScriptedPeer) => peer.frames().filter((f) => f.header.opcode === 'ACK').map((f) => f.header.psn);

function postRecvs(peer: ScriptedPeer, count: number, length: number): void {
  peer.side.qp.postRecv(Array.from({ length: count }, (_, i) => ({ wrId: BigInt(i), sgList: [sge(peer.side, i * length, length)] })));
}

describe('ACK coalescing: one cumulative ACK per 32 requests or 128 KiB, the rest at the end of the I/O phase', () => {
  it('64 small SENDs read together are acknowledged twice, at the 32nd and the 64th, each at once (across the 24-bit PSN wrap)', async () => {
    expect(NIC_LIMITS.ackCoalesceRequests).toBe(32);
    const p = 0xffffe0;
    const peer = await scriptedPeer({ psn: p });
    try {
      postRecvs(peer, 64, 8);
      peer.transport.deliver(sends(p, 64, 8));
      // Both bounds were reached while the read was handled: both ACKs are already written.
      expect(ackPsns(peer)).toEqual([psnAdd(p, 31), psnAdd(p, 63)]);
      await endOfIoPhase();
      expect(ackPsns(peer)).toEqual([0xffffff, 0x1f]);
      const wcs = await pollUntil(peer.side.cq, 64);
      expect(wcs.map((wc) => wc.status)).toEqual(Array(64).fill('SUCCESS'));
      peer.side.monitor.assertAgreement();
    } finally {
      peer.close();
    }
  });

  it('33 small SENDs: the ACK of the 32nd leaves during the read, the ACK of the 33rd at the end of the I/O phase', async () => {
    const p = 1000;
    const peer = await scriptedPeer({ psn: p });
    try {
      postRecvs(peer, 33, 8);
      peer.transport.deliver(sends(p, 33, 8));
      expect(ackPsns(peer)).toEqual([p + 31]);
      await endOfIoPhase();
      expect(ackPsns(peer)).toEqual([p + 31, p + 32]);
      expect(await pollUntil(peer.side.cq, 33)).toHaveLength(33);
      peer.side.monitor.assertAgreement();
    } finally {
      peer.close();
    }
  });

  it('over a real socket: 64 and 33 small SENDs in one write are acknowledged [31, 63] and [31, 32]', async () => {
    for (const [count, expected] of [[64, [31, 63]], [33, [31, 32]]] as const) {
      const peer = await rawPeer();
      try {
        peer.side.qp.postRecv(Array.from({ length: count }, (_, i) => ({ wrId: BigInt(i), sgList: [sge(peer.side, i * 8, 8)] })));
        peer.raw.write(Buffer.concat([peer.hello, sends(0, count, 8)]));
        expect(await pollUntil(peer.side.cq, count)).toHaveLength(count);
        await waitFor(() => peer.frames().length >= 2, 2000, 'two ACKs');
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(peer.frames().map((f) => [f.header.opcode, f.header.psn])).toEqual(expected.map((psn) => ['ACK', psn]));
        peer.side.monitor.assertAgreement();
      } finally {
        peer.close();
      }
    }
  });

  it('4 RDMA WRITEs of 64 KiB read together: acknowledged at every 128 KiB, after the 2nd and the 4th', async () => {
    expect(NIC_LIMITS.ackCoalesceBytes).toBe(128 * 1024);
    const p = 77;
    const peer = await scriptedPeer({ psn: p });
    try {
      const payload = new Uint8Array(65536);
      const burst = Buffer.concat([0, 1, 2, 3].map((i) => {
        payload.fill(i + 1);
        return frame({ opcode: 'RDMA_WRITE', flags: 0, psn: p + i, payloadLength: 65536, remoteAddr: peer.side.mr.addr, rkey: peer.side.mr.rkey }, payload);
      }));
      peer.transport.deliver(burst);
      expect(ackPsns(peer)).toEqual([p + 1, p + 3]);
      await endOfIoPhase();
      expect(ackPsns(peer)).toEqual([p + 1, p + 3]);
      expect(peer.side.mr.buffer.every((b) => b === 4)).toBe(true);
      peer.side.monitor.assertAgreement();
    } finally {
      peer.close();
    }
  });

  it('a pending ACK leaves before a READ response: a SEND at p and a READ at p+1 read together come back as [ACK p, RDMA_READ_RESPONSE p+1]', async () => {
    const p = 500;
    const peer = await scriptedPeer({ psn: p });
    try {
      postRecvs(peer, 1, 8);
      peer.side.mr.buffer.fill(0x33, 4096, 4096 + 16);
      peer.transport.deliver(Buffer.concat([
        sends(p, 1, 8),
        frame({ opcode: 'RDMA_READ_REQUEST', flags: 0, psn: p + 1, payloadLength: 0, remoteAddr: peer.side.mr.addr + 4096, rkey: peer.side.mr.rkey, length: 16 }),
      ]));
      await endOfIoPhase();
      const frames = peer.frames();
      expect(frames.map((f) => [f.header.opcode, f.header.psn])).toEqual([['ACK', p], ['RDMA_READ_RESPONSE', p + 1]]);
      expect(Buffer.from(frames[1]!.payload).equals(Buffer.alloc(16, 0x33))).toBe(true);
      peer.side.monitor.assertAgreement();
    } finally {
      peer.close();
    }
  });

  it('a pending ACK leaves before a NAK: a SEND at p and a WRITE with a dead rkey at p+1 come back as [ACK p, NAK p+1 REMOTE_ACCESS_ERROR, TERMINATE]', async () => {
    const p = 9000;
    const peer = await scriptedPeer({ psn: p });
    try {
      postRecvs(peer, 1, 8);
      peer.transport.deliver(Buffer.concat([
        sends(p, 1, 8),
        frame({ opcode: 'RDMA_WRITE', flags: 0, psn: p + 1, payloadLength: 8, remoteAddr: peer.side.mr.addr, rkey: (peer.side.mr.rkey + 1) >>> 0 }, new Uint8Array(8)),
      ]));
      await endOfIoPhase();
      const frames = peer.frames();
      expect(frames.map((f) => [f.header.opcode, f.header.psn])).toEqual([['ACK', p], ['NAK', p + 1], ['TERMINATE', 0]]);
      expect(frames[1]!.header).toMatchObject({ opcode: 'NAK', code: 'REMOTE_ACCESS_ERROR' });
      expect(peer.side.qp.state).toBe('ERR');
      peer.side.monitor.assertAgreement();
    } finally {
      peer.close();
    }
  });
});
