import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ratioText, readResults, renderChart, renderMarkdown } from '../bench/report.js';
import { BENCH_PLAN } from '../bench/results.js';

const ROOT = resolve(import.meta.dirname, '..');

describe('docs/performance.md and its chart are generated from bench/results.json', () => {
  const results = readResults(ROOT);

  it('bench/results.json has every documented field for every workload of the plan', () => {
    expect(results.streams.map((s) => s.size)).toEqual(BENCH_PLAN.streams.map((s) => s.size));
    for (const row of results.streams) {
      for (const path of ['tcpverbs', 'net', 'raw', 'rawRc'] as const) {
        const p = row.paths[path];
        for (const key of ['msgsPerSecond', 'gbitPerSecond', 'cpuSecondsPerGB', 'readsPerMessage', 'rxCopiedBytesPerMessage', 'txCopiedBytesPerMessage'] as const) expect(p[key], `${row.size} ${path} ${key}`).toBeGreaterThanOrEqual(0);
        expect(p.rounds).toBe(results.rounds);
        expect(p.msgsPerSecondMin, `${row.size} ${path} slowest round`).toBeLessThanOrEqual(p.msgsPerSecond);
        expect(p.msgsPerSecondMax, `${row.size} ${path} fastest round`).toBeGreaterThanOrEqual(p.msgsPerSecond);
      }
      expect(row.vsRawByRound).toHaveLength(results.rounds);
      expect(row.vsRawByRound.every((x) => x > 0)).toBe(true);
      expect(row.ratios.vsNet).toBeCloseTo(row.paths.tcpverbs.msgsPerSecond / row.paths.net.msgsPerSecond, 9);
      expect(row.ratios.vsRaw).toBeCloseTo(row.paths.tcpverbs.msgsPerSecond / row.paths.raw.msgsPerSecond, 9);
      expect(row.ratios.vsRawRc).toBeCloseTo(row.paths.tcpverbs.msgsPerSecond / row.paths.rawRc.msgsPerSecond, 9);
    }
    if (results.cpuStealPercent !== null) expect(results.cpuStealPercent).toBeGreaterThanOrEqual(0);
    expect(results.cpuStealPercent === null || results.cpuStealPercent <= 100).toBe(true);
    expect(results.pingpong.tcpverbs.p50Usec).toBeGreaterThan(0);
    expect(results.pingpong.net.p99Usec).toBeGreaterThanOrEqual(results.pingpong.net.p50Usec);
  });

  it('docs/performance.md is what bench/report.ts renders from it (run `npm run bench:report` after editing the renderer)', async () => {
    expect(await readFile(resolve(ROOT, 'docs/performance.md'), 'utf8')).toBe(renderMarkdown(results));
  });

  it('docs/performance.svg is what bench/report.ts renders from it, with a bar for every path at every size', async () => {
    const svg = await readFile(resolve(ROOT, 'docs/performance.svg'), 'utf8');
    expect(svg).toBe(renderChart(results));
    expect(svg.match(/<rect x=[^>]*><title>/g)).toHaveLength(results.streams.length * 4 * 2);
  });
  it('a ratio next to its target never rounds onto the other side of it', () => {
    expect(ratioText(0.2991, 0.3)).toBe('0.299');
    expect(ratioText(0.3004, 0.3)).toBe('0.30');
    expect(ratioText(0.3171, 0.3)).toBe('0.32');
    expect(ratioText(1.1049, 1.1, true)).toBe('1.105');
    expect(ratioText(0.18, 1.1, true)).toBe('0.18');
  });
});
