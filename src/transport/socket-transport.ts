import net from 'node:net';
import { internalsOf, type TcpHandle } from './node-internals.js';
import { SocketTransport } from './socket-stream.js';
import type { Transport } from './types.js';

/**
 * The handover of a connected `net.Socket` to a QP (docs/transport.md): checks that the socket
 * can be taken as it is, moves its libuv TCP handle out of the socket object, and starts the
 * zero-copy stream (socket-stream.ts) on it.
 */

function noop(): void {}

/** Throws (before touching anything) if `socket` cannot be handed over as it is. */
function assertHandOverable(socket: net.Socket): TcpHandle {
  if (!(socket instanceof net.Socket)) throw new TypeError('takeSocket expects a net.Socket');
  if ((socket as { encrypted?: unknown }).encrypted === true) {
    throw new TypeError('takeSocket: TLS sockets cannot be handed over (their payload is decrypted in user space, never zero copy)');
  }
  if (socket.connecting) throw new Error('takeSocket: socket is still connecting; hand it over after "connect"');
  if (socket.destroyed) throw new Error('takeSocket: socket is destroyed (already taken, closed or failed)');
  if (socket.readyState !== 'open') throw new Error(`takeSocket: socket must be open in both directions, it is "${socket.readyState}"`);
  if (socket.readableEncoding !== null) {
    throw new Error(`takeSocket: setEncoding(${socket.readableEncoding}) was called; buffered bytes were decoded to text and cannot be recovered`);
  }
  if (socket.writableLength > 0) {
    throw new Error(`takeSocket: ${socket.writableLength} byte(s) written before the handover are not flushed yet; wait for the write callback`);
  }
  const handle = internalsOf(socket)._handle;
  if (handle === null || handle === undefined) throw new Error('takeSocket: socket has no handle');
  const kind = (handle as { constructor?: { name?: string } }).constructor?.name;
  if (kind !== 'TCP') throw new TypeError(`takeSocket: only TCP sockets can be handed over, this one is a ${kind ?? 'unknown'} handle`);
  if (typeof handle.readStop !== 'function' || typeof handle.useUserBuffer !== 'function' || typeof handle.close !== 'function') {
    throw new Error('takeSocket: this Node version\'s TCP handle lacks readStop/useUserBuffer/close');
  }
  return handle;
}
/**
 * Takes ownership of a CONNECTED TCP socket, from `net.connect` or a server's connection handler.
 *
 * The socket may have been used before (e.g. to exchange QP numbers, in paused or flowing mode):
 * bytes already read into its stream buffer are delivered to the sink first (the only bytes this
 * transport ever copies; counted in `bytesCopied`), and every later byte is read by the kernel
 * straight into the sink's targets. Writes made before the handover must have been flushed (their
 * callback ran); otherwise this throws without touching the socket.
 *
 * After the call the `socket` object is an empty shell: its listeners are removed, its handle
 * moved, and it is destroyed (a server stops counting it; `server.close()` does not wait for the
 * transport). Connection events arrive through `sink.onClose` only.
 */
export function takeSocket(socket: net.Socket): Transport {
  const handle = assertHandOverable(socket);

  // 1. Stop the kernel reads into the old stream. Pushes happen synchronously in Node's
  //    onStreamRead, so after this no byte is in flight between the kernel and the stream buffer.
  handle.reading = false;
  const stopError = handle.readStop();
  if (stopError !== 0) throw new Error(`takeSocket: readStop failed (uv error ${stopError})`);

  // 2. Silence the shell: draining below must not emit 'data' to the application, and nothing on
  //    the shell may ever throw an unhandled 'error'.
  socket.removeAllListeners();
  socket.on('error', noop);
  socket.pause();

  // 3. Detach the handle so nothing the shell does (read → _read, destroy → close) reaches the fd.
  internalsOf(socket)._handle = null;

  // 4. Take the bytes the application had not consumed yet. read() concatenates them once.
  const early: Buffer[] = [];
  for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) early.push(chunk);

  // 5. Destroy the shell. With no handle it closes nothing, and a server's connection count drops.
  socket.destroy();

  return new SocketTransport(handle, early);
}
