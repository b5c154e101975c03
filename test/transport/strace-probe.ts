/**
 * Run under strace to see the socket transport's syscalls (docs/transport.md, test/transport/strace.test.ts):
 *
 *   strace -f -ff -o /tmp/probe -s 16 -e trace=read,readv,recvfrom,write,writev,setsockopt \
 *     node --import tsx test/transport/strace-probe.ts
 *
 * One process, loopback only, stops by itself. A server socket that already consumed a 4-byte
 * "QPN" handshake in paused mode (with more bytes buffered behind it) is handed over and reads
 * into targets of cycling sizes; the client socket is handed over and sends WRITE_BATCHES batches
 * of CHUNKS_PER_BATCH chunks with writev. Markers written to fd 1 bracket the data path, and the
 * last stdout line is a JSON report of what the sink saw, to compare with strace's lines.
 */
import { writeSync } from 'node:fs';
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import { takeSocket } from '../../src/transport/socket-transport.js';

export const BEGIN_MARK = 'STRACE-PROBE-BEGIN';
export const END_MARK = 'STRACE-PROBE-END';
export const TARGET_SIZES = [1, 3, 17, 256, 4096, 65_536, 5, 1000];
export const WRITE_BATCHES = 4;
export const CHUNKS_PER_BATCH = 48;
export const CHUNK_BYTES = 1000;
const EARLY_BYTES = 100;
const DEADLINE_MS = 10_000;

export interface ProbeReport {
  readonly pid: number;
  readonly readerFd: number;
  readonly writerFd: number;
  /** (target length, bytes) of every onBytes that came from a kernel read, in order. */
  readonly kernelReads: ReadonlyArray<readonly [number, number]>;
  readonly earlyBytes: number;
  /** onBytes calls for the pre-handover bytes (copied, no syscall). */
  readonly earlyCallbacks: number;
  readonly readerCounters: unknown;
  readonly writerCounters: unknown;
  readonly intact: boolean;
}

function fdOf(socket: net.Socket): number {
  const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
  if (!Number.isInteger(fd) || fd < 0) throw new Error('probe: no fd on this platform');
  return fd;
}

async function main(): Promise<void> {
  const deadline = setTimeout(() => { console.error('probe: deadline'); process.exit(2); }, DEADLINE_MS);
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const serverSide = await accepted;

  // The application's own use of the socket: a QPN exchange, read in paused mode.
  const early = Buffer.alloc(4 + EARLY_BYTES, 0x65);
  early.write('QPN1');
  client.write(early);
  await new Promise<void>((resolve) => {
    const check = (): void => { if (serverSide.readableLength >= early.length) resolve(); else serverSide.once('readable', check); };
    check();
  });
  const qpn = serverSide.read(4) as Buffer;
  if (qpn.toString() !== 'QPN1') throw new Error('probe: handshake');

  const readerFd = fdOf(serverSide);
  const writerFd = fdOf(client);
  writeSync(1, `${BEGIN_MARK}\n`);

  const reader = takeSocket(serverSide);
  const writer = takeSocket(client);
  const total = EARLY_BYTES + WRITE_BATCHES * CHUNKS_PER_BATCH * CHUNK_BYTES;
  const received = new Uint8Array(total);
  let receivedBytes = 0;
  let lent: Uint8Array | null = null;
  let lendings = 0;
  let inStart = false;
  let earlyBytes = 0;
  let earlyCallbacks = 0;
  const kernelReads: Array<readonly [number, number]> = [];
  let allReceived = (): void => {};
  let readerClosed = (): void => {};
  const allReceivedP = new Promise<void>((resolve) => { allReceived = resolve; });
  const readerClosedP = new Promise<void>((resolve) => { readerClosed = resolve; });

  // start() delivers the pre-handover bytes synchronously, before any kernel read.
  inStart = true;
  reader.start({
    nextReadTarget() {
      const size = TARGET_SIZES[lendings++ % TARGET_SIZES.length]!;
      lent = received.subarray(receivedBytes, Math.min(total, receivedBytes + size));
      if (lent.byteLength === 0) lent = new Uint8Array(size); // everything expected arrived: a discard area
      return lent;
    },
    onBytes(count) {
      if (inStart) {
        earlyBytes += count;
        earlyCallbacks++;
      }
      else kernelReads.push([lent!.byteLength, count]);
      receivedBytes += count;
      if (receivedBytes === total) allReceived();
    },
    onClose() { readerClosed(); },
  });
  inStart = false;
  writer.start({ nextReadTarget: () => new Uint8Array(64), onBytes() {}, onClose() {} });

  const pattern = (batch: number, chunk: number) => new Uint8Array(CHUNK_BYTES).fill((batch * CHUNKS_PER_BATCH + chunk) & 0xff);
  for (let batch = 0; batch < WRITE_BATCHES; batch++) {
    const chunks = Array.from({ length: CHUNKS_PER_BATCH }, (_, chunk) => pattern(batch, chunk));
    await new Promise<void>((resolve) => writer.writev(chunks, resolve));
    await new Promise((resolve) => setTimeout(resolve, 20)); // let the reader drain between batches
  }
  await allReceivedP;
  writeSync(1, `${END_MARK}\n`);
  writer.close();
  await readerClosedP;
  server.close();
  clearTimeout(deadline);

  const expected = Buffer.concat([early.subarray(4), ...Array.from({ length: WRITE_BATCHES }, (_, batch) => Buffer.concat(Array.from({ length: CHUNKS_PER_BATCH }, (_, chunk) => pattern(batch, chunk))))]);
  const report: ProbeReport = {
    pid: process.pid,
    readerFd,
    writerFd,
    kernelReads,
    earlyBytes,
    earlyCallbacks,
    readerCounters: reader.counters,
    writerCounters: writer.counters,
    intact: Buffer.from(received).equals(expected),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

// Only when run as a script: the test imports the constants above.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
