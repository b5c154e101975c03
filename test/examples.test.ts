import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

describe('the README example runs as written', () => {
  it('examples/hello-rc.ts: SEND and RDMA_WRITE over loopback TCP', () => {
    const run = spawnSync(process.execPath, ['--conditions=tcpverbs-source', '--import', 'tsx', resolve(ROOT, 'examples/hello-rc.ts')], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('b received "hello over TCP", and "hello" was written into its memory');
    expect(run.stdout).toMatch(/SEND wr 1: SUCCESS/);
    expect(run.stdout).toMatch(/RDMA_WRITE wr 2: SUCCESS/);
  });

  it('the README embeds exactly that file', async () => {
    const [readme, example] = await Promise.all([readFile(resolve(ROOT, 'README.md'), 'utf8'), readFile(resolve(ROOT, 'examples/hello-rc.ts'), 'utf8')]);
    expect(readme).toContain(example.trim());
  });
});
