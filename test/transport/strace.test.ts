import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { BEGIN_MARK, CHUNKS_PER_BATCH, CHUNK_BYTES, END_MARK, WRITE_BATCHES, type ProbeReport } from './strace-probe.js';

/**
 * The zero-copy claim checked at the syscall level: every onBytes the sink saw after the handover
 * is exactly one read(2) on the socket, whose requested length is the length of the target the
 * sink lent and whose buffer address is that target's (the probe lends consecutive slices of one
 * arena, so each read's address is the previous one plus the bytes it returned); every writev()
 * batch is one writev(2) with one iovec per chunk.
 * Needs strace and ptrace permission; skipped (with the reason in its name) where missing.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const PROBE = join(ROOT, 'test/transport/strace-probe.ts');

function straceUsable(): string | null {
  const probe = spawnSync('strace', ['-o', '/dev/null', 'true'], { encoding: 'utf8' });
  if (probe.error) return 'strace not installed';
  if (probe.status !== 0) return `strace cannot trace here: ${probe.stderr.trim().split('\n')[0]}`;
  return null;
}

const unusable = straceUsable();

/** With `-e raw=read`: `read(0x1a, 0x1ae8c5a4, 0x1000) = 0x1000`, or `= -1 EAGAIN (...)`. */
const READ = /^read\((0x[0-9a-f]+), (0x[0-9a-f]+), (0x[0-9a-f]+)\)\s+=\s+(0x[0-9a-f]+|-?\d+)/;
/** Any other way to receive on a socket. */
const OTHER_RECEIVE = /^(readv|recvfrom|recvmsg)\((\d+),/;
const int = (text: string): number => (text.startsWith('0x') ? Number.parseInt(text, 16) : Number(text));
/** `writev(27, [{iov_base=..., iov_len=1000}, ...], 48) = 48000` */
const WRITEV = /^writev\((\d+), \[.*\], (\d+)\)\s+=\s+(-?\d+)/;
const WRITE = /^(write|sendto|sendmsg)\((\d+), /;
const NODELAY = /^setsockopt\((\d+), SOL_TCP, TCP_NODELAY, \[1\], 4\)\s+=\s+0/;

describe.skipIf(unusable !== null)(`strace evidence${unusable ? ` (skipped: ${unusable})` : ''}`, () => {
  it('reads land in the lent targets with their exact lengths; one writev(2) per batch; TCP_NODELAY set', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tcpverbs-strace-'));
    try {
      const prefix = join(dir, 'trace');
      const { stdout } = await promisify(execFile)(
        'strace',
        ['-f', '-ff', '-o', prefix, '-s', '16', '-e', 'trace=read,readv,recvfrom,recvmsg,write,writev,sendto,sendmsg,setsockopt', '-e', 'raw=read', process.execPath, '--import', 'tsx', PROBE],
        { cwd: ROOT, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      );
      const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as ProbeReport;
      expect(report.intact).toBe(true);
      expect(report.earlyBytes).toBe(100);

      // -ff writes one file per thread; the event loop runs on the main thread (tid = pid).
      const lines = (await readFile(`${prefix}.${report.pid}`, 'utf8')).split('\n');
      const begin = lines.findIndex((l) => l.startsWith('write(1, ') && l.includes(BEGIN_MARK.slice(0, 16)));
      const end = lines.findIndex((l) => l.startsWith('write(1, ') && l.includes(END_MARK.slice(0, 16)));
      expect(begin).toBeGreaterThan(0);
      expect(end).toBeGreaterThan(begin);
      const window = lines.slice(begin + 1, end);

      const reads = window
        .map((l) => READ.exec(l))
        .filter((m) => m !== null && int(m[1]!) === report.readerFd)
        .map((m) => ({ address: int(m![2]!), length: int(m![3]!), result: int(m![4]!) }));
      expect(window.some((l) => Number(OTHER_RECEIVE.exec(l)?.[2]) === report.readerFd)).toBe(false);
      expect(report.kernelReads.length).toBeGreaterThan(10);
      const withData = reads.filter((r) => r.result > 0);
      expect(withData.map((r) => [r.length, r.result])).toEqual(report.kernelReads);
      // The kernel filled the arena in place: each read starts where the previous one ended.
      for (let i = 1; i < withData.length; i++) expect(withData[i]!.address - withData[i - 1]!.address).toBe(withData[i - 1]!.result);
      // EAGAIN probes ask for the current target too: every requested length is a lent size.
      const lentSizes = new Set(report.kernelReads.map(([len]) => len));
      for (const r of reads) expect(lentSizes.has(r.length) || r.result < 0).toBe(true);

      const writevs = window.map((l) => WRITEV.exec(l)).filter((m) => m !== null && Number(m[1]) === report.writerFd) as RegExpExecArray[];
      const fullBatches = writevs.filter((m) => Number(m[2]) === CHUNKS_PER_BATCH);
      expect(fullBatches).toHaveLength(WRITE_BATCHES);
      expect(writevs.reduce((n, m) => n + Number(m[3]), 0)).toBe(WRITE_BATCHES * CHUNKS_PER_BATCH * CHUNK_BYTES);
      expect(window.some((l) => WRITE.exec(l) !== null && Number(l.match(/\((\d+),/)?.[1]) === report.writerFd)).toBe(false);

      const nodelay = window.map((l) => NODELAY.exec(l)?.[1]).filter((fd) => fd !== undefined).map(Number);
      expect(nodelay).toEqual(expect.arrayContaining([report.readerFd, report.writerFd]));
      expect(report.readerCounters).toMatchObject({ bytesCopied: 100, readCallbacks: report.kernelReads.length + report.earlyCallbacks });
      expect(report.writerCounters).toMatchObject({ writeBatches: WRITE_BATCHES, bytesCopied: 0 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
