/** The baselines the bench measures tcpverbs against (bench/baseline-side.ts) count what they time. */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

/** Sides still running: a test that failed (a side waiting forever) must not leave them spinning. */
const running = new Set<ChildProcess>();
afterEach(() => {
  for (const proc of running) proc.kill('SIGKILL');
  running.clear();
});

/** One side: every JSON line it prints goes to `onLine`; resolves them all once it exits 0. */
function side(args: object, onLine: (line: Record<string, number>) => void = () => {}): Promise<Record<string, number>[]> {
  const proc = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, 'bench/baseline-side.ts'), JSON.stringify(args)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Record<string, number>[] = [];
  createInterface({ input: proc.stdout }).on('line', (text) => {
    const line = JSON.parse(text) as Record<string, number>;
    lines.push(line);
    onLine(line);
  });
  running.add(proc);
  return new Promise((ok, fail) => proc.once('exit', (code) => {
    running.delete(proc);
    if (code === 0) ok(lines);
    else fail(new Error(`baseline side exited ${code}`));
  }));
}

/** A raw-rc pair (the sender listens, the receiver connects); resolves the sender's last line. */
async function rawRc(base: object): Promise<Record<string, number>> {
  let announce: (port: number) => void = () => {};
  const port = new Promise<number>((ok) => { announce = ok; });
  const sender = side({ path: 'raw-rc', ...base, role: 'send' }, (line) => { if (line.port !== undefined) announce(line.port); });
  const receiver = side({ path: 'raw-rc', ...base, role: 'recv', port: await port });
  const [sent] = await Promise.all([sender, receiver]);
  return sent.at(-1)!;
}

describe('bench baselines', () => {
  it('raw-rc acknowledges the rest of what it read at the end of the I/O phase, as tcpverbs does: a window below ackEvery still completes', async () => {
    // With ACKs only at every 32nd message, a sender allowed 8 unacknowledged would wait forever.
    const result = await rawRc({ size: 64, messages: 200, window: 8, warmup: 0, ackEvery: 32 });
    expect(result.messagesTimed).toBe(200);
  }, 20_000);

  it('raw-rc: the clock starts at the first ACK past the warm-up, and the count it reports timing is what that ACK left (1 to a window fewer than warm-up and measured together)', async () => {
    // One warm-up message: the first ACK covers it and up to a window of 64 more (at the 32nd
    // message, or the rest of a read at the end of the I/O phase), so the clock starts 1..64 in.
    const result = await rawRc({ size: 64, messages: 1000, window: 64, warmup: 1, ackEvery: 32 });
    expect(result.messagesTimed).toBeGreaterThanOrEqual(1001 - 64);
    expect(result.messagesTimed).toBeLessThanOrEqual(1001 - 1);
    expect(result.seconds).toBeGreaterThan(0);
  });
});
