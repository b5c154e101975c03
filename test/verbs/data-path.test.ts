import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { SendFlags, WcFlags } from '../../src/index.js';
import { NIC_LIMITS } from '../../src/abi/limits.js';
import { HEADER_BYTES } from '../../src/wire/frame.js';
import { takeSocket } from '../../src/transport/socket-transport.js';
import type { Transport, TransportSink } from '../../src/transport/types.js';
import { makeSide, pollUntil, rcPair, sge, socketPair, toRtr, toRts } from '../support/verbs-harness.js';

/** Wraps the real socket transport and records every read target and every writev batch. */
function recordingTransport(log: { targets: Uint8Array[]; batches: Uint8Array[][] }) {
  return (socket: Socket): Transport => {
    const inner = takeSocket(socket);
    return {
      get counters() { return inner.counters; },
      get closed() { return inner.closed; },
      close: () => inner.close(),
      shutdown: () => inner.shutdown(),
      retarget: () => inner.retarget(),
      writev: (chunks, onWritten) => { log.batches.push([...chunks]); inner.writev(chunks, onWritten); },
      start: (sink: TransportSink) => inner.start({
        nextReadTarget: () => { const target = sink.nextReadTarget(); log.targets.push(target); return target; },
        onBytes: (count) => sink.onBytes(count),
        onClose: (reason) => sink.onClose(reason),
      }),
    };
  };
}

async function recordedPair() {
  const logA = { targets: [] as Uint8Array[], batches: [] as Uint8Array[][] };
  const logB = { targets: [] as Uint8Array[], batches: [] as Uint8Array[][] };
  const [client, server, stop] = await socketPair();
  const a = makeSide({ mrBytes: 1 << 20, maxSendWr: 128, context: { takeSocket: recordingTransport(logA) } });
  const b = makeSide({ mrBytes: 1 << 20, maxRecvWr: 128, context: { takeSocket: recordingTransport(logB) } });
  toRtr(a, b.qp.qpNum, { socket: client });
  toRtr(b, a.qp.qpNum, { socket: server });
  toRts(a);
  toRts(b);
  return { a, b, logA, logB, close: () => { a.ctx.close(); b.ctx.close(); stop(); } };
}

describe('zero copy and batching (DESIGN.md §5)', () => {
  it('a 64 KiB SEND: read() lands straight in the posted receive buffer, no user-space copy', async () => {
    const { a, b, logB, close } = await recordedPair();
    try {
      for (let i = 0; i < 65536; i++) a.mr.buffer[i] = (i * 7) & 0xff;
      b.qp.postRecv({ wrId: 1n, sgList: [sge(b, 4096, 65536)] });
      await new Promise((resolve) => setImmediate(resolve));
      const before = { a: a.ctx.queryCounters(), b: b.ctx.queryCounters() };
      a.qp.postSend({ wrId: 1n, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [sge(a, 0, 65536)] });
      expect(await pollUntil(b.cq, 1)).toMatchObject([{ status: 'SUCCESS', byteLen: 65536 }]);
      expect(await pollUntil(a.cq, 1)).toMatchObject([{ status: 'SUCCESS' }]);
      expect(Buffer.compare(b.mr.buffer.subarray(4096, 4096 + 65536), a.mr.buffer.subarray(0, 65536))).toBe(0);
      // Every read that carried payload targeted the MR's own memory.
      const payloadTargets = logB.targets.filter((t) => t.buffer === b.mr.buffer.buffer);
      const payloadBytes = payloadTargets.reduce((sum, t) => sum + t.byteLength, 0);
      expect(payloadTargets.length).toBeGreaterThan(0);
      expect(payloadBytes).toBeGreaterThanOrEqual(65536);
      const after = { a: a.ctx.queryCounters(), b: b.ctx.queryCounters() };
      expect(after.b.rxPayloadBytesCopied).toBe(0);
      expect(after.a.txPayloadBytesCopied).toBe(0);
      expect(after.a.writeSyscalls - before.a.writeSyscalls).toBe(1);
      console.log(`64 KiB SEND: sender writev ${after.a.writeSyscalls - before.a.writeSyscalls}, frames ${after.a.framesSent - before.a.framesSent}; receiver reads ${after.b.readCallbacks - before.b.readCallbacks}, copies ${after.b.rxPayloadBytesCopied}, ACK writes ${after.b.writeSyscalls - before.b.writeSyscalls}`);
      a.monitor.assertAgreement();
      b.monitor.assertAgreement();
    } finally {
      close();
    }
  });

  it('64 KiB SENDs both ways, in turn: the receive path of each side reads the ACK between them alone and still places every payload after the first round with no user-space copy', async () => {
    const { a, b, close } = await rcPair({ mrBytes: 1 << 20, maxSendWr: 16, maxRecvWr: 16 });
    try {
      const size = 65536;
      for (let i = 0; i < size; i++) { a.mr.buffer[i] = (i * 7) & 0xff; b.mr.buffer[i] = (i * 5 + 1) & 0xff; }
      const rounds = 8;
      a.qp.postRecv(Array.from({ length: rounds }, (_, r) => ({ wrId: BigInt(r), sgList: [sge(a, size * (r + 1), size)] })));
      b.qp.postRecv(Array.from({ length: rounds }, (_, r) => ({ wrId: BigInt(r), sgList: [sge(b, size * (r + 1), size)] })));
      let before = { a: a.ctx.queryCounters(), b: b.ctx.queryCounters() };
      for (let r = 0; r < rounds; r++) {
        // The first round sets both parsers' reads to a header at a time: count from the second.
        if (r === 1) before = { a: a.ctx.queryCounters(), b: b.ctx.queryCounters() };
        a.qp.postSend({ wrId: 100n + BigInt(r), opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [sge(a, 0, size)] });
        expect((await pollUntil(b.cq, 1)).map((wc) => [wc.opcode, wc.status, wc.byteLen])).toEqual([['RECV', 'SUCCESS', size]]);
        b.qp.postSend({ wrId: 200n + BigInt(r), opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [sge(b, 0, size)] });
        const atA = await pollUntil(a.cq, 2);
        expect(atA.map((wc) => wc.status)).toEqual(['SUCCESS', 'SUCCESS']);
        expect((await pollUntil(b.cq, 1)).map((wc) => wc.status)).toEqual(['SUCCESS']);
      }
      for (let r = 0; r < rounds; r++) {
        expect(Buffer.compare(b.mr.buffer.subarray(size * (r + 1), size * (r + 2)), a.mr.buffer.subarray(0, size)), `round ${r} at b`).toBe(0);
        expect(Buffer.compare(a.mr.buffer.subarray(size * (r + 1), size * (r + 2)), b.mr.buffer.subarray(0, size)), `round ${r} at a`).toBe(0);
      }
      const after = { a: a.ctx.queryCounters(), b: b.ctx.queryCounters() };
      expect([after.a.rxPayloadBytesCopied - before.a.rxPayloadBytesCopied, after.b.rxPayloadBytesCopied - before.b.rxPayloadBytesCopied]).toEqual([0, 0]);
      a.monitor.assertAgreement();
      b.monitor.assertAgreement();
    } finally {
      close();
    }
  });

  it('one WR object reposted back to back, the same or changed in between: every post carries the values it had when posted, send side and receive side', async () => {
    const { a, b, close } = await recordedPair();
    try {
      for (let i = 0; i < 4096; i++) a.mr.buffer[i] = (i * 7 + (i >> 10)) & 0xff;
      // Receives, one WR object: posted again unchanged, then with its SGE or its wrId changed.
      const recvSge = sge(b, 0, 64);
      const recv = { wrId: 10n, sgList: [recvSge] };
      const receives: [bigint, number][] = [[10n, 0], [10n, 0], [11n, 64], [11n, 128], [12n, 192]];
      for (const [wrId, offset] of receives) {
        recv.wrId = wrId;
        recvSge.addr = b.mr.addr + offset;
        b.qp.postRecv(recv);
      }
      // Sends, one WR object: the same SGE twice, a new address, the same address with a new length.
      const sendSge = sge(a, 0, 64);
      const send = { wrId: 0n, opcode: 'SEND' as const, sendFlags: SendFlags.SIGNALED, sgList: [sendSge] };
      const sends: [number, number][] = [[0, 64], [0, 64], [1024, 64], [1024, 32], [2048, 64]];
      for (const [i, [offset, length]] of sends.entries()) {
        send.wrId = BigInt(i);
        sendSge.addr = a.mr.addr + offset;
        sendSge.length = length;
        a.qp.postSend(send);
      }
      const received = await pollUntil(b.cq, receives.length);
      expect(received.map((wc) => [wc.wrId, wc.byteLen])).toEqual(receives.map(([wrId], i) => [wrId, sends[i]![1]]));
      expect((await pollUntil(a.cq, sends.length)).every((wc) => wc.status === 'SUCCESS')).toBe(true);
      for (const [i, [offset, length]] of sends.entries()) {
        const at = receives[i]![1];
        expect(Buffer.compare(b.mr.buffer.subarray(at, at + length), a.mr.buffer.subarray(offset, offset + length)), `message ${i}`).toBe(0);
      }
      // Changing the caller's SGE after the last post changed nothing that was posted.
      sendSge.length = 1 << 30;
      recvSge.lkey = 0xdead;
      b.qp.postRecv({ wrId: 99n, sgList: [sge(b, 8192, 64)] });
      a.qp.postSend({ wrId: 99n, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [sge(a, 0, 64)] });
      expect(await pollUntil(b.cq, 1)).toMatchObject([{ wrId: 99n, status: 'SUCCESS', byteLen: 64 }]);
      a.monitor.assertAgreement();
      b.monitor.assertAgreement();
    } finally {
      close();
    }
  });

  it('each post refills the request objects of the one before: nothing of an earlier WR (immediate data, remote address, flags) carries over to a later one at the same index', async () => {
    const { a, b, close } = await recordedPair();
    try {
      for (let i = 0; i < 8; i++) b.qp.postRecv({ wrId: BigInt(100 + i), sgList: [sge(b, i * 64, 64)] });
      const remote = { remoteAddr: b.mr.addr + 4096, rkey: b.mr.rkey };
      a.mr.buffer.fill(0x5a, 0, 64);
      // Index 0: SEND_WITH_IMM, then a plain SEND; index 1: RDMA_WRITE, then a SEND.
      a.qp.postSend([
        { wrId: 1n, opcode: 'SEND_WITH_IMM', sendFlags: SendFlags.SIGNALED, sgList: [sge(a, 0, 16)], immData: 7 },
        { wrId: 2n, opcode: 'RDMA_WRITE', sendFlags: SendFlags.SIGNALED, sgList: [sge(a, 0, 64)], rdma: remote },
      ]);
      expect((await pollUntil(a.cq, 2)).map((wc) => [wc.wrId, wc.status, wc.opcode])).toEqual([[1n, 'SUCCESS', 'SEND'], [2n, 'SUCCESS', 'RDMA_WRITE']]);
      a.qp.postSend([
        { wrId: 3n, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [sge(a, 0, 32)] },
        { wrId: 4n, opcode: 'SEND', sendFlags: 0, sgList: [sge(a, 0, 48)] },
        { wrId: 5n, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [] },
      ]);
      // Unsignaled WR 4 yields no WC of its own; WR 5's covers it.
      expect((await pollUntil(a.cq, 2)).map((wc) => [wc.wrId, wc.status, wc.byteLen])).toEqual([[3n, 'SUCCESS', 32], [5n, 'SUCCESS', 0]]);
      const received = await pollUntil(b.cq, 4);
      expect(received.map((wc) => [wc.wrId, wc.byteLen, wc.immData, wc.wcFlags])).toEqual([[100n, 16, 7, WcFlags.WITH_IMM], [101n, 32, undefined, 0], [102n, 48, undefined, 0], [103n, 0, undefined, 0]]);
      expect(b.mr.buffer[4096 + 63]).toBe(0x5a);
      a.monitor.assertAgreement();
      b.monitor.assertAgreement();
    } finally {
      close();
    }
  });

  it('64 small SENDs posted at once leave in one writev of one iovec: headers and payloads below the transmit copybreak packed together', async () => {
    const { a, b, logA, close } = await recordedPair();
    try {
      b.qp.postRecv(Array.from({ length: 64 }, (_, i) => ({ wrId: BigInt(i), sgList: [sge(b, i * 64, 64)] })));
      await new Promise((resolve) => setImmediate(resolve));
      for (let i = 0; i < 64 * 64; i++) a.mr.buffer[i] = (i * 13) & 0xff;
      const before = { a: a.ctx.queryCounters(), b: b.ctx.queryCounters() };
      const batchesBefore = logA.batches.length;
      a.qp.postSend(Array.from({ length: 64 }, (_, i) => ({ wrId: BigInt(i), opcode: 'SEND' as const, sendFlags: i === 63 ? SendFlags.SIGNALED : 0, sgList: [sge(a, i * 64, 32)] })));
      expect(await pollUntil(b.cq, 64)).toHaveLength(64);
      expect(await pollUntil(a.cq, 1)).toMatchObject([{ wrId: 63n, status: 'SUCCESS' }]);
      for (let i = 0; i < 64; i++) expect(Buffer.compare(b.mr.buffer.subarray(i * 64, i * 64 + 32), a.mr.buffer.subarray(i * 64, i * 64 + 32))).toBe(0);
      const after = { a: a.ctx.queryCounters(), b: b.ctx.queryCounters() };
      expect(after.a.writeSyscalls - before.a.writeSyscalls).toBe(1);
      expect(after.a.framesSent - before.a.framesSent).toBe(64);
      expect(after.a.txPayloadBytesCopied - before.a.txPayloadBytesCopied).toBe(64 * 32);
      const batch = logA.batches[batchesBefore]!;
      expect(batch.map((chunk) => chunk.byteLength)).toEqual([64 * (HEADER_BYTES.SEND + 32)]);
      // The receiver takes them from its staging ring: a header alone first, then the rest at once.
      expect(after.b.readCallbacks - before.b.readCallbacks).toBeLessThanOrEqual(3);
      console.log(`64 x 32 B SEND in one post: sender writev ${after.a.writeSyscalls - before.a.writeSyscalls} of ${batch.length} iovec; receiver reads ${after.b.readCallbacks - before.b.readCallbacks}, copies ${after.b.rxPayloadBytesCopied - before.b.rxPayloadBytesCopied}`);
      a.monitor.assertAgreement();
      b.monitor.assertAgreement();
    } finally {
      close();
    }
  });

  it('SENDs at the transmit copybreak leave in one writev whose payload iovecs are views of the MR (no copy)', async () => {
    const size = NIC_LIMITS.txCopybreakBytes;
    const { a, b, logA, close } = await recordedPair();
    try {
      b.qp.postRecv(Array.from({ length: 8 }, (_, i) => ({ wrId: BigInt(i), sgList: [sge(b, i * size, size)] })));
      await new Promise((resolve) => setImmediate(resolve));
      const before = a.ctx.queryCounters();
      const batchesBefore = logA.batches.length;
      a.qp.postSend(Array.from({ length: 8 }, (_, i) => ({ wrId: BigInt(i), opcode: 'SEND' as const, sendFlags: i === 7 ? SendFlags.SIGNALED : 0, sgList: [sge(a, i * size, size)] })));
      expect(await pollUntil(b.cq, 8)).toHaveLength(8);
      expect(await pollUntil(a.cq, 1)).toMatchObject([{ wrId: 7n, status: 'SUCCESS' }]);
      const after = a.ctx.queryCounters();
      expect(after.writeSyscalls - before.writeSyscalls).toBe(1);
      expect(after.txPayloadBytesCopied - before.txPayloadBytesCopied).toBe(0);
      const batch = logA.batches[batchesBefore]!;
      const payloadChunks = batch.filter((chunk) => chunk.buffer === a.mr.buffer.buffer);
      expect(payloadChunks.map((chunk) => chunk.byteLength)).toEqual(Array(8).fill(size));
      expect(batch).toHaveLength(16);
      a.monitor.assertAgreement();
      b.monitor.assertAgreement();
    } finally {
      close();
    }
  });
});
