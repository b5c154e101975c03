import net from 'node:net';
import type { TransportCloseReason, TransportSink } from '../../src/transport/types.js';

/** Fill of the guard bytes behind every lent target: a write past the target's end changes them. */
const GUARD_FILL = 0xa5;
const GUARD_BYTES = 16;

/**
 * A sink that lends a fresh target per read, of sizes cycling through `sizes`, and records what
 * landed where. It checks the transport's side of the contract as it goes and keeps the first
 * violation in `violations` (throwing would only close the transport, hiding the cause).
 */
export class RecordingSink implements TransportSink {
  readonly chunks: Uint8Array[] = [];
  readonly closes: TransportCloseReason[] = [];
  readonly violations: string[] = [];
  targetsLent = 0;
  private lent: { target: Uint8Array; guard: Uint8Array } | null = null;
  private resolveClosed: (reason: TransportCloseReason) => void = () => {};
  readonly closed: Promise<TransportCloseReason>;
  /** Runs inside onBytes, after recording (e.g. to close the transport or throw). */
  onBytesHook: ((count: number) => void) | null = null;

  constructor(private readonly sizes: readonly number[] = [4096]) {
    if (sizes.length === 0 || sizes.some((s) => !Number.isInteger(s) || s < 1)) throw new RangeError('sizes must be integers >= 1');
    this.closed = new Promise((resolve) => { this.resolveClosed = resolve; });
  }

  nextReadTarget(): Uint8Array {
    if (this.closes.length > 0) this.violations.push('nextReadTarget after onClose');
    const size = this.sizes[this.targetsLent++ % this.sizes.length]!;
    const memory = new Uint8Array(size + GUARD_BYTES).fill(GUARD_FILL);
    this.lent = { target: memory.subarray(0, size), guard: memory.subarray(size) };
    return this.lent.target;
  }

  onBytes(count: number): void {
    if (this.closes.length > 0) this.violations.push('onBytes after onClose');
    const lent = this.lent;
    this.lent = null;
    if (lent === null) this.violations.push('onBytes without a lent target');
    else {
      if (!(count > 0 && count <= lent.target.byteLength)) this.violations.push(`onBytes(${count}) for a ${lent.target.byteLength}-byte target`);
      if (lent.guard.some((b) => b !== GUARD_FILL)) this.violations.push('bytes written past the end of a target');
      this.chunks.push(lent.target.slice(0, count));
    }
    this.onBytesHook?.(count);
  }

  onClose(reason: TransportCloseReason): void {
    this.closes.push(reason);
    if (this.closes.length > 1) this.violations.push(`onClose called ${this.closes.length} times`);
    this.resolveClosed(reason);
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  byteCount(): number {
    return this.chunks.reduce((n, c) => n + c.byteLength, 0);
  }
}

/** Resolves when `condition()` holds, polling on the event loop; rejects after `ms`. */
export async function until(condition: () => boolean, ms = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const settle = (ms = 30): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export type Side = 'client' | 'server';

export interface TcpPair {
  /** The socket the test hands over: from net.connect ('client') or accepted ('server'). */
  readonly mine: net.Socket;
  /** The ordinary Node socket at the other end, collecting what it receives. */
  readonly peer: net.Socket;
  readonly server: net.Server;
  peerReceived(): Buffer;
  readonly peerEnded: Promise<void>;
  close(): Promise<void>;
}

/** A loopback connection on an ephemeral port; everything is torn down by close(). */
export async function tcpPair(side: Side): Promise<TcpPair> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect({ port, host: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  const serverSide = await accepted;
  const [mine, peer] = side === 'client' ? [client, serverSide] : [serverSide, client];
  const received: Buffer[] = [];
  peer.on('data', (chunk: Buffer) => received.push(chunk));
  peer.on('error', () => {}); // resets are part of the tests
  const peerEnded = new Promise<void>((resolve) => peer.once('close', () => resolve()));
  return {
    mine,
    peer,
    server,
    peerReceived: () => Buffer.concat(received),
    peerEnded,
    async close() {
      peer.destroy();
      if (!mine.destroyed) mine.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Waits until `socket` holds `bytes` unread bytes in its stream buffer (the pre-handover state). */
export async function bufferedInStream(socket: net.Socket, bytes: number): Promise<void> {
  await until(() => socket.readableLength >= bytes, 5_000, `${bytes} bytes buffered in the socket`);
}

/** Deterministic test payload. */
export function payload(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    bytes[i] = x & 0xff;
  }
  return bytes;
}
