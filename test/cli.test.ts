import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyStages } from '../src/cli/verify-stages.js';

const ROOT = resolve(import.meta.dirname, '..');

/** The CLI from source (as `npm start` runs it); test/package.test.ts runs the packed bin on plain Node. */
function tcpverbs(...args: string[]) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/cli/main.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/**
 * The stages `verify` runs in this test: all but the spec stage (tla-checker on the CI configs,
 * ~3 minutes of CPU), which test/spec/ci-config.test.ts and ci-write-config.test.ts run: every
 * tla-checker config runs once per `npm test`.
 */
const FAST_STAGES = ['coverage', 'qp-guard', 'qp-machine', 'diagrams', 'pingpong', 'perf', 'conform'];

describe('tcpverbs CLI', () => {
  it('--help lists the commands', () => {
    const { code, stdout } = tcpverbs('--help');
    expect(code).toBe(0);
    for (const command of ['verify', 'diagrams', 'tables']) expect(stdout).toContain(command);
  });

  it('verify knows every stage; run on the fast ones it prints the summary table, JSON per stage, and exits 0', () => {
    const stages = verifyStages(ROOT).map((s) => s.name);
    expect(stages).toEqual(['coverage', 'qp-guard', 'qp-machine', 'diagrams', 'spec', 'pingpong', 'perf', 'conform']);
    const { code, stderr, stdout } = tcpverbs('verify', '--only', FAST_STAGES.join(','), '--json');
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/stage\s+result\s+time\s+detail/);
    expect(stderr).toContain(`${FAST_STAGES.length} passed, 0 failed`);
    const outcomes = JSON.parse(stdout) as { name: string; ok: boolean }[];
    expect(outcomes.map((o) => [o.name, o.ok])).toEqual(FAST_STAGES.map((name) => [name, true]));
  }, 300_000);

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
