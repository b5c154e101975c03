import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { NIC_LIMITS } from '../../src/abi/limits.js';

const MAX_BATCH_CHUNKS = NIC_LIMITS.maxBatchChunks;
import { takeSocket } from '../../src/transport/socket-transport.js';
import type { Transport } from '../../src/transport/types.js';
import { RecordingSink, bufferedInStream, payload, settle, tcpPair, until, within, type Side, type TcpPair } from './helpers.js';

const SIDES: readonly Side[] = ['client', 'server'];

const open: { pairs: TcpPair[]; transports: Transport[] } = { pairs: [], transports: [] };

async function pair(side: Side): Promise<TcpPair> {
  const p = await tcpPair(side);
  open.pairs.push(p);
  return p;
}

function take(socket: net.Socket): Transport {
  const t = takeSocket(socket);
  open.transports.push(t);
  return t;
}

afterEach(async () => {
  for (const t of open.transports.splice(0)) t.close();
  await Promise.all(open.pairs.splice(0).map((p) => p.close()));
});

/** Writes on the plain peer socket and resolves once the kernel took the bytes. */
function peerWrite(p: TcpPair, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => p.peer.write(bytes, (error) => (error ? reject(error) : resolve())));
}

describe.each(SIDES)('takeSocket on a %s socket (real loopback TCP)', (side) => {
  it('delivers bytes intact and in order into the targets the sink chooses, buffered pre-handover bytes first', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 2000 }),
        fc.array(fc.integer({ min: 0, max: 40_000 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        async (targetSizes, earlyLength, writeLengths, seed) => {
          const p = await pair(side);
          // The application's own use: a 4-byte QPN exchange read in paused mode, with the
          // peer's first bytes already buffered behind it in the Node stream.
          const early = payload(4 + earlyLength, seed);
          await peerWrite(p, early);
          await bufferedInStream(p.mine, early.length);
          expect((p.mine.read(4) as Buffer).equals(early.subarray(0, 4))).toBe(true);
          expect(p.mine.readableLength).toBe(earlyLength);

          const transport = take(p.mine);
          const sink = new RecordingSink(targetSizes);
          transport.start(sink);
          const later = writeLengths.map((n, i) => payload(n, seed + i + 1));
          for (const bytes of later) await peerWrite(p, bytes);
          p.peer.end();
          expect(await within(sink.closed, 5_000, 'peer-closed')).toEqual({ kind: 'peer-closed' });

          const expected = Buffer.concat([early.subarray(4), ...later]);
          expect(sink.violations).toEqual([]);
          expect(sink.bytes().equals(expected)).toBe(true);
          expect(transport.counters.bytesRead).toBe(expected.length);
          expect(transport.counters.readCallbacks).toBe(sink.chunks.length);
          // Only the pre-handover bytes were copied in user space.
          expect(transport.counters.bytesCopied).toBe(earlyLength);
          expect(transport.closed).toBe(true);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('keeps bytes buffered after the application read in flowing mode and paused', async () => {
    const p = await pair(side);
    const firstChunk = new Promise<Buffer>((resolve) => p.mine.once('data', (chunk: Buffer) => { p.mine.pause(); resolve(chunk); }));
    await peerWrite(p, Buffer.from('QPN7'));
    expect((await firstChunk).toString()).toBe('QPN7');
    const buffered = payload(5000, 3);
    await peerWrite(p, buffered);
    await bufferedInStream(p.mine, buffered.length); // paused: bytes wait in the stream

    const transport = take(p.mine);
    const sink = new RecordingSink([333]);
    transport.start(sink);
    expect(transport.counters.bytesCopied).toBe(buffered.length);
    const later = payload(70_000, 4);
    await peerWrite(p, later);
    await until(() => sink.byteCount() === buffered.length + later.length);
    expect(sink.bytes().equals(Buffer.concat([buffered, later]))).toBe(true);
    expect(transport.counters.bytesCopied).toBe(buffered.length);
    expect(sink.violations).toEqual([]);
  });

  it('delivers bytes and then peer-closed when the peer sent FIN before the handover', async () => {
    const p = await pair(side);
    const early = payload(777, 9);
    p.peer.end(early);
    // EOF already read by Node into the (paused) stream, not yet consumed.
    await until(() => (p.mine as unknown as { _readableState: { ended: boolean } })._readableState.ended, 5_000, 'EOF in stream');
    expect(p.mine.readableLength).toBe(early.length);
    const transport = take(p.mine);
    const sink = new RecordingSink([100]);
    transport.start(sink);
    expect(await within(sink.closed, 5_000, 'peer-closed')).toEqual({ kind: 'peer-closed' });
    expect(sink.bytes().equals(Buffer.from(early))).toBe(true);
    expect(sink.violations).toEqual([]);
  });

  it('sends a writev of many chunks as one batch, without copying, and runs onWritten once', async () => {
    const p = await pair(side);
    const transport = take(p.mine);
    transport.start(new RecordingSink());
    const chunks = Array.from({ length: 200 }, (_, i) => payload(1 + (i % 50) * 37, i + 1));
    let written = 0;
    transport.writev(chunks, () => written++);
    const expected = Buffer.concat(chunks);
    await until(() => p.peerReceived().length === expected.length);
    await until(() => written === 1);
    expect(p.peerReceived().equals(expected)).toBe(true);
    expect(transport.counters).toEqual({ writeBatches: 1, readCallbacks: 0, bytesWritten: expected.length, bytesRead: 0, bytesCopied: 0 });
    await settle(10);
    expect(written).toBe(1);
  });

  it('counts one batch per writev, skips empty chunks, and runs onWritten callbacks in order', async () => {
    const p = await pair(side);
    const transport = take(p.mine);
    transport.start(new RecordingSink());
    const order: number[] = [];
    transport.writev([Buffer.from('ab'), new Uint8Array(0), Buffer.from('c')], () => order.push(1));
    transport.writev([Buffer.from('d')], () => order.push(2));
    transport.writev([], () => order.push(3)); // empty batch: no bytes, no batch, still acknowledged
    transport.writev([new Uint8Array(0)]);
    await until(() => order.length === 3);
    expect(order).toEqual([1, 2, 3]);
    await until(() => p.peerReceived().toString() === 'abcd');
    expect(transport.counters.writeBatches).toBe(2);
    expect(transport.counters.bytesWritten).toBe(4);
  });

  it('refuses a batch above the IOV_MAX chunk limit', async () => {
    const p = await pair(side);
    const transport = take(p.mine);
    transport.start(new RecordingSink());
    expect(() => transport.writev(Array.from({ length: MAX_BATCH_CHUNKS + 1 }, () => new Uint8Array(1)))).toThrow(RangeError);
    expect(transport.closed).toBe(false);
  });

  it('reports an orderly peer close exactly once, as peer-closed', async () => {
    const p = await pair(side);
    const transport = take(p.mine);
    const sink = new RecordingSink();
    transport.start(sink);
    p.peer.end();
    expect(await within(sink.closed, 5_000, 'onClose')).toEqual({ kind: 'peer-closed' });
    await settle();
    expect(sink.closes).toHaveLength(1);
    expect(transport.closed).toBe(true);
  });

  it('reports a peer reset exactly once, as an error', async () => {
    const p = await pair(side);
    const transport = take(p.mine);
    const sink = new RecordingSink();
    transport.start(sink);
    p.peer.resetAndDestroy();
    const reason = await within(sink.closed, 5_000, 'onClose');
    expect(reason.kind).toBe('error');
    expect(reason.kind === 'error' && reason.message).toMatch(/ECONNRESET/);
    await settle();
    expect(sink.closes).toHaveLength(1);
    expect(sink.violations).toEqual([]);
  });

  it('half-closes: a FIN after what was written, reading goes on until the peer FIN, then local; no RST', async () => {
    const p = await pair(side);
    const transport = take(p.mine);
    const sink = new RecordingSink();
    const peerErrors: Error[] = [];
    p.peer.on('error', (error) => peerErrors.push(error));
    // The peer answers our last words once it has them, before its own FIN (it is not half-open).
    p.peer.once('data', () => p.peer.write(Buffer.from('late bytes')));
    transport.start(sink);
    transport.writev([Buffer.from('last words')]);
    transport.shutdown();
    let written = false;
    transport.writev([Buffer.from('after the FIN')], () => { written = true; }); // dropped: nothing follows a FIN
    expect(await within(sink.closed, 5_000, 'onClose')).toEqual({ kind: 'local' });
    await within(p.peerEnded, 5_000, 'peer sees the FIN');
    expect(p.peerReceived().toString()).toBe('last words');
    expect(sink.bytes().toString()).toBe('late bytes');
    expect(written).toBe(false);
    expect(peerErrors).toEqual([]);
    expect(sink.violations).toEqual([]);
  });

  it('reports a local close exactly once, as local, after which nothing reaches the sink', async () => {
    const p = await pair(side);
    const transport = take(p.mine);
    const sink = new RecordingSink();
    transport.start(sink);
    transport.close();
    expect(transport.closed).toBe(true);
    expect(sink.closes).toHaveLength(0); // never from inside close()
    transport.close();
    let written = false;
    transport.writev([Buffer.from('late')], () => { written = true; }); // dropped, no throw
    expect(await within(sink.closed, 5_000, 'onClose')).toEqual({ kind: 'local' });
    await within(p.peerEnded, 5_000, 'peer sees the close');
    await peerWrite(p, Buffer.from('x')).catch(() => {});
    await settle();
    expect(sink.closes).toHaveLength(1);
    expect(written).toBe(false);
    expect(transport.counters.writeBatches).toBe(0);
    expect(sink.violations).toEqual([]);
  });

  it('stops delivering at once when the sink closes the transport from onBytes', async () => {
    const p = await pair(side);
    const transport = take(p.mine);
    const sink = new RecordingSink([1]);
    sink.onBytesHook = () => transport.close();
    transport.start(sink);
    await peerWrite(p, payload(10_000, 5));
    expect(await within(sink.closed, 5_000, 'onClose')).toEqual({ kind: 'local' });
    expect(sink.chunks).toHaveLength(1);
    expect(sink.violations).toEqual([]);
  });

  it('closes with an error, not a crash, when the sink throws in onBytes', async () => {
    const p = await pair(side);
    const transport = take(p.mine);
    const sink = new RecordingSink();
    sink.onBytesHook = () => { throw new Error('NIC bug'); };
    transport.start(sink);
    await peerWrite(p, Buffer.from('hello'));
    expect(await within(sink.closed, 5_000, 'onClose')).toEqual({ kind: 'error', message: 'sink.onBytes threw: NIC bug' });
    await within(p.peerEnded, 5_000, 'peer sees the close');
  });

  it('closes with an error when the sink lends an empty target (read() would return 0, i.e. EOF)', async () => {
    const p = await pair(side);
    const transport = take(p.mine);
    const sink = new RecordingSink();
    let lent = 0;
    transport.start({
      nextReadTarget: () => (lent++ === 0 ? new Uint8Array(8) : new Uint8Array(0)),
      onBytes: (n) => sink.onBytes(n),
      onClose: (r) => sink.onClose(r),
    });
    await peerWrite(p, Buffer.from('0123456789'));
    expect(await within(sink.closed, 5_000, 'onClose')).toEqual({ kind: 'error', message: 'sink.nextReadTarget returned an empty target' });
  });

  it('closes with an error when nextReadTarget throws on its very first call (inside start)', async () => {
    const p = await pair(side);
    const transport = take(p.mine);
    const sink = new RecordingSink();
    transport.start({ nextReadTarget: () => { throw new Error('no buffers'); }, onBytes: () => {}, onClose: (r) => sink.onClose(r) });
    expect(await within(sink.closed, 5_000, 'onClose')).toEqual({ kind: 'error', message: 'sink.nextReadTarget threw: no buffers' });
    await within(p.peerEnded, 5_000, 'peer sees the close');
  });

  it('closes with an error when onWritten throws', async () => {
    const p = await pair(side);
    const transport = take(p.mine);
    const sink = new RecordingSink();
    transport.start(sink);
    transport.writev([Buffer.from('x')], () => { throw new Error('completion bug'); });
    expect(await within(sink.closed, 5_000, 'onClose')).toEqual({ kind: 'error', message: 'onWritten threw: completion bug' });
  });

  it('turns a throwing onClose into a process warning instead of an uncaught exception', async () => {
    const p = await pair(side);
    const transport = take(p.mine);
    const warning = once(process, 'warning');
    transport.start({ nextReadTarget: () => new Uint8Array(16), onBytes: () => {}, onClose: () => { throw new Error('teardown bug'); } });
    transport.close();
    const [w] = (await within(warning, 5_000, 'warning')) as [Error];
    expect(w.message).toMatch(/sink\.onClose threw: teardown bug/);
  });

  it('sends batches written before start once started, and delivers close-before-start as local', async () => {
    const p = await pair(side);
    const early = take(p.mine);
    let written = 0;
    early.writev([Buffer.from('queued ')], () => written++);
    early.writev([Buffer.from('before '), Buffer.from('start')], () => written++);
    const sink = new RecordingSink();
    early.start(sink);
    await until(() => p.peerReceived().toString() === 'queued before start' && written === 2);

    const q = await pair(side);
    const closedEarly = take(q.mine);
    closedEarly.close();
    await within(q.peerEnded, 5_000, 'peer sees the close');
    const lateSink = new RecordingSink();
    closedEarly.start(lateSink);
    expect(lateSink.closes).toHaveLength(0);
    expect(await within(lateSink.closed, 5_000, 'onClose')).toEqual({ kind: 'local' });
    expect(lateSink.targetsLent).toBe(0);
  });

  it('leaves bytes that arrive between takeSocket and start in the kernel, and reads them after the early ones', async () => {
    const p = await pair(side);
    await peerWrite(p, Buffer.from('early|'));
    await bufferedInStream(p.mine, 6);
    const transport = take(p.mine);
    await peerWrite(p, Buffer.from('parked|'));
    await settle(20); // nobody reads the parked handle
    const sink = new RecordingSink([4]);
    transport.start(sink);
    await peerWrite(p, Buffer.from('started'));
    await until(() => sink.bytes().toString() === 'early|parked|started');
    expect(transport.counters.bytesCopied).toBe(6);
  });

  it('rejects a second start', async () => {
    const p = await pair(side);
    const transport = take(p.mine);
    transport.start(new RecordingSink());
    expect(() => transport.start(new RecordingSink())).toThrow(/twice/);
  });

  it('leaves the old socket object an inert, destroyed shell', async () => {
    const p = await pair(side);
    let shellEvents = 0;
    p.mine.on('close', () => shellEvents++);
    p.mine.on('data', () => shellEvents++);
    const transport = take(p.mine);
    expect(p.mine.destroyed).toBe(true);
    expect(() => takeSocket(p.mine)).toThrow(/destroyed/);
    const sink = new RecordingSink();
    transport.start(sink);
    await peerWrite(p, Buffer.from('still alive'));
    await until(() => sink.bytes().toString() === 'still alive');
    expect(shellEvents).toBe(0);
  });
});

describe('takeSocket refuses sockets it cannot own, without touching them', () => {
  it('refuses a socket that is still connecting', async () => {
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    socket.on('error', () => {});
    try {
      expect(() => takeSocket(socket)).toThrow(/still connecting/);
    } finally {
      socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('refuses a socket with setEncoding, with unflushed writes, or half-closed; the socket keeps working', async () => {
    const encoded = await pair('client');
    encoded.mine.setEncoding('utf8');
    expect(() => takeSocket(encoded.mine)).toThrow(/setEncoding/);

    const halfClosed = await pair('server');
    halfClosed.mine.end();
    expect(() => takeSocket(halfClosed.mine)).toThrow(/open in both directions/);

    const blocked = await pair('client');
    blocked.peer.pause(); // the peer stops reading: the kernel buffers fill up
    (blocked.peer as net.Socket).removeAllListeners('data');
    const big = new Uint8Array(32 * 1024 * 1024);
    blocked.mine.write(big);
    expect(blocked.mine.writableLength).toBeGreaterThan(0);
    expect(() => takeSocket(blocked.mine)).toThrow(/not flushed yet/);
    expect(blocked.mine.destroyed).toBe(false);
    // Still an ordinary socket: the peer reads, the write completes, and the handover succeeds.
    blocked.peer.resume();
    await until(() => blocked.mine.writableLength === 0, 10_000, 'write flushed');
    const transport = take(blocked.mine);
    const sink = new RecordingSink();
    transport.start(sink);
    blocked.peer.write('after');
    await until(() => sink.bytes().toString() === 'after');
  });

  it('refuses a non-TCP (Unix domain) socket', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tcpverbs-'));
    const path = join(dir, 'sock');
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const accepted = once(server, 'connection');
    const client = net.connect(path);
    await once(client, 'connect');
    const [serverSide] = (await accepted) as [net.Socket];
    try {
      expect(() => takeSocket(client)).toThrow(/only TCP sockets/);
      expect(client.destroyed).toBe(false);
    } finally {
      client.destroy();
      serverSide.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lets server.close() complete while the handed-over connection lives on (documented caveat)', async () => {
    const p = await pair('server');
    const transport = take(p.mine);
    const sink = new RecordingSink();
    transport.start(sink);
    await within(new Promise<void>((resolve) => p.server.close(() => resolve())), 5_000, 'server.close');
    await peerWrite(p, Buffer.from('alive'));
    await until(() => sink.bytes().toString() === 'alive');
    p.server.listen(0, '127.0.0.1'); // so the shared cleanup can close it again
    await once(p.server, 'listening');
  });
});
