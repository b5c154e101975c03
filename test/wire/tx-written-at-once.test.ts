import { describe, expect, it } from 'vitest';
import { TxBatch } from '../../src/nic/tx-batch.js';
import { HEADER_BYTES } from '../../src/wire/frame.js';
import type { Scheduler, Transport } from '../../src/transport/types.js';

/**
 * A transport that takes a batch at once unless told not to; what it was given is copied (as the
 * kernel copies), and a batch it did not take at once waits for `report()`.
 */
function scriptedAtOnce() {
  const wire: { bytes: Uint8Array; offsets: number[]; atOnce: boolean; list: readonly Uint8Array[] }[] = [];
  const waiting: (() => void)[] = [];
  let takeAtOnce = true;
  const transport = {
    closed: false,
    writev() { throw new Error('writeOne batches go through writevAtOnce'); },
    writevAtOnce(chunks: readonly Uint8Array[], onWritten: () => void): boolean {
      wire.push({ bytes: Buffer.concat(chunks), offsets: chunks.map((c) => c.byteOffset), atOnce: takeAtOnce, list: chunks });
      if (!takeAtOnce) waiting.push(onWritten);
      return takeAtOnce;
    },
  } as unknown as Transport;
  const scheduler: Scheduler = { defer: (t) => t(), soon: (t) => t() };
  const tx = new TxBatch(transport, { framesSent: 0, bytesSent: 0, txPayloadBytesCopied: 0 }, scheduler, () => { throw new Error('overflow'); });
  const send = (psn: number, fill: number) => tx.frame({ opcode: 'SEND', flags: 0, psn, payloadLength: 64 }, [new Uint8Array(64).fill(fill)]);
  return {
    tx, wire, send,
    atOnce(value: boolean) { takeAtOnce = value; },
    /** The oldest batch not taken at once is in the kernel now; returns its onWritten. */
    report() { const onWritten = waiting.shift()!; onWritten(); return onWritten; },
  };
}

const FRAME = HEADER_BYTES.SEND + 64;

describe('TxBatch over a transport that reports a batch taken at once by its return', () => {
  it('batches taken at once reuse the front of one block and one chunk list: nothing is kept or allocated for them', () => {
    const t = scriptedAtOnce();
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 32; i++) t.send(round * 32 + i, round);
      t.tx.flush();
    }
    expect(t.wire).toHaveLength(20);
    // Each batch is one run from the front of the block, whose bytes are the batch's own.
    for (const [round, batch] of t.wire.entries()) {
      expect(batch.offsets).toEqual([0]);
      expect(batch.bytes.byteLength).toBe(32 * FRAME);
      expect(batch.bytes.subarray(HEADER_BYTES.SEND, FRAME).every((b) => b === round)).toBe(true);
    }
    expect(new Set(t.wire.map((b) => b.list)).size).toBe(1);
  });

  it('a batch reported later keeps its bytes until it is reported, whatever is taken at once after it; then the block restarts at its front', () => {
    const t = scriptedAtOnce();
    t.atOnce(false);
    for (let i = 0; i < 4; i++) t.send(i, 0xa0);
    t.tx.flush(); // A waits
    const a = t.wire[0]!.list[0]!;
    t.atOnce(true);
    for (let round = 1; round <= 5; round++) {
      for (let i = 0; i < 4; i++) t.send(round * 4 + i, 0xb0 + round);
      t.tx.flush(); // taken at once, after A in the block
      expect(t.wire[round]!.offsets[0]).toBeGreaterThanOrEqual(4 * FRAME);
    }
    // A's chunk (a view of the block) still holds A's frames.
    expect(Buffer.from(a).equals(Buffer.from(t.wire[0]!.bytes))).toBe(true);
    t.report();
    t.send(100, 0xcc);
    t.tx.flush();
    expect(t.wire.at(-1)!.offsets).toEqual([0]);
  });

  it('batches reported later are released in the order of their reports: each one\'s bytes stay intact until its own', () => {
    const t = scriptedAtOnce();
    t.atOnce(false);
    const views: Uint8Array[] = [];
    for (let batch = 0; batch < 3; batch++) {
      for (let i = 0; i < 8; i++) t.send(batch * 8 + i, 0x10 + batch);
      t.tx.flush();
      views.push(t.wire[batch]!.list[0]!);
    }
    expect(new Set(t.wire.map((b) => b.list)).size).toBe(3); // a list a transport may still hold is never reused
    t.atOnce(true);
    let last = (): void => {};
    for (let reported = 0; reported < 3; reported++) {
      last = t.report();
      // Taken at once now, more frames go into the block: never over a batch not yet reported.
      for (let i = 0; i < 8; i++) t.send(100 + reported * 8 + i, 0xe0);
      t.tx.flush();
      for (let batch = reported + 1; batch < 3; batch++) expect(Buffer.from(views[batch]!).equals(Buffer.from(t.wire[batch]!.bytes))).toBe(true);
    }
    // A report for a batch that is not waiting is a transport's bug, never taken for another batch's.
    expect(last).toThrow(/a batch reported written that was not waiting/);
  });
});
