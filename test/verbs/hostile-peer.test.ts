import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SendFlags } from '../../src/index.js';
import { HEADER_BYTES, HELLO_BYTES, encodeHello } from '../../src/wire/frame.js';
import { frame } from '../support/raw-peer.js';
import { makeSide, pollUntil, sge, socketPair, toRtr, toRts, waitFor, type Side } from '../support/verbs-harness.js';

/** One real QP whose peer is a raw socket we script byte by byte. */
async function rawPeer(options: { timeout?: number; retryCnt?: number } = {}) {
  const [client, raw, stop] = await socketPair();
  const side = makeSide();
  const fakeQpn = 0x123456;
  toRtr(side, fakeQpn, { socket: client });
  toRts(side, { timeout: options.timeout ?? 14, retryCnt: options.retryCnt ?? 7 });
  const received: Buffer[] = [];
  raw.on('data', (chunk: Buffer) => received.push(chunk));
  raw.on('error', () => {});
  const hello = new Uint8Array(HELLO_BYTES);
  encodeHello({ srcQpn: fakeQpn, destQpn: side.qp.qpNum, rqPsn: 0, maxMessage: 1 << 20, maxDestRdAtomic: 4 }, hello);
  return { side, raw, hello, received: () => Buffer.concat(received), close: () => { side.ctx.close(); raw.destroy(); stop(); } };
}

function lastAsyncReason(side: Side): string {
  let reason = '';
  for (let e = side.ctx.pollAsyncEvent(); e !== undefined; e = side.ctx.pollAsyncEvent()) reason = `${e.type}: ${e.reason ?? ''}`;
  return reason;
}

describe('a hostile or broken peer fails one QP, never the process', () => {
  it('a silent peer: RETRY_EXC_ERR after timeout x (retry_cnt + 1)', async () => {
    const peer = await rawPeer({ timeout: 10, retryCnt: 2 });
    try {
      peer.raw.write(peer.hello);
      peer.side.qp.postSend({ wrId: 1n, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [sge(peer.side, 0, 8)] });
      const started = Date.now();
      expect(await pollUntil(peer.side.cq, 1, 2000)).toMatchObject([{ wrId: 1n, status: 'RETRY_EXC_ERR' }]);
      // 4.096 µs × 2^10 ≈ 4.2 ms per timeout, 3 timeouts: well under a second, not instant.
      expect(Date.now() - started).toBeLessThan(1500);
      expect(peer.side.qp.state).toBe('ERR');
      expect(lastAsyncReason(peer.side)).toMatch(/^QP_FATAL: no response from the peer/);
      peer.side.monitor.assertAgreement();
    } finally {
      peer.close();
    }
  });

  it('a peer that is not tcpverbs (bad magic) fails the QP with the reason', async () => {
    const peer = await rawPeer();
    try {
      peer.raw.write(Buffer.from('GET / HTTP/1.1\r\nHost: example.invalid\r\n\r\n'));
      await waitFor(() => peer.side.qp.state === 'ERR', 2000, 'ERR');
      expect(lastAsyncReason(peer.side)).toMatch(/QP_REQ_ERR: malformed stream from the peer: not a tcpverbs peer/);
      peer.side.monitor.assertAgreement();
    } finally {
      peer.close();
    }
  });

  it('a hello naming the wrong QP fails the QP', async () => {
    const peer = await rawPeer();
    try {
      const wrong = new Uint8Array(HELLO_BYTES);
      encodeHello({ srcQpn: 77, destQpn: peer.side.qp.qpNum, rqPsn: 0, maxMessage: 1024, maxDestRdAtomic: 1 }, wrong);
      peer.raw.write(wrong);
      await waitFor(() => peer.side.qp.state === 'ERR', 2000, 'ERR');
      expect(lastAsyncReason(peer.side)).toMatch(/peer is QP 77/);
    } finally {
      peer.close();
    }
  });

  it('an unknown opcode, an oversize payload, a WRITE outside the MR: each fails the QP, memory untouched', async () => {
    const cases: { bytes: (side: Side) => Uint8Array; reason: RegExp }[] = [
      { bytes: () => { const f = frame({ opcode: 'SEND', flags: 0, psn: 0, payloadLength: 0 }); f[0] = 0xee; return f; }, reason: /unknown opcode 0xee/ },
      { bytes: () => { const f = frame({ opcode: 'SEND', flags: 0, psn: 0, payloadLength: 0 }); new DataView(f.buffer).setUint32(8, 0xffffffff); return f; }, reason: /exceeds the limit/ },
      { bytes: (side) => frame({ opcode: 'RDMA_WRITE', flags: 0, psn: 0, payloadLength: 16, remoteAddr: side.mr.addr + side.mr.length - 8, rkey: side.mr.rkey }), reason: /QP_ACCESS_ERR: remote write refused: .*outside the region/ },
      { bytes: (side) => frame({ opcode: 'RDMA_WRITE', flags: 0, psn: 0, payloadLength: 8, remoteAddr: side.mr.addr, rkey: (side.mr.rkey + 1) >>> 0 }), reason: /names no live memory region/ },
      // Ahead of the expected PSN: NAKed, and its payload drained, never placed.
      { bytes: () => frame({ opcode: 'SEND', flags: 0, psn: 5, payloadLength: 16 }, new Uint8Array(16).fill(0xab)), reason: /.*/ },
      { bytes: () => frame({ opcode: 'ACK', flags: 0, psn: 3, payloadLength: 0 }), reason: /protocol error from the peer: ACK/ },
    ];
    for (const { bytes, reason } of cases) {
      const peer = await rawPeer();
      try {
        const snapshot = Buffer.from(peer.side.mr.buffer);
        peer.raw.write(peer.hello);
        peer.raw.write(bytes(peer.side));
        // Bytes after a refused frame, which must not reach memory either (after the NAK below
        // they would be a header of no opcode and fail the QP: that case carries them as its payload).
        if (reason.source !== '.*') peer.raw.write(Buffer.alloc(16, 0xab));
        if (reason.source === '.*') {
          // A PSN ahead of the expected one is NAKed as a sequence error; the QP stays up.
          await waitFor(() => peer.received().length >= HELLO_BYTES + HEADER_BYTES.NAK, 2000, 'NAK');
          expect(peer.received()[HELLO_BYTES]).toBe(0x11);
          expect(peer.side.qp.state).toBe('RTS');
        } else {
          await waitFor(() => peer.side.qp.state === 'ERR', 2000, `ERR for ${reason}`);
          expect(lastAsyncReason(peer.side)).toMatch(reason);
        }
        expect(Buffer.compare(Buffer.from(peer.side.mr.buffer), snapshot)).toBe(0);
        peer.side.monitor.assertAgreement();
      } finally {
        peer.close();
      }
    }
  });

  it('property: arbitrary bytes after a valid hello never crash the process nor write outside posted memory', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 400 }), async (garbage) => {
      const peer = await rawPeer();
      try {
        const guard = peer.side.pd.regMr(new Uint8Array(256).fill(0x5c), 0b1111);
        peer.side.qp.postRecv({ wrId: 1n, sgList: [sge(peer.side, 0, 64)] });
        const before = Buffer.from(peer.side.mr.buffer.subarray(64));
        peer.raw.write(peer.hello);
        peer.raw.write(garbage);
        await new Promise((resolve) => setTimeout(resolve, 5));
        expect(['RTS', 'ERR']).toContain(peer.side.qp.state);
        // Only the posted receive range may change: the rest of the MR and the other MR are intact.
        expect(Buffer.compare(Buffer.from(peer.side.mr.buffer.subarray(64)), before)).toBe(0);
        expect(guard.buffer.every((byte) => byte === 0x5c)).toBe(true);
        peer.side.monitor.assertAgreement();
      } finally {
        peer.close();
      }
    }), { numRuns: 40 });
  });
});
