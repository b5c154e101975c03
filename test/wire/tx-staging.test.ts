import { describe, expect, it } from 'vitest';
import { TxStaging } from '../../src/nic/tx-staging.js';
import { NIC_LIMITS } from '../../src/abi/limits.js';
import { TxBatch, type TxCounters } from '../../src/nic/tx-batch.js';
import { HEADER_BYTES, decodeHeader, headerBytesForCode } from '../../src/wire/frame.js';
import type { Scheduler, Transport } from '../../src/transport/types.js';

/** Found by a hostile-input review: a block the batch being built points into was reused. */
describe('Tx staging: no byte a batch points at is handed out again before it is written', () => {
  it('a block an unsealed batch points into stays out of the spares when an older batch is written', () => {
    const staging = new TxStaging();
    const chunks: Uint8Array[] = [];
    const take = (c: Uint8Array) => { chunks.push(c); };
    const fill = (bytes: number, value: number) => { const at = staging.reserve(bytes, take); staging.block.fill(value, at, at + bytes); };
    fill(100, 0xaa);
    staging.takeRun(take);
    const releaseA = staging.seal();
    chunks.length = 0;
    // Batch B fills the rest of block X, then moves to a new block.
    for (let i = 0; i < 9; i++) fill(8000, 0xbb);
    const bChunkInX = chunks[0]!;
    expect(bChunkInX.byteLength).toBe(64000);
    releaseA();
    // More of B: it must not get X back while B's chunk in X is unsent.
    for (let i = 0; i < 8; i++) fill(8000, 0xcc);
    expect(bChunkInX.every((b) => b === 0xbb)).toBe(true);
  });

  it('a batch built across I/O events (refills flushed `soon`) goes out intact when an older write completes in between', () => {
    const written: { chunks: Uint8Array[]; done?: () => void }[] = [];
    const transport = { closed: false, writev(chunks: readonly Uint8Array[], done?: () => void) { written.push({ chunks: [...chunks], ...(done ? { done } : {}) }); } } as unknown as Transport;
    const soon: (() => void)[] = [];
    const scheduler: Scheduler = { defer: (t) => t(), soon: (t) => { soon.push(t); } };
    const counters: TxCounters = { framesSent: 0, bytesSent: 0, txPayloadBytesCopied: 0 };
    const tx = new TxBatch(transport, counters, scheduler, () => { throw new Error('overflow'); });
    const payload = (fill: number) => [new Uint8Array(8000).fill(fill)];
    tx.frame({ opcode: 'SEND', flags: 0, psn: 0, payloadLength: 8000 }, payload(0));
    tx.flush(); // batch A: its write is pending
    for (let psn = 1; psn <= 8; psn++) tx.frame({ opcode: 'SEND', flags: 0, psn, payloadLength: 8000 }, payload(psn));
    tx.flushSoon(); // as the requester's refill after an ACK
    written[0]!.done!(); // A is written in the same I/O phase
    for (let psn = 9; psn <= 17; psn++) tx.frame({ opcode: 'SEND', flags: 0, psn, payloadLength: 8000 }, payload(psn));
    for (const task of soon.splice(0)) task();
    const wire = Buffer.concat(written[1]!.chunks);
    const psns: number[] = [];
    for (let at = 0; at < wire.byteLength;) {
      const headerBytes = headerBytesForCode(wire[at]!);
      const h = decodeHeader(wire.subarray(at, at + headerBytes), { maxPayload: 1 << 30 });
      if (!h.ok) throw new Error(`at ${at}: ${h.reason}`);
      psns.push(h.value.psn);
      expect(wire.subarray(at + headerBytes, at + headerBytes + h.value.payloadLength).every((x) => x === h.value.psn)).toBe(true);
      at += headerBytes + h.value.payloadLength;
    }
    expect(psns).toEqual(Array.from({ length: 17 }, (_, i) => i + 1));
  });

  it('a sender whose writes complete a batch late reuses its blocks: a window of 64 4 KiB SENDs, two batches in flight, allocates nothing after the first rounds', () => {
    // Each batch spans 5 blocks; the one before it is written only once the next is sealed.
    const staging = new TxStaging();
    const take = () => {};
    let pending: (() => void) | null = null;
    const allocatedAfter: number[] = [];
    for (let round = 0; round < 50; round++) {
      for (let frame = 0; frame < 64; frame++) staging.reserve(HEADER_BYTES.SEND + 4096, take);
      staging.takeRun(take);
      const release = staging.seal();
      pending?.();
      pending = release;
      allocatedAfter.push(staging.blocksAllocated);
    }
    // With 2 spare blocks kept, the rounds kept allocating: 118 blocks after 50.
    expect(allocatedAfter.at(-1)).toBe(allocatedAfter[4]);
    expect(allocatedAfter.at(-1)).toBeLessThanOrEqual(NIC_LIMITS.txSpareBlocks + 5);
  });

  it('a batch that sends nothing (a refused header) frees its block: once written, the block restarts at its front', () => {
    const written: { chunks: Uint8Array[]; done?: () => void }[] = [];
    const transport = { closed: false, writev(chunks: readonly Uint8Array[], done?: () => void) { written.push({ chunks: [...chunks], ...(done ? { done } : {}) }); } } as unknown as Transport;
    const scheduler: Scheduler = { defer: (t) => t(), soon: (t) => t() };
    const tx = new TxBatch(transport, { framesSent: 0, bytesSent: 0, txPayloadBytesCopied: 0 }, scheduler, () => {});
    expect(() => tx.frame({ opcode: 'ACK', flags: 0, psn: 0x1000000, payloadLength: 0 })).toThrow('psn must be an integer in 0..16777215');
    tx.flush(); // nothing to send
    for (let batch = 0; batch < 3; batch++) {
      tx.frame({ opcode: 'ACK', flags: 0, psn: batch, payloadLength: 0 });
      tx.flush();
      const chunk = written.at(-1)!.chunks[0]!;
      expect(chunk.byteOffset).toBe(0);
      written.at(-1)!.done!();
    }
  });

  it('a fresh batch refuses a header with no opcode (null is never taken for the remembered one)', () => {
    const transport = { closed: false, writev() {} } as unknown as Transport;
    const counters = { framesSent: 0, bytesSent: 0, txPayloadBytesCopied: 0 };
    const tx = new TxBatch(transport, counters, { defer: (t) => t(), soon: (t) => t() }, () => {});
    expect(() => tx.frame({ opcode: null, flags: 0, psn: 0, payloadLength: 0 } as never)).toThrow(/^unknown opcode null$/);
    expect(counters.framesSent).toBe(0);
  });

  it('a batch of frames of changing opcodes goes out with each frame\'s own opcode: the remembered code never answers for another one, and an unknown opcode is refused', () => {
    const written: Uint8Array[][] = [];
    const transport = { closed: false, writev(chunks: readonly Uint8Array[], done?: () => void) { written.push([...chunks]); done?.(); } } as unknown as Transport;
    const tx = new TxBatch(transport, { framesSent: 0, bytesSent: 0, txPayloadBytesCopied: 0 }, { defer: (t) => t(), soon: (t) => t() }, () => {});
    const payload = [new Uint8Array(8).fill(1)];
    const sent = [
      { opcode: 'SEND', flags: 0, psn: 1, payloadLength: 8 },
      { opcode: 'SEND', flags: 0, psn: 2, payloadLength: 8 },
      { opcode: 'RDMA_WRITE', flags: 0, psn: 3, payloadLength: 8, remoteAddr: 64, rkey: 5 },
      { opcode: 'SEND', flags: 0, psn: 4, payloadLength: 8 },
      { opcode: 'SEND_WITH_IMM', flags: 0, psn: 5, payloadLength: 8, immData: 9 },
      { opcode: 'NAK', flags: 0, psn: 6, payloadLength: 0, code: 'RNR', rnrTimer: 3 },
    ] as const;
    for (const header of sent) tx.frame(header, header.payloadLength > 0 ? payload : []);
    expect(() => tx.frame({ opcode: 'BOGUS', flags: 0, psn: 7, payloadLength: 0 } as never)).toThrow(/^unknown opcode "BOGUS"$/);
    tx.frame(sent[0]!, payload);
    tx.flush();
    const wire = Buffer.concat(written.flat());
    const seen: unknown[] = [];
    for (let at = 0; at < wire.byteLength;) {
      const headerBytes = headerBytesForCode(wire[at]!);
      const h = decodeHeader(wire.subarray(at, at + headerBytes), { maxPayload: 1 << 30 });
      if (!h.ok) throw new Error(`at ${at}: ${h.reason}`);
      seen.push(h.value);
      at += headerBytes + h.value.payloadLength;
    }
    expect(seen).toEqual([...sent, sent[0]]);
  });
});
