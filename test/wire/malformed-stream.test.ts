import { describe, expect, it } from 'vitest';
import { HEADER_BYTES, encodeHeader } from '../../src/wire/frame.js';
import { RxParser, type RxCounters } from '../../src/nic/rx-parser.js';
import { asyncEvents, frame } from '../support/raw-peer.js';
import { endOfIoPhase, scriptedPeer } from '../support/scripted-transport.js';
import { pollUntil, sge } from '../support/verbs-harness.js';

/*
 * docs/wire.md §6: a malformed header fails the QP as a malformed stream, and everything after it
 * is drained, never interpreted — also the valid frames that shared its read (the staging ring).
 */

const badHeader = () => {
  const f = frame({ opcode: 'SEND', flags: 0, psn: 1, payloadLength: 0 });
  f[0] = 0xee;
  return f;
};

describe('a malformed header in the middle of a read', () => {
  it('a valid frame after it in the same read: the QP fails as a malformed stream (QP_REQ_ERR), the frame is drained as discarded bytes', async () => {
    const p = 40;
    const peer = await scriptedPeer({ psn: p });
    try {
      const { side, transport } = peer;
      side.qp.postRecv([{ wrId: 1n, sgList: [sge(side, 0, 8)] }, { wrId: 2n, sgList: [sge(side, 8, 8)] }]);
      const trailing = frame({ opcode: 'SEND', flags: 0, psn: p + 1, payloadLength: 8 }, new Uint8Array(8).fill(0x77));
      const before = side.ctx.queryCounters().bytesDiscarded;
      // A small SEND first, so that the rest of the burst is read into the staging ring at once.
      transport.deliver(Buffer.concat([frame({ opcode: 'SEND', flags: 0, psn: p, payloadLength: 8 }, new Uint8Array(8).fill(0x11)), badHeader(), trailing]));
      expect(side.qp.state).toBe('ERR');
      const events = asyncEvents(side);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type: 'QP_REQ_ERR', qp: { qpNum: side.qp.qpNum } });
      expect(events[0]!.reason).toMatch(/^malformed stream from the peer: unknown opcode 0xee/);
      // The frame that shared the bad header's read is drained, not placed. A byte that is no
      // opcode gives no header length: the drain counts from it.
      expect(side.ctx.queryCounters().bytesDiscarded - before).toBe(badHeader().byteLength + trailing.byteLength);
      expect(side.mr.buffer.subarray(8, 16).every((b) => b === 0)).toBe(true);
      // Bytes still arriving are drained too.
      transport.deliver(trailing);
      expect(side.ctx.queryCounters().bytesDiscarded - before).toBe(badHeader().byteLength + 2 * trailing.byteLength);
      await endOfIoPhase();
      const wcs = await pollUntil(side.cq, 2);
      expect(wcs.map((wc) => [wc.wrId, wc.status])).toEqual([[1n, 'SUCCESS'], [2n, 'WR_FLUSH_ERR']]);
      // The first SEND's ACK, then the TERMINATE naming the malformed stream.
      const frames = peer.frames();
      expect(frames.map((f) => [f.header.opcode, f.header.psn])).toEqual([['ACK', p], ['TERMINATE', 0]]);
      expect(Buffer.from(frames[1]!.payload).toString()).toMatch(/^malformed stream from the peer: unknown opcode 0xee/);
      side.monitor.assertAgreement();
    } finally {
      peer.close();
    }
  });

  it('the parser alone: the reason is reported once, nothing throws, the rest of the ring counts as discarded', () => {
    const counters: RxCounters = { framesReceived: 0, bytesReceived: 0, bytesDiscarded: 0, rxPayloadBytesCopied: 0 };
    const failures: string[] = [];
    const headers: number[] = [];
    const parser = new RxParser({
      onHello: () => {},
      onHeader: (h) => { headers.push(h.psn); return { kind: 'discard' }; },
      onMalformed: (reason) => failures.push(reason),
      onClose: () => {},
    }, counters, 1 << 30, false);
    const good = (psn: number) => {
      const f = new Uint8Array(HEADER_BYTES.SEND + 4);
      encodeHeader({ opcode: 'SEND', flags: 0, psn, payloadLength: 4 }, f);
      return f;
    };
    const bytes = Buffer.concat([good(0), good(1), badHeader(), good(3), good(4)]);
    let at = 0;
    const read = (limit: number) => {
      const target = parser.nextReadTarget();
      const count = Math.min(target.byteLength, limit, bytes.byteLength - at);
      target.set(bytes.subarray(at, at + count));
      at += count;
      parser.onBytes(count);
    };
    read(Infinity); // the first header alone
    read(Infinity); // everything else, into the ring
    expect(at).toBe(bytes.byteLength);
    expect(headers).toEqual([0, 1]);
    expect(failures).toEqual(['unknown opcode 0xee']);
    expect(counters.framesReceived).toBe(2);
    // The two payloads of 4 bytes were discarded by placement, then the bad header (no opcode, so
    // no length: everything from its first byte) and the two frames after it.
    expect(counters.bytesDiscarded).toBe(4 + 4 + badHeader().byteLength + 2 * (HEADER_BYTES.SEND + 4));
  });
});
