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

describe('bench baselines', () => {
  it('raw-rc acknowledges the rest of what it read at the end of the I/O phase, as tcpverbs does: a window below ackEvery still completes', async () => {
    // With ACKs only at every 32nd message, a sender allowed 8 unacknowledged would wait forever.
    const base = { path: 'raw-rc', size: 64, messages: 200, window: 8, warmup: 0, ackEvery: 32 };
    let announce: (port: number) => void = () => {};
    const port = new Promise<number>((ok) => { announce = ok; });
    const sender = side({ ...base, role: 'send' }, (line) => { if (line.port !== undefined) announce(line.port); });
    const receiver = side({ ...base, role: 'recv', port: await port });
    const [sent] = await Promise.all([sender, receiver]);
    expect(sent.at(-1)!.messagesTimed).toBe(200);
  }, 20_000);


  it('raw-rc: the clock starts at the first ACK past the warm-up, and the count it reports timing is what that ACK left, not the measured count', async () => {
    // One warm-up message: the receiver acknowledges what it has read once 32 more are in, and
    // the sender has at most the window of 64 out, so the ACK that starts the clock covers 32..64.
    const base = { path: 'raw-rc', size: 64, messages: 1000, window: 64, warmup: 1, ackEvery: 32 };
    let announce: (port: number) => void = () => {};
    const port = new Promise<number>((ok) => { announce = ok; });
    const sender = side({ ...base, role: 'send' }, (line) => { if (line.port !== undefined) announce(line.port); });
    const receiver = side({ ...base, role: 'recv', port: await port });
    const [sent] = await Promise.all([sender, receiver]);
    const result = sent.at(-1)!;
    expect(result.messagesTimed).toBeGreaterThanOrEqual(1001 - 64);
    expect(result.messagesTimed).toBeLessThanOrEqual(1001 - 32);
    expect(result.seconds).toBeGreaterThan(0);
  });
});
