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
}

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
