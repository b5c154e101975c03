import { afterAll, describe, expect, it } from 'vitest';
import type { AnyMachineSnapshot } from 'xstate';
import { MACHINE_CATALOG, catalogEntry } from '../../machines/catalog.js';
import { generateCoveringPaths, replayPath, type MachineCoverage } from '../../src/conformance/machine-coverage.js';

const reports: MachineCoverage[] = [];

describe('generated paths (xstate/graph) reach every state and transition', () => {
  it.each(MACHINE_CATALOG.map((e) => [e.name, e] as const))('%s: 100% of states and transitions', (_, entry) => {
    const report = generateCoveringPaths(entry);
    reports.push(report);
    expect(report.states.missing).toEqual([]);
    expect(report.transitions.missing).toEqual([]);
    expect(report.states.total).toBeGreaterThan(0);
    expect(report.transitions.total).toBeGreaterThan(0);
  });

  it('reports what an incomplete alphabet leaves out (the measure can fail)', () => {
    const qp = catalogEntry('qp');
    const withoutErrors = { ...qp, events: (s: AnyMachineSnapshot) => qp.events(s).filter((e) => e.type !== 'CONNECTION_LOST') };
    const report = generateCoveringPaths(withoutErrors);
    expect(report.transitions.missing).toEqual(['RTR|CONNECTION_LOST|0', 'RTS|CONNECTION_LOST|0', 'SQD|CONNECTION_LOST|0', 'SQE|CONNECTION_LOST|0']);
    expect(report.states.missing).toEqual([]);
  });

  it('every generated path replays to the same coverage (paths are the evidence, not the explorer)', () => {
    for (const entry of MACHINE_CATALOG) {
      const report = generateCoveringPaths(entry);
      const taken = new Set<string>();
      for (const path of report.paths) {
        const start = entry.starts.find((s) => s.label === path.start)!;
        replayPath(entry, start, path.events).transitions.forEach((t) => taken.add(t));
      }
      expect(taken.size).toBe(report.transitions.total);
    }
  });

  afterAll(() => {
    const lines = reports.map((r) =>
      `${r.machine.padEnd(17)} states ${`${r.states.covered}/${r.states.total}`.padStart(6)}  transitions ${`${r.transitions.covered}/${r.transitions.total}`.padStart(8)}  paths ${r.paths.length}`);
    console.log(['machine coverage by generated paths:', ...lines].join('\n'));
  });
});
