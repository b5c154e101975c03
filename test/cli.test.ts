import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyStages } from '../src/cli/verify-stages.js';

const ROOT = resolve(import.meta.dirname, '..');

function tcpverbs(...args: string[]) {
  const run = spawnSync(process.execPath, [resolve(ROOT, 'bin/tcpverbs.mjs'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 900_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('tcpverbs CLI', () => {
  it('--help lists the commands', () => {
    const { code, stdout } = tcpverbs('--help');
    expect(code).toBe(0);
    for (const command of ['verify', 'diagrams', 'tables']) expect(stdout).toContain(command);
  });

  it('verify runs every stage, prints the summary table and exits 0', () => {
    const { code, stderr, stdout } = tcpverbs('verify', '--json');
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/stage\s+result\s+time\s+detail/);
    const stages = verifyStages(ROOT).map((s) => s.name);
    expect(stages).toEqual(expect.arrayContaining(['coverage', 'qp-guard', 'qp-machine', 'diagrams', 'spec', 'pingpong']));
    expect(stderr).toContain(`${stages.length} passed, 0 failed`);
    const outcomes = JSON.parse(stdout) as { name: string; ok: boolean }[];
    expect(outcomes.map((o) => [o.name, o.ok])).toEqual(stages.map((name) => [name, true]));
  }, 900_000);

  it('refuses an unknown stage and says which exist', () => {
    const { code, stderr } = tcpverbs('verify', '--only', 'coverage,nope');
    expect(code).not.toBe(0);
    expect(stderr).toContain(`unknown stage nope; stages are ${verifyStages(ROOT).map((s) => s.name).join(', ')}`);
  });

  it('diagrams --check passes on a fresh tree; tables prints the QP relation as JSON', () => {
    expect(tcpverbs('diagrams', '--check').code).toBe(0);
    const { code, stdout } = tcpverbs('tables', 'qp');
    expect(code).toBe(0);
    const tables = JSON.parse(stdout) as { qp: { transitions: unknown[] }; qpModifyTable: { from: string; to: string }[] };
    expect(tables.qpModifyTable).toHaveLength(22);
    expect(tables.qp.transitions.length).toBeGreaterThan(50);
  });

  it('tables names the known machines when given an unknown one', () => {
    const { code, stderr } = tcpverbs('tables', 'nope');
    expect(code).toBe(2);
    expect(stderr).toContain("unknown machine 'nope'; known: qp, work-request, buffer, memory-region, completion-queue");
  });
});
