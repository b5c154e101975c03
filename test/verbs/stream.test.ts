import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { SendFlags } from '../../src/index.js';
import { makeSide, pollUntil, sge, str, text, toRtr, toRts, waitFor } from '../support/verbs-harness.js';

/** A plain TCP echo server: the STREAM QP's peer is any ordinary socket program. */
async function echoServer(): Promise<{ port: number; close: () => void; received: () => number }> {
  let received = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('data', (chunk) => { received += chunk.length; socket.write(chunk); });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, received: () => received, close: () => { for (const s of sockets) s.destroy(); server.close(); } };
}

async function streamQp(port: number, options: { maxRecvWr?: number; beforeRtr?: (side: ReturnType<typeof makeSide>) => void } = {}) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const side = makeSide({ qpType: 'STREAM', mrBytes: 1 << 20, maxRecvWr: options.maxRecvWr ?? 64 });
  options.beforeRtr?.(side);
  toRtr(side, 0, { socket });
  toRts(side);
  return side;
}

describe('STREAM QP against a plain net echo server', () => {
  it('SEND writes raw bytes; the echo lands in the posted receive buffer', async () => {
    const echo = await echoServer();
    // Receives posted before RTR: the very first read already lands in the application's buffer.
    const side = await streamQp(echo.port, { beforeRtr: (s) => s.qp.postRecv({ wrId: 1n, sgList: [sge(s, 4096, 1024)] }) });
    try {
      side.mr.buffer.set(text('hello, plain TCP'), 0);
      side.qp.postSend({ wrId: 7n, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [sge(side, 0, 16)] });
      const wcs = await pollUntil(side.cq, 2);
      expect(wcs.map((wc) => [wc.wrId, wc.status, wc.opcode])).toEqual(expect.arrayContaining([[7n, 'SUCCESS', 'SEND'], [1n, 'SUCCESS', 'RECV']]));
      const recv = wcs.find((wc) => wc.opcode === 'RECV')!;
      expect(str(side.mr.buffer.subarray(4096, 4096 + recv.byteLen))).toBe('hello, plain TCP'.slice(0, recv.byteLen));
      expect(side.ctx.queryCounters().rxPayloadBytesCopied).toBe(0);
      side.monitor.assertAgreement();
    } finally {
      side.ctx.close();
      echo.close();
    }
  });

  it('1 MiB through the echo arrives in order across many receives, zero-copy while receives are posted', async () => {
    const echo = await echoServer();
    const side = await streamQp(echo.port, { maxRecvWr: 256 });
    try {
      const total = 512 * 1024;
      for (let i = 0; i < total; i++) side.mr.buffer[i] = (i * 13 + 5) & 0xff;
      side.qp.postRecv(Array.from({ length: 256 }, (_, i) => ({ wrId: BigInt(i), sgList: [sge(side, total + (i % 128) * 4096, 4096)] })));
      side.qp.postSend({ wrId: 1n, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [sge(side, 0, total)] });
      let got = 0;
      let checked = 0;
      const deadline = Date.now() + 5000;
      while (got < total && Date.now() < deadline) {
        for (const wc of side.cq.poll(64)) {
          if (wc.opcode !== 'RECV') continue;
          expect(wc.status).toBe('SUCCESS');
          const slot = Number(wc.wrId) % 128;
          const landed = side.mr.buffer.subarray(total + slot * 4096, total + slot * 4096 + wc.byteLen);
          expect(Buffer.compare(landed, side.mr.buffer.subarray(got, got + wc.byteLen)), `bytes ${got}..${got + wc.byteLen}`).toBe(0);
          got += wc.byteLen;
          checked++;
          side.qp.postRecv({ wrId: wc.wrId + 256n, sgList: [sge(side, total + slot * 4096, 4096)] });
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(got).toBe(total);
      expect(checked).toBeGreaterThan(100);
      side.monitor.assertAgreement();
    } finally {
      side.ctx.close();
      echo.close();
    }
  });

  it('bytes that arrive before a receive is posted wait (copied once, counted) and are not lost', async () => {
    const echo = await echoServer();
    const side = await streamQp(echo.port);
    try {
      side.mr.buffer.set(text('early bird'), 0);
      side.qp.postSend({ wrId: 1n, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [sge(side, 0, 10)] });
      await waitFor(() => echo.received() === 10, 2000, 'echo');
      await new Promise((resolve) => setTimeout(resolve, 20));
      side.qp.postRecv({ wrId: 2n, sgList: [sge(side, 100, 64)] });
      const wcs = await pollUntil(side.cq, 2);
      expect(wcs.find((wc) => wc.opcode === 'RECV')).toMatchObject({ wrId: 2n, byteLen: 10 });
      expect(str(side.mr.buffer.subarray(100, 110))).toBe('early bird');
      expect(side.ctx.queryCounters().rxPayloadBytesCopied).toBe(10);
    } finally {
      side.ctx.close();
      echo.close();
    }
  });

  it('one-sided opcodes are refused on a STREAM QP; the peer closing ends it in ERR with flushes', async () => {
    const echo = await echoServer();
    const side = await streamQp(echo.port);
    try {
      expect(() => side.qp.postSend({ wrId: 1n, opcode: 'RDMA_WRITE', sgList: [sge(side, 0, 8)], rdma: { remoteAddr: 0, rkey: 1 } }))
        .toThrow(/STREAM QP sends raw bytes: only SEND/);
      side.qp.postRecv({ wrId: 5n, sgList: [sge(side, 0, 64)] });
      echo.close();
      await waitFor(() => side.qp.state === 'ERR', 2000, 'ERR after the peer closed');
      expect(await pollUntil(side.cq, 1)).toMatchObject([{ wrId: 5n, status: 'WR_FLUSH_ERR' }]);
      side.monitor.assertAgreement();
    } finally {
      side.ctx.close();
    }
  });
});
