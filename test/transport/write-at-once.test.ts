import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NIC_LIMITS } from '../../src/abi/limits.js';
import { takeSocket } from '../../src/transport/socket-transport.js';
import type { Transport } from '../../src/transport/types.js';
import { RecordingSink, payload, settle, tcpPair, until, type TcpPair } from './helpers.js';

const open: { pairs: TcpPair[]; transports: Transport[] } = { pairs: [], transports: [] };

async function started(): Promise<{ p: TcpPair; transport: Transport & { writevAtOnce: NonNullable<Transport['writevAtOnce']> } }> {
  const p = await tcpPair('client');
  open.pairs.push(p);
  const transport = takeSocket(p.mine as net.Socket);
  open.transports.push(transport);
  transport.start(new RecordingSink());
  if (transport.writevAtOnce === undefined) throw new Error('the socket transport offers writevAtOnce');
  return { p, transport: transport as Transport & { writevAtOnce: NonNullable<Transport['writevAtOnce']> } };
}

afterEach(async () => {
  for (const t of open.transports.splice(0)) t.close();
  await Promise.all(open.pairs.splice(0).map((p) => p.close()));
});

describe('writevAtOnce: a batch the kernel takes inside the call is reported by the return', () => {
  it('an idle socket takes a small batch at once: true, onWritten never runs, the bytes arrive whole, one batch counted', async () => {
    const { p, transport } = await started();
    const chunks = [payload(100, 1), payload(2000, 2), payload(7, 3)];
    let called = 0;
    expect(transport.writevAtOnce(chunks, () => called++)).toBe(true);
    const expected = Buffer.concat(chunks);
    await until(() => p.peerReceived().length === expected.length);
    expect(p.peerReceived().equals(expected)).toBe(true);
    await settle(10);
    expect(called).toBe(0);
    expect(transport.counters.writeBatches).toBe(1);
    expect(transport.counters.bytesWritten).toBe(expected.length);
  });

  it('behind a writev not yet reported it returns false, and its onWritten runs after the earlier one', async () => {
    const { p, transport } = await started();
    const order: string[] = [];
    transport.writev([Buffer.from('first ')], () => order.push('writev'));
    expect(transport.writevAtOnce([Buffer.from('second')], () => order.push('at once'))).toBe(false);
    await until(() => order.length === 2);
    expect(order).toEqual(['writev', 'at once']);
    await until(() => p.peerReceived().toString() === 'first second');
  });

  it('a batch the kernel cannot take at once (the peer stops reading) returns false; it and those behind it are reported once written, in order, with every byte', async () => {
    const { p, transport } = await started();
    p.peer.pause();
    const sent: Uint8Array[] = [];
    const reported: number[] = [];
    const results: boolean[] = [];
    // Enough to fill both socket buffers on loopback: the first batches go at once, then one waits.
    for (let i = 0; i < 48; i++) {
      const chunk = payload(256 * 1024, i + 1);
      sent.push(chunk);
      results.push(transport.writevAtOnce([chunk], () => reported.push(i)));
    }
    const firstPending = results.indexOf(false);
    expect(firstPending).toBeGreaterThan(0);
    // Once one waits, none behind it may be reported by the return.
    expect(results.slice(firstPending).every((r) => r === false)).toBe(true);
    p.peer.resume();
    const total = sent.reduce((n, c) => n + c.byteLength, 0);
    await until(() => p.peerReceived().length === total, 20_000, 'every byte at the peer');
    await until(() => reported.length === sent.length - firstPending, 5_000, 'every pending batch reported');
    expect(reported).toEqual(Array.from({ length: sent.length - firstPending }, (_, k) => firstPending + k));
    expect(p.peerReceived().equals(Buffer.concat(sent))).toBe(true);
    // The socket is idle again: the next batch is taken at once.
    expect(transport.writevAtOnce([Buffer.from('after')], () => reported.push(-1))).toBe(true);
  });

  it('an empty batch, or one with an empty chunk, goes through writev: false, and the onWritten callbacks run in order (an empty batch with nothing in front no longer overtakes the batch after it)', async () => {
    const { p, transport } = await started();
    const order: number[] = [];
    expect(transport.writevAtOnce([], () => order.push(1))).toBe(false);
    expect(transport.writevAtOnce([Buffer.from('ab'), new Uint8Array(0), Buffer.from('c')], () => order.push(2))).toBe(false);
    await until(() => order.length === 2);
    expect(order).toEqual([1, 2]);
    await until(() => p.peerReceived().toString() === 'abc');
  });

  it('an empty batch not yet reported is a batch in front: a batch after it is not reported by the return, and comes after it (found by review)', async () => {
    const { p, transport } = await started();
    const order: string[] = [];
    transport.writev([], () => order.push('empty'));
    expect(transport.writevAtOnce([Buffer.from('x')], () => order.push('x'))).toBe(false);
    await until(() => order.length === 2);
    expect(order).toEqual(['empty', 'x']);
    await until(() => p.peerReceived().toString() === 'x');
  });

  it('a batch written from inside a report is not reported by the return while batches written before it still wait (found by review)', async () => {
    const { transport } = await started();
    const order: string[] = [];
    let atOnce: boolean | null = null;
    transport.writev([Buffer.from('a')], () => {
      order.push('a');
      atOnce = transport.writevAtOnce([Buffer.from('c')], () => order.push('c'));
    });
    transport.writev([], () => order.push('e'));
    await until(() => order.length === 3);
    expect(atOnce).toBe(false);
    expect(order).toEqual(['a', 'e', 'c']);
  });

  it('a closed transport takes nothing: false, and onWritten never runs', async () => {
    const { transport } = await started();
    transport.close();
    let called = 0;
    expect(transport.writevAtOnce([Buffer.from('late')], () => called++)).toBe(false);
    await settle(20);
    expect(called).toBe(0);
    expect(transport.counters.writeBatches).toBe(0);
  });

  it('refuses what writev refuses: a chunk that is not a Uint8Array (TypeError), more chunks than IOV_MAX (RangeError)', async () => {
    const { transport } = await started();
    expect(() => transport.writevAtOnce([Buffer.from('a'), 'b' as unknown as Uint8Array], () => {})).toThrow(TypeError);
    expect(() => transport.writevAtOnce(Array.from({ length: NIC_LIMITS.maxBatchChunks + 1 }, () => new Uint8Array(1)), () => {})).toThrow(RangeError);
    expect(transport.closed).toBe(false);
    expect(transport.counters.writeBatches).toBe(0);
  });
});
