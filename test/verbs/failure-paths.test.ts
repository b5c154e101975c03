/**
 * What happens around a failure, found by review of the provider/NIC split: nothing is sent past
 * a WR that failed locally, no byte lands in memory already given back, a reused STREAM QP keeps
 * its own transport, a STREAM doorbell of more than IOV_MAX chunks, empty trailing SGEs, the
 * order of refusals on post, and bytes buffered before the handover.
 */
import { describe, expect, it } from 'vitest';
import { Access, QpAttrMask as M, SendFlags, VerbsError } from '../../src/index.js';
import { frame, nak, rawPeer } from '../support/raw-peer.js';
import { makeSide, pollUntil, sge, socketPair, str, text, toRtr, toRts, waitFor, type SideOptions } from '../support/verbs-harness.js';

const S = SendFlags.SIGNALED;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const brief = (wcs: readonly { wrId: bigint; status: string }[]) => wcs.map((wc) => `${wc.wrId}:${wc.status}`);

/** A STREAM QP in RTS whose peer is an ordinary (half-open capable) socket collecting what it gets. */
async function streamPeer(options: SideOptions = {}) {
  const [client, peer, stop] = await socketPair();
  let received = '';
  peer.on('data', (chunk: Buffer) => { received += chunk.toString('latin1'); });
  peer.on('error', () => {});
  const side = makeSide({ qpType: 'STREAM', mrBytes: 1 << 20, ...options });
  return {
    side, peer, client, received: () => received,
    connect: () => { toRtr(side, 0, { socket: client }); toRts(side); },
    close: () => { side.ctx.close(); peer.destroy(); stop(); },
  };
}

describe('after a WR fails locally, the requester stops there (rxe: req.state = ERROR)', () => {
  it('RC: WRs behind a bad lkey are not sent; an RNR NAK for the WR before it is retried, not an internal error', async () => {
    const peer = await rawPeer({ timeout: 0 });
    try {
      const { side } = peer;
      peer.raw.write(peer.hello);
      side.qp.postSend([
        { wrId: 1n, opcode: 'SEND', sendFlags: S, sgList: [sge(side, 0, 8)] },
        { wrId: 2n, opcode: 'SEND', sendFlags: S, sgList: [{ addr: side.mr.addr, length: 8, lkey: 0xdead }] },
        { wrId: 3n, opcode: 'SEND', sendFlags: S, sgList: [sge(side, 0, 8)] },
      ]);
      await waitFor(() => peer.frames().length >= 1, 2000, 'WR 1 on the wire');
      await sleep(30);
      peer.raw.write(nak(0, 'RNR', 1));
      await waitFor(() => peer.frames().filter((f) => f.header.opcode === 'SEND').length === 2, 2000, 'WR 1 again after the RNR NAK');
      await sleep(30);
      expect(peer.frames().map((f) => `${f.header.opcode}:${f.header.psn}`)).toEqual(['SEND:0', 'SEND:0']);
      expect(side.qp.state).toBe('RTS');
      // WR 1 acknowledged: it completes, then WR 2 with its own error, then WR 3 flushed.
      peer.raw.write(frame({ opcode: 'ACK', flags: 0, psn: 0, payloadLength: 0 }));
      expect(brief(await pollUntil(side.cq, 3))).toEqual(['1:SUCCESS', '2:LOC_PROT_ERR', '3:WR_FLUSH_ERR']);
      expect(peer.frames().some((f) => f.header.opcode === 'SEND' && f.header.psn === 1)).toBe(false);
      side.monitor.assertAgreement();
    } finally {
      peer.close();
    }
  });

  it('STREAM: a WR posted after one with a bad lkey never reaches the peer', async () => {
    const p = await streamPeer();
    try {
      p.connect();
      const { side } = p;
      side.mr.buffer.set(text('AAAACCCC'), 0);
      side.qp.postSend([
        { wrId: 1n, opcode: 'SEND', sendFlags: S, sgList: [sge(side, 0, 4)] },
        { wrId: 2n, opcode: 'SEND', sendFlags: S, sgList: [{ addr: side.mr.addr, length: 4, lkey: 0xdead }] },
      ]);
      await Promise.resolve();
      side.qp.postSend({ wrId: 3n, opcode: 'SEND', sendFlags: S, sgList: [sge(side, 4, 4)] });
      expect(brief(await pollUntil(side.cq, 3))).toEqual(['1:SUCCESS', '2:LOC_PROT_ERR', '3:WR_FLUSH_ERR']);
      await sleep(30);
      expect(p.received()).toBe('AAAA');
    } finally {
      p.close();
    }
  });
});

describe('no byte lands in memory the stack has given back', () => {
  it('RC: the rest of a SEND arriving after modify(ERR) flushed its receive does not reach the buffer', async () => {
    const peer = await rawPeer({ timeout: 0 });
    try {
      const { side } = peer;
      side.qp.postRecv({ wrId: 7n, sgList: [sge(side, 0, 8)] });
      peer.raw.write(peer.hello);
      peer.raw.write(Buffer.concat([frame({ opcode: 'SEND', flags: 0, psn: 0, payloadLength: 8 }), Buffer.from('ABCD')]));
      await sleep(50);
      side.qp.modify({ qpState: 'ERR' }, M.STATE);
      expect(brief(side.cq.poll(4))).toEqual(['7:WR_FLUSH_ERR']);
      side.mr.buffer.set(text('appdata!'), 0); // the application owns the buffer again
      peer.raw.write('EFGH');
      await sleep(50);
      expect(str(side.mr.buffer.subarray(0, 8))).toBe('appdata!');
    } finally {
      peer.close();
    }
  });

  it('STREAM: bytes arriving after modify(ERR) do not reach the next, flushed, receive buffer', async () => {
    const p = await streamPeer();
    try {
      const { side } = p;
      side.qp.postRecv([{ wrId: 1n, sgList: [sge(side, 0, 8)] }, { wrId: 2n, sgList: [sge(side, 100, 8)] }]);
      p.connect();
      p.peer.write('ABCD');
      await sleep(50);
      side.qp.modify({ qpState: 'ERR' }, M.STATE);
      expect(side.cq.poll(4).map((wc) => `${wc.wrId}:${wc.status}:${wc.byteLen}`)).toEqual(['1:SUCCESS:4', '2:WR_FLUSH_ERR:0']);
      side.mr.buffer.set(text('appdata!'), 100);
      p.peer.write('EFGH');
      await sleep(50);
      expect(str(side.mr.buffer.subarray(100, 108))).toBe('appdata!');
    } finally {
      p.close();
    }
  });
});

describe('STREAM QPs', () => {
  it('a doorbell of 1100 one-byte SENDs goes out in writev batches of at most IOV_MAX chunks; all complete', async () => {
    const p = await streamPeer({ maxSendWr: 2048, cqe: 2048 });
    try {
      p.connect();
      const { side } = p;
      side.mr.buffer.fill(0x61, 0, 1100);
      side.qp.postSend(Array.from({ length: 1100 }, (_, i) => ({ wrId: BigInt(i), opcode: 'SEND' as const, sendFlags: S, sgList: [sge(side, i, 1)] })));
      const wcs = await pollUntil(side.cq, 1100);
      expect(wcs.filter((wc) => wc.status === 'SUCCESS')).toHaveLength(1100);
      expect(wcs.map((wc) => wc.wrId)).toEqual(Array.from({ length: 1100 }, (_, i) => BigInt(i)));
      await waitFor(() => p.received().length === 1100, 2000, 'all bytes at the peer');
      expect(side.ctx.queryCounters().writeSyscalls).toBe(2);
    } finally {
      p.close();
    }
  });

  it('reused through RESET, the QP counts and completes on its new connection', async () => {
    const p = await streamPeer();
    const [second, secondPeer, stopSecond] = await socketPair();
    secondPeer.on('data', () => {});
    try {
      p.connect();
      const { side } = p;
      side.qp.postSend({ wrId: 1n, opcode: 'SEND', sendFlags: S, sgList: [sge(side, 0, 4)] });
      await pollUntil(side.cq, 1);
      side.qp.modify({ qpState: 'RESET' }, M.STATE);
      side.qp.modify({ qpState: 'INIT', pkeyIndex: 0, portNum: 1, qpAccessFlags: Access.REMOTE_WRITE }, M.STATE | M.PKEY_INDEX | M.PORT | M.ACCESS_FLAGS);
      toRtr(side, 0, { socket: second });
      toRts(side);
      await sleep(30); // the first connection's close arrives now, after the second was attached
      for (let i = 0; i < 5; i++) {
        side.qp.postSend({ wrId: BigInt(10 + i), opcode: 'SEND', sendFlags: S, sgList: [sge(side, 0, 100)] });
        await sleep(5);
      }
      expect(brief(await pollUntil(side.cq, 5))).toEqual(['10:SUCCESS', '11:SUCCESS', '12:SUCCESS', '13:SUCCESS', '14:SUCCESS']);
      const counters = side.ctx.queryCounters();
      expect([counters.writeSyscalls, counters.bytesSent]).toEqual([6, 504]);
      expect(side.qp.state).toBe('RTS');
    } finally {
      p.close();
      secondPeer.destroy();
      stopSecond();
    }
  });

  it('a receive whose last SGE is empty completes when the others are full; no byte is lost or copied', async () => {
    const p = await streamPeer();
    try {
      const { side } = p;
      side.qp.postRecv([{ wrId: 1n, sgList: [sge(side, 0, 4), sge(side, 100, 0)] }, { wrId: 2n, sgList: [sge(side, 200, 8)] }]);
      p.connect();
      p.peer.write('ABCD');
      await sleep(30);
      p.peer.write('EFGHIJKL');
      const wcs = await pollUntil(side.cq, 2);
      expect(wcs.map((wc) => `${wc.wrId}:${wc.status}:${wc.byteLen}`)).toEqual(['1:SUCCESS:4', '2:SUCCESS:8']);
      expect([str(side.mr.buffer.subarray(0, 4)), str(side.mr.buffer.subarray(200, 208))]).toEqual(['ABCD', 'EFGHIJKL']);
      expect(side.ctx.queryCounters().rxPayloadBytesCopied).toBe(0);
    } finally {
      p.close();
    }
  });
});

describe('STREAM holding area (found by a fault campaign)', () => {
  it('bytes arriving after held bytes were drained into a receive land in the next receive, not at a stale offset', async () => {
    const p = await streamPeer();
    try {
      p.connect();
      const { side } = p;
      p.peer.write('ABCDEFGHIJ');
      await sleep(50);
      side.qp.postRecv({ wrId: 1n, sgList: [sge(side, 0, 100)] });
      side.qp.postRecv({ wrId: 2n, sgList: [sge(side, 100, 100)] });
      p.peer.write('KLMNO');
      const wcs = await pollUntil(side.cq, 2);
      expect(wcs.map((wc) => `${wc.wrId}:${wc.status}:${wc.byteLen}`)).toEqual(['1:SUCCESS:10', '2:SUCCESS:5']);
      expect([str(side.mr.buffer.subarray(0, 10)), str(side.mr.buffer.subarray(100, 105))]).toEqual(['ABCDEFGHIJ', 'KLMNO']);
      // Once the receive is posted the next bytes go straight into it: only the held 10 were copied.
      expect(side.ctx.queryCounters().rxPayloadBytesCopied).toBe(10);
    } finally {
      p.close();
    }
  });

  it('a 1 MiB flood with no receive posted arrives whole and in order as receives are posted one at a time; nothing is discarded', async () => {
    const p = await streamPeer({ mrBytes: 1 << 17, maxRecvWr: 256, cqe: 1024 });
    try {
      p.connect();
      const { side } = p;
      const total = 1 << 20;
      const data = Buffer.alloc(total);
      for (let i = 0; i < total; i++) data[i] = (i * 7 + (i >> 8)) & 0xff;
      p.peer.write(data);
      await sleep(100);
      let at = 0;
      let wrong = -1;
      for (let id = 0; at < total && id < 200; id++) {
        side.qp.postRecv({ wrId: BigInt(id), sgList: [sge(side, 0, 65536)] });
        const [wc] = await pollUntil(side.cq, 1, 2000);
        if (wc === undefined) break;
        for (let j = 0; j < wc.byteLen && wrong < 0; j++) if (side.mr.buffer[j] !== data[at + j]) wrong = at + j;
        at += wc.byteLen;
      }
      expect({ received: at, firstWrongByte: wrong, discarded: side.ctx.queryCounters().bytesDiscarded, state: side.qp.state }).toEqual({ received: total, firstWrongByte: -1, discarded: 0, state: 'RTS' });
    } finally {
      p.close();
    }
  });
});

describe('the order of refusals and events', () => {
  it('a post in a state that refuses posts says so, whatever is wrong with WR 0 (rxe checks the state first)', () => {
    const side = makeSide();
    try {
      side.qp.modify({ qpState: 'RESET' }, M.STATE);
      for (const post of [() => side.qp.postSend({ wrId: 1n, opcode: 'BOGUS' as never }), () => side.qp.postRecv({ wrId: 1 as never })]) {
        const error = (() => { try { post(); } catch (e) { return e; } return null; })();
        expect(error).toBeInstanceOf(VerbsError);
        expect((error as VerbsError).message).toMatch(/needs the QP in .*; it is in RESET/);
        expect((error as VerbsError).badWr).toBe(0);
      }
      side.monitor.assertAgreement();
    } finally {
      side.ctx.close();
    }
  });

  it('bytes buffered before the handover are read after modify(RTR) returns: a malformed HELLO fails the QP in RTR', async () => {
    const [client, raw, stop] = await socketPair();
    const side = makeSide();
    try {
      raw.write(Buffer.alloc(32, 0x41));
      await sleep(30);
      toRtr(side, 0x123456, { socket: client });
      expect(side.qp.state).toBe('RTR');
      await waitFor(() => side.qp.state === 'ERR', 2000, 'ERR');
      expect(side.ctx.pollAsyncEvent()?.reason).toMatch(/^malformed stream from the peer: not a tcpverbs peer/);
      side.monitor.assertAgreement();
    } finally {
      side.ctx.close();
      raw.destroy();
      stop();
    }
  });
});

describe('the simulated transport has flow control too', () => {
  it('pauseReading holds delivery, resumeReading continues where it stopped', async () => {
    const { createSimulatedPair } = await import('../../src/transport/simulated.js');
    const { VirtualClock } = await import('../../src/transport/clock.js');
    const clock = new VirtualClock();
    const [a, b] = createSimulatedPair({ clock, seed: 3 });
    const got: number[] = [];
    const target = new Uint8Array(4);
    b.start({ nextReadTarget: () => target, onBytes: (n) => { got.push(...target.subarray(0, n)); }, onClose: () => {} });
    a.start({ nextReadTarget: () => new Uint8Array(1), onBytes: () => {}, onClose: () => {} });
    b.pauseReading!();
    a.writev([Uint8Array.from([1, 2, 3, 4, 5, 6])]);
    clock.runUntilIdle();
    expect(got).toEqual([]);
    b.resumeReading!();
    clock.runUntilIdle();
    expect(got).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
