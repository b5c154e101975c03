import type net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { directWrites, handleOf, type DirectWrites, type TcpHandle, type WriteRequest } from './node-internals.js';

/**
 * One batch of chunks to the kernel as one writev(2), or one write(2) for a single chunk. The
 * chunks are Uint8Array views, never copied. `onWritten` runs once the batch is in the kernel,
 * never inside this call; a failed write reaches `onWriteError` (straight to the handle) or the
 * socket's 'error' event (through its Writable), as an error whose syscall is 'write'.
 * Every batch of a socket takes the same path, so batches stay in order (`binding` is the
 * process's; null, for the tests, takes the Writable).
 */
export function writeBatch(socket: net.Socket, chunks: readonly Uint8Array[], onWritten: () => void, onWriteError: (error: Error) => void, binding: DirectWrites | null = directWrites): void {
  const started = startHandleWrite(socket, chunks, binding);
  if (started !== null) reportWrite(started, onWritten, onWriteError);
  else writeThroughSocket(socket, chunks, onWritten);
}

/** What a write straight to the handle came to: in the kernel already, waiting in libuv, or refused. */
export type HandleWrite = typeof WRITTEN | WriteRequest | { readonly failed: number };

/** The batch was in the kernel when the write returned: no completion follows. */
export const WRITTEN = 'written';

/**
 * Starts a batch straight to the TCP handle, as net.Socket's own _write does underneath its
 * Writable: libuv queues it behind any write still pending, and socket.end()'s shutdown waits
 * for that queue. A pending write's request is returned for the caller to set `oncomplete` on:
 * libuv reports it from the event loop, never inside this call. Null when the handle cannot be
 * written directly (the caller writes through the socket then).
 */
export function startHandleWrite(socket: net.Socket, chunks: readonly Uint8Array[], binding: DirectWrites | null = directWrites): HandleWrite | null {
  const handle = handleOf(socket);
  if (binding === null || handle?.writeBuffer === undefined || handle.writev === undefined) return null;
  return startWrite(binding, handle, chunks);
}

function startWrite(binding: DirectWrites, handle: TcpHandle, chunks: readonly Uint8Array[]): HandleWrite {
  const req = new binding.WriteWrap();
  req.handle = handle;
  req.buffer = chunks;
  const status = chunks.length === 1 ? handle.writeBuffer!(req, chunks[0]!) : handle.writev!(req, chunks, true);
  if (status < 0) return { failed: status };
  return binding.streamBaseState[binding.kLastWriteWasAsync] === 0 ? WRITTEN : req;
}

/**
 * Reports what a started write came to, never inside the call that started it: written at once
 * or refused at once, in a microtask (the same queue, so an earlier batch's onWritten is never
 * overtaken); waiting in libuv, when libuv completes it.
 */
export function reportWrite(started: HandleWrite, onWritten: () => void, onWriteError: (error: Error) => void): void {
  if (started === WRITTEN) queueMicrotask(onWritten);
  else if ('failed' in started) queueMicrotask(() => onWriteError(writeError(started.failed)));
  else {
    started.oncomplete = (status: number) => {
      started.buffer = null;
      if (status < 0) onWriteError(writeError(status));
      else onWritten();
    };
  }
}

function writeError(status: number): Error {
  let name: string;
  try {
    name = getSystemErrorName(status);
  } catch {
    name = `errno ${status}`;
  }
  return Object.assign(new Error(`write ${name}`), { errno: status, code: name, syscall: 'write' });
}

/** Through the socket's Writable, where the binding is not offered. */
function writeThroughSocket(socket: net.Socket, chunks: readonly Uint8Array[], onWritten: () => void): void {
  const last = chunks.length - 1;
  const done = (error?: Error | null): void => {
    if (!error) onWritten();
  };
  if (last === 0) {
    // One chunk (a run of small frames) is one write(2) without the cork: Node's corked path
    // buffers it and builds a writev of one (~1.5 µs of JavaScript per batch on the send path).
    socket.write(chunks[0]!, done);
    return;
  }
  // Corked writes are buffered and handed to _writev together at uncork(): one writev(2).
  socket.cork();
  try {
    chunks.forEach((chunk, i) => {
      // Node wraps a non-Buffer Uint8Array in a Buffer view of the same memory (no copy). The
      // last chunk's callback runs after the whole batch is in the kernel; on failure it gets
      // an error, and 'error' → onClose reports it instead of onWritten.
      socket.write(chunk, i === last ? done : undefined);
    });
  } finally {
    socket.uncork();
  }
}
