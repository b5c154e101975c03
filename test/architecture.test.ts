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

/**
 * The layer matrix (DESIGN.md §2): for every folder of src/ (and `.`, the package's entry files),
 * the folders it may import. The data path calls downward only:
 * verbs → provider → (nic implements it) → wire / transport → abi. Tooling sits on top.
 */
const LAYERS: Readonly<Record<string, readonly string[]>> = {
  abi: [],
  wire: ['abi'],
  transport: ['abi'],
  provider: ['abi', 'transport'],
  nic: ['abi', 'wire', 'transport', 'provider'],
  verbs: ['abi', 'transport', 'provider'],
  '.': ['abi', 'provider', 'nic', 'verbs'],
  monitor: ['abi', 'machines'],
  conformance: ['.', 'abi', 'machines', 'spec'],
  diagrams: ['machines'],
  spec: ['abi', 'machines', 'transport', 'wire', 'monitor', '.'],
  perf: ['.', 'abi'],
  cli: ['.', 'abi', 'machines', 'monitor', 'conformance', 'diagrams', 'spec', 'transport', 'perf'],
};

/** The folder of src/ a file is in ('.' for src/*.ts), or 'machines'. */
function folderOf(path: string): string {
  if (path.startsWith('machines/')) return 'machines';
  const inside = path.slice('src/'.length);
  return inside.includes('/') ? inside.slice(0, inside.indexOf('/')) : '.';
}

/** Every folder → folder import edge in src/, with one file that makes it. */
async function folderEdges(): Promise<Map<string, Map<string, string>>> {
  const edges = new Map<string, Map<string, string>>();
  for (const file of await sourceFiles('src')) {
    const from = folderOf(file);
    for (const spec of importsOf(await readFile(join(ROOT, file), 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = relative(ROOT, resolve(ROOT, file, '..', spec));
      const to = folderOf(target);
      if (to === from) continue;
      if (!edges.has(from)) edges.set(from, new Map());
      edges.get(from)!.set(to, `${file} imports ${spec}`);
    }
  }
  return edges;
}

/** A cycle in the folder graph, as a path, or null. */
function findCycle(edges: Map<string, Map<string, string>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === 'done') return null;
    if (state.get(node) === 'open') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'open');
    stack.push(node);
    for (const next of edges.get(node)?.keys() ?? []) {
      const cycle = visit(next);
      if (cycle !== null) return cycle;
    }
    stack.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of edges.keys()) {
    const cycle = visit(node);
    if (cycle !== null) return cycle;
  }
  return null;
}

/** House rule: a file past ~400 lines is two concepts. */
const MAX_FILE_LINES = 400;

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

  it('every folder of src/ imports only the folders the layer matrix allows', async () => {
    const edges = await folderEdges();
    for (const from of edges.keys()) expect(Object.keys(LAYERS), `src/${from} is not in the layer matrix`).toContain(from);
    for (const [from, targets] of edges) {
      for (const [to, where] of targets) expect(LAYERS[from], `${from} -> ${to} is not allowed (${where})`).toContain(to);
    }
  });

  it('the folder graph of src/ has no cycle, and the layer matrix itself has none', async () => {
    expect(findCycle(await folderEdges())).toBeNull();
    const matrix = new Map(Object.entries(LAYERS).map(([from, tos]) => [from, new Map(tos.map((to) => [to, 'matrix']))]));
    expect(findCycle(matrix)).toBeNull();
  });

  it('the cycle check finds a planted cycle', () => {
    const planted = new Map([['nic', new Map([['verbs', 'x']])], ['verbs', new Map([['provider', 'x']])], ['provider', new Map([['nic', 'x']])]]);
    expect(findCycle(planted)).toEqual(['nic', 'verbs', 'provider', 'nic']);
  });

  it('the abi layer imports nothing outside itself (only the type of a net.Socket, for ahAttr)', async () => {
    for (const file of await sourceFiles('src/abi')) {
      for (const spec of importsOf(await readFile(join(ROOT, file), 'utf8'))) {
        expect(spec === 'node:net' || /^\.\/[a-z-]+\.js$/.test(spec), `${file} imports ${spec}`).toBe(true);
      }
    }
  });

  it(`no source file in src/ or machines/ is longer than ${MAX_FILE_LINES} lines`, async () => {
    for (const file of [...await sourceFiles('src'), ...await sourceFiles('machines')]) {
      const lines = (await readFile(join(ROOT, file), 'utf8')).split('\n').length;
      expect(lines, `${file} has ${lines} lines`).toBeLessThanOrEqual(MAX_FILE_LINES);
    }
  });

  it('the kernel oracle is independent of the model: it imports nothing', async () => {
    const text = await readFile(join(ROOT, 'src/conformance/kernel-qp-table.ts'), 'utf8');
    expect(importsOf(text)).toEqual([]);
  });
});
