import { mkdtemp, cp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateDocs, staleFiles } from '../src/diagrams/generate.js';
import { diagramsStage } from '../src/cli/verify-stages.js';

const ROOT = resolve(import.meta.dirname, '..');

describe('generated diagrams', () => {
  it('docs/diagrams and docs/machines.md match the machines (run `npm run diagrams` if not)', async () => {
    expect(await staleFiles(ROOT, await generateDocs())).toEqual([]);
  });

  it('generation is deterministic', async () => {
    const first = await generateDocs();
    const second = await generateDocs();
    expect([...second]).toEqual([...first]);
  });

  it('every machine has Mermaid text and an SVG, embedded in docs/machines.md', async () => {
    const files = await generateDocs();
    const markdown = files.get('docs/machines.md')!;
    for (const name of ['qp', 'work-request', 'buffer', 'memory-region', 'completion-queue']) {
      expect(files.get(`docs/diagrams/${name}.mmd`)).toMatch(/^stateDiagram-v2\n/);
      expect(files.get(`docs/diagrams/${name}.svg`)).toMatch(/<svg[\s\S]*<\/svg>/);
      expect(markdown).toContain(`](diagrams/${name}.svg)`);
    }
  });

  it('the verify stage fails and names the file when a generated file was edited by hand', async () => {
    const copy = await mkdtemp(join(tmpdir(), 'tcpverbs-docs-'));
    try {
      await cp(join(ROOT, 'docs'), join(copy, 'docs'), { recursive: true });
      await writeFile(join(copy, 'docs/diagrams/qp.mmd'), 'stateDiagram-v2\n  [*] --> RESET\n');
      const result = await diagramsStage(copy).run(() => {});
      expect(result.ok).toBe(false);
      expect(result.details).toEqual(['docs/diagrams/qp.mmd differs from the machines; run `npm run diagrams`']);
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });
});
