import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { directWrites, handleOf, internalsOf, type DirectWrites, type WriteRequest } from '../../src/transport/node-internals.js';
import { WRITTEN, reportWrite, startHandleWrite, writeBatch } from '../../src/transport/socket-write.js';
import { socketPair } from '../support/verbs-harness.js';

/** Batches of one and of three chunks, each byte numbered by its position in the stream. */
function batches(count: number): Uint8Array[][] {
  let at = 0;
  const chunk = (length: number) => Uint8Array.from({ length }, () => at++ & 0xff);
  return Array.from({ length: count }, (_, i) => (i % 2 === 0 ? [chunk(100)] : [chunk(7), chunk(3000), chunk(1)]));
}

const received = (socket: net.Socket, bytes: number): Promise<Buffer> => new Promise((resolve) => {
  const parts: Buffer[] = [];
  let total = 0;
  socket.on('data', (data: Buffer) => {
    parts.push(data);
    total += data.length;
    if (total >= bytes) resolve(Buffer.concat(parts));
  });
});

describe.each([
  ['straight to the TCP handle', directWrites],
  ['through the socket (no stream binding)', null],
])('writeBatch %s', (_, binding) => {
  it('delivers every batch in order, byte for byte, and says each is written after the call returns, in order', async () => {
    expect(directWrites, 'Node 20 offers the stream binding').not.toBeNull();
    const [client, server, stop] = await socketPair();
    try {
      const all = batches(400);
      const bytes = all.flat().reduce((sum, c) => sum + c.byteLength, 0);
      const arrived = received(server, bytes);
      const written: number[] = [];
      let inCall = false;
      let calledInside = false;
      all.forEach((chunks, i) => {
        inCall = true;
        writeBatch(client, chunks, () => { calledInside ||= inCall; written.push(i); }, (error) => { throw error; }, binding);
        inCall = false;
      });
      const data = await arrived;
      expect(data.length).toBe(bytes);
      expect(data.every((b, i) => b === (i & 0xff))).toBe(true);
      await new Promise((resolve) => setImmediate(resolve));
      expect(written).toEqual(all.map((_c, i) => i));
      expect(calledInside).toBe(false);
    } finally {
      client.destroy();
      server.destroy();
      stop();
    }
  });

  it('reports a write to a peer that reset as an error of syscall write, never as written', async () => {
    const [client, server, stop] = await socketPair();
    const errors: Error[] = [];
    client.on('error', (error) => errors.push(error));
    // As the transport keeps it, a failed write leaves the socket up; not reading, the client
    // meets the reset on its next write instead of a read.
    internalsOf(client)._readableState.autoDestroy = false;
    internalsOf(client)._writableState.autoDestroy = false;
    handleOf(client)!.readStop();
    try {
      server.resetAndDestroy();
      await new Promise((resolve) => setTimeout(resolve, 50));
      // The socket may also report the reset on its read side ('error', syscall read).
      const writeErrors = () => errors.filter((error) => (error as NodeJS.ErrnoException).syscall === 'write');
      let writtenAfterError = 0;
      for (let i = 0; i < 50 && writeErrors().length === 0; i++) {
        writeBatch(client, [new Uint8Array(65536)], () => { if (writeErrors().length > 0) writtenAfterError++; }, (error) => errors.push(error), binding);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect(writeErrors().length).toBeGreaterThan(0);
      expect(['EPIPE', 'ECONNRESET']).toContain((writeErrors()[0] as NodeJS.ErrnoException).code);
      expect(writtenAfterError).toBe(0);
    } finally {
      client.destroy();
      stop();
    }
  });
});

describe('writeBatch straight to the handle: what each write status means', () => {
  /** A handle whose writes return the given statuses in turn; 'async' completes later with `later`. */
  function fakeSocket(statuses: (number | 'async')[], later = 0) {
    const state = new Int32Array(8);
    const pending: WriteRequest[] = [];
    const binding: DirectWrites = { WriteWrap: class { handle = null as never; oncomplete = () => {}; buffer = null } as never, streamBaseState: state, kLastWriteWasAsync: 3 };
    const write = (req: WriteRequest): number => {
      const status = statuses.shift()!;
      state[3] = status === 'async' ? 1 : 0;
      if (status === 'async') pending.push(req);
      return status === 'async' ? 0 : status;
    };
    const handle = { writeBuffer: write, writev: write, readStop: () => 0, close: () => {} };
    const complete = () => { for (const req of pending.splice(0)) req.oncomplete(later); };
    return { socket: { _handle: handle } as unknown as net.Socket, binding, complete };
  }

  it('a write done at once, then one refused at once (EPIPE), in one turn: the first is reported written before the second fails, and never inside the call', async () => {
    const { socket, binding } = fakeSocket([0, -32]);
    const events: string[] = [];
    // From a macrotask, as the NIC writes (an I/O callback, an Immediate): there a nextTick would run before a microtask.
    await new Promise<void>((resolve) => setImmediate(() => {
      writeBatch(socket, [new Uint8Array(1)], () => events.push('written 1'), (e) => events.push(`error 1 ${e.message}`), binding);
      writeBatch(socket, [new Uint8Array(1)], () => events.push('written 2'), (e) => events.push(`error 2 ${(e as NodeJS.ErrnoException).code} ${(e as NodeJS.ErrnoException).syscall}`), binding);
      expect(events).toEqual([]);
      resolve();
    }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual(['written 1', 'error 2 EPIPE write']);
  });

  it('a write the kernel takes later reports when libuv completes it: written for 0, the write error for a negative status', async () => {
    for (const [later, expected] of [[0, ['written']], [-104, ['error ECONNRESET']]] as const) {
      const { socket, binding, complete } = fakeSocket(['async'], later);
      const events: string[] = [];
      writeBatch(socket, [new Uint8Array(1), new Uint8Array(2)], () => events.push('written'), (e) => events.push(`error ${(e as NodeJS.ErrnoException).code}`), binding);
      await new Promise((resolve) => setImmediate(resolve));
      expect(events).toEqual([]);
      complete();
      expect(events).toEqual(expected);
    }
  });

  it('startHandleWrite says what the write came to (in the kernel, waiting, refused); reportWrite reports the last two as writeBatch does', async () => {
    const { socket, binding, complete } = fakeSocket([0, 'async', -32]);
    expect(startHandleWrite(socket, [new Uint8Array(1)], binding)).toBe(WRITTEN);
    const waiting = startHandleWrite(socket, [new Uint8Array(1), new Uint8Array(1)], binding);
    const refused = startHandleWrite(socket, [new Uint8Array(1)], binding);
    expect(refused).toEqual({ failed: -32 });
    expect(startHandleWrite(socket, [new Uint8Array(1)], null)).toBeNull(); // no binding: the socket's Writable is the caller's way
    const events: string[] = [];
    reportWrite(waiting!, () => events.push('written'), (e) => events.push(`error ${(e as NodeJS.ErrnoException).code}`));
    reportWrite(refused!, () => events.push('refused written?'), (e) => events.push(`error ${(e as NodeJS.ErrnoException).code} ${(e as NodeJS.ErrnoException).syscall}`));
    expect(events).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual(['error EPIPE write']);
    complete();
    expect(events).toEqual(['error EPIPE write', 'written']);
  });
});
