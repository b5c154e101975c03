import type net from 'node:net';

/**
 * The private parts of Node's sockets the zero-copy transport relies on, in one place: the TCP
 * handle (src/tcp_wrap.cc) and the socket fields around it (stable since Node 12). Everything
 * else in transport/ goes through the public net API.
 */

/** The parts of Node's private TCP handle the handover and the stream use. */
export interface TcpHandle {
  reading?: boolean;
  readStop(): number;
  readStart?(): number;
  close(callback?: () => void): void;
  /** Lends a buffer to the next read (what `onread` sets up for every read). */
  useUserBuffer?: (buffer: Uint8Array) => void;
  readonly fd?: number;
  /** StreamBase::WriteBuffer: 0, or a negative errno; the write may complete later (see directWrites). */
  writeBuffer?: (req: WriteRequest, chunk: Uint8Array) => number;
  /** StreamBase::Writev with every chunk a buffer (allBuffers). */
  writev?: (req: WriteRequest, chunks: readonly Uint8Array[], allBuffers: true) => number;
}

/** Node's WriteWrap as the stream writes it (lib/internal/stream_base_commons.js). */
export interface WriteRequest {
  handle: TcpHandle;
  /** Called (asynchronous writes only) with 0 or a negative errno. */
  oncomplete: (status: number) => void;
  /** Keeps the chunks reachable while libuv holds pointers into them. */
  buffer: readonly Uint8Array[] | null;
}

/**
 * The write side of Node's stream binding, for writing to a TCP handle without the Writable
 * around it (its buffering, callbacks and ticks per write: measured 1 % of the 64-byte and 4 % of
 * the 4 KiB message rate).
 * `kLastWriteWasAsync` in `streamBaseState` tells whether the last write completed at once or
 * will call `oncomplete`. Null where the binding is not offered: the socket's own write is used.
 */
export interface DirectWrites {
  readonly WriteWrap: new () => WriteRequest;
  readonly streamBaseState: Int32Array;
  readonly kLastWriteWasAsync: number;
}

function loadDirectWrites(): DirectWrites | null {
  try {
    const binding = (process as unknown as { binding(name: string): Partial<DirectWrites> }).binding('stream_wrap');
    const { WriteWrap, streamBaseState, kLastWriteWasAsync } = binding;
    if (typeof WriteWrap !== 'function' || !(streamBaseState instanceof Int32Array) || typeof kLastWriteWasAsync !== 'number') return null;
    return { WriteWrap, streamBaseState, kLastWriteWasAsync };
  } catch {
    return null;
  }
}

export const directWrites: DirectWrites | null = loadDirectWrites();

/** Private net.Socket fields the handover reads and writes. */
export interface SocketInternals {
  _handle: TcpHandle | null;
  _readableState: { autoDestroy: boolean };
  _writableState: { autoDestroy: boolean };
}

/** `handle` is the private option net.Server itself passes for accepted connections. */
export type WrapOptions = net.SocketConstructorOpts & { handle: TcpHandle; onread: net.OnReadOpts };

export const internalsOf = (socket: net.Socket): SocketInternals => socket as unknown as SocketInternals;

/** The socket's TCP handle, or null once it is closed (or was never there). */
export const handleOf = (socket: net.Socket | null): TcpHandle | null => (socket === null ? null : internalsOf(socket)._handle ?? null);
