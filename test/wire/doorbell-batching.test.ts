import { describe, expect, it } from 'vitest';
import { NIC_LIMITS } from '../../src/abi/limits.js';
import { SendFlags } from '../../src/index.js';
import { psnAdd } from '../../src/wire/frame.js';
import { ack, frame, parseStream, rawPeer } from '../support/raw-peer.js';
import { endOfIoPhase, scriptedPeer } from '../support/scripted-transport.js';
import { pollUntil, sge, waitFor } from '../support/verbs-harness.js';

/*
 * One writev per turn of the NIC (docs/wire.md, src/nic/tx-batch.ts): a doorbell flushes at the
 * end of the synchronous stretch that posted, not an I/O phase later; the refills that progress
 * read from the peer makes (responses, ACKs read together) share one writev at the end of the
 * I/O phase.
 */

describe('doorbells and refills: one writev per turn', () => {
  it('two postSend calls in one stretch: nothing is written during the stretch, one writev right after it (one microtask, before any I/O)', async () => {
    const peer = await rawPeer();
    try {
      peer.raw.write(peer.hello);
      const before = peer.side.ctx.queryCounters().writeSyscalls;
      peer.side.qp.postSend({ wrId: 1n, opcode: 'SEND', sendFlags: 0, sgList: [sge(peer.side, 0, 8)] });
      peer.side.qp.postSend({ wrId: 2n, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [sge(peer.side, 8, 8)] });
      expect(peer.side.ctx.queryCounters().writeSyscalls).toBe(before);
      await Promise.resolve();
      expect(peer.side.ctx.queryCounters().writeSyscalls).toBe(before + 1);
      await waitFor(() => peer.frames().length >= 2, 2000, 'both SENDs');
      expect(peer.frames().map((f) => [f.header.opcode, f.header.psn])).toEqual([['SEND', 0], ['SEND', 1]]);
      expect(peer.side.ctx.queryCounters().writeSyscalls).toBe(before + 1);
      peer.raw.write(ack(1));
      expect(await pollUntil(peer.side.cq, 1)).toMatchObject([{ wrId: 2n, status: 'SUCCESS' }]);
      peer.side.monitor.assertAgreement();
    } finally {
      peer.close();
    }
  });

  it.each([
    { size: 4096, writes: [32, 32] },
    { size: 64, writes: [64] },
  ])('a doorbell of 64 $size-byte SENDs goes out as writes of $writes frames: split at what one ACK covers once a write carries 64 KiB of payload', async ({ size, writes }) => {
    expect(NIC_LIMITS.txWriteSplitFrames).toBe(32);
    expect(NIC_LIMITS.txWriteSplitBytes).toBe(64 * 1024);
    const peer = await scriptedPeer({ side: { mrBytes: 64 * size, maxSendWr: 64 } });
    try {
      const { side, transport } = peer;
      side.qp.postSend(Array.from({ length: 64 }, (_, i) => ({ wrId: BigInt(i), opcode: 'SEND' as const, sendFlags: i === 63 ? SendFlags.SIGNALED : 0, sgList: [sge(side, i * size, size)] })));
      await Promise.resolve();
      // Each write parsed behind the HELLO (the first batch), which parseStream expects first.
      const perWrite = transport.batches.slice(1).map((batch) => parseStream(Buffer.concat([transport.batches[0]!, batch])).length);
      expect(perWrite).toEqual(writes);
      expect(peer.frames().map((f) => f.header.psn)).toEqual(Array.from({ length: 64 }, (_, i) => i));
      transport.deliver(ack(63));
      expect(await pollUntil(side.cq, 1)).toMatchObject([{ wrId: 63n, status: 'SUCCESS' }]);
      side.monitor.assertAgreement();
    } finally {
      peer.close();
    }
  });

  it('responses and an ACK read together: the READs they make room for go out as ONE writev, after the read was handled (end of the I/O phase)', async () => {
    const p = 0xfffffe;
    // The peer takes 2 READs at a time: READ, READ, SEND, SEND go out; the next two READs wait for credits.
    const peer = await scriptedPeer({ psn: p, helloMaxDestRdAtomic: 2 });
    try {
      const { side, transport } = peer;
      const read = (wrId: bigint, offset: number) => ({ wrId, opcode: 'RDMA_READ' as const, sendFlags: SendFlags.SIGNALED, sgList: [sge(side, offset, 8)], rdma: { remoteAddr: 0x1000, rkey: 7 } });
      const send = (wrId: bigint) => ({ wrId, opcode: 'SEND' as const, sendFlags: SendFlags.SIGNALED, sgList: [sge(side, 1024, 8)] });
      side.qp.postSend([read(0n, 0), read(1n, 8), send(2n), send(3n), read(4n, 16), read(5n, 24)]);
      await Promise.resolve();
      expect(transport.batches).toHaveLength(2); // the HELLO, then the doorbell's batch
      const window = parseStream(Buffer.concat(transport.batches));
      expect(window.map((f) => [f.header.opcode, f.header.psn])).toEqual([
        ['RDMA_READ_REQUEST', p], ['RDMA_READ_REQUEST', psnAdd(p, 1)], ['SEND', psnAdd(p, 2)], ['SEND', psnAdd(p, 3)],
      ]);
      const data = (fill: number) => new Uint8Array(8).fill(fill);
      transport.deliver(Buffer.concat([
        frame({ opcode: 'RDMA_READ_RESPONSE', flags: 0, psn: p, payloadLength: 8 }, data(0xa0)),
        frame({ opcode: 'RDMA_READ_RESPONSE', flags: 0, psn: psnAdd(p, 1), payloadLength: 8 }, data(0xa1)),
        ack(psnAdd(p, 3)),
      ]));
      expect(transport.batches).toHaveLength(2);
      await endOfIoPhase();
      expect(transport.batches).toHaveLength(3);
      expect(transport.writtenWhileReading).toEqual([false, false, false]);
      expect(peer.frames().slice(4).map((f) => [f.header.opcode, f.header.psn])).toEqual([['RDMA_READ_REQUEST', psnAdd(p, 4)], ['RDMA_READ_REQUEST', psnAdd(p, 5)]]);
      expect((await pollUntil(side.cq, 4)).map((wc) => [wc.wrId, wc.status])).toEqual([[0n, 'SUCCESS'], [1n, 'SUCCESS'], [2n, 'SUCCESS'], [3n, 'SUCCESS']]);
      expect(Buffer.from(side.mr.buffer.subarray(0, 16)).equals(Buffer.concat([data(0xa0), data(0xa1)]))).toBe(true);
      side.monitor.assertAgreement();
    } finally {
      peer.close();
    }
  });
});
