import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(join(ROOT, dir), { withFileTypes: true }).catch(() => []);
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : Promise.resolve(e.name.endsWith('.ts') ? [join(dir, e.name)] : []))));
  return nested.flat();
}

function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1] ?? m[2] ?? '');
}

/** Where src/ may import machines/: the observers and the tooling, never the data path. */
const MAY_IMPORT_MACHINES = ['src/monitor/', 'src/conformance/', 'src/cli/', 'src/diagrams/', 'src/spec/'];

describe('rules of the house (DESIGN.md §2)', () => {
  it('machines/ has no I/O and never imports from src/', async () => {
    const files = await sourceFiles('machines');
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      for (const spec of importsOf(await readFile(join(ROOT, file), 'utf8'))) {
        expect(spec, `${file} imports ${spec}`).not.toMatch(/\/src\/|^node:|^(fs|net|dgram|child_process|http|https)$/);
        expect(spec.startsWith('.') || spec === 'xstate', `${file} imports ${spec}`).toBe(true);
      }
    }
  });

  it('only the observers and tools in src/ import machines/', async () => {
    const files = await sourceFiles('src');
    for (const file of files) {
      const relativeFile = relative(ROOT, join(ROOT, file));
      const usesMachines = importsOf(await readFile(join(ROOT, file), 'utf8')).some((s) => s.includes('machines/'));
      if (usesMachines) expect(MAY_IMPORT_MACHINES.some((dir) => relativeFile.startsWith(dir)), relativeFile).toBe(true);
    }
  });

  it('the kernel oracle is independent of the model: it imports nothing', async () => {
    const text = await readFile(join(ROOT, 'src/conformance/kernel-qp-table.ts'), 'utf8');
    expect(importsOf(text)).toEqual([]);
  });
});
