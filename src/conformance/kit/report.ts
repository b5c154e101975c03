import type { CaseResult, Coverage } from './cases.js';

export interface ConformReport {
  readonly implementation: string;
  readonly protocolVersion: number;
  readonly seed: number;
  readonly passed: number;
  readonly failed: number;
  readonly notClaimed: number;
  readonly seconds: number;
  readonly groups: Readonly<Record<string, { passed: number; failed: number; notClaimed: number }>>;
  readonly coverage: { readonly qpStates: string[]; readonly transitions: string[]; readonly wcStatuses: string[]; readonly opcodes: string[] };
  readonly cases: readonly CaseResult[];
}

export function buildReport(implementation: string, protocolVersion: number, seed: number, cases: readonly CaseResult[], coverage: Coverage, seconds: number): ConformReport {
  const count = (list: readonly CaseResult[], status: CaseResult['status']) => list.filter((c) => c.status === status).length;
  const groups: Record<string, { passed: number; failed: number; notClaimed: number }> = {};
  for (const group of new Set(cases.map((c) => c.group))) {
    const of = cases.filter((c) => c.group === group);
    groups[group] = { passed: count(of, 'passed'), failed: count(of, 'failed'), notClaimed: count(of, 'not claimed') };
  }
  return {
    implementation, protocolVersion, seed, seconds,
    passed: count(cases, 'passed'), failed: count(cases, 'failed'), notClaimed: count(cases, 'not claimed'),
    groups,
    coverage: { qpStates: [...coverage.qpStates].sort(), transitions: [...coverage.transitions].sort(), wcStatuses: [...coverage.wcStatuses].sort(), opcodes: [...coverage.opcodes].sort() },
    cases,
  };
}

/** The text report: a table per group, then every failure with what was done, expected and got. */
export function textReport(report: ConformReport): string {
  const lines = [`implementation: ${report.implementation} (protocol ${report.protocolVersion}), seed ${report.seed}, ${report.seconds.toFixed(1)} s`, '', 'group             passed  failed  not claimed'];
  for (const [group, g] of Object.entries(report.groups)) lines.push(`${group.padEnd(16)} ${String(g.passed).padStart(7)}  ${String(g.failed).padStart(6)}  ${String(g.notClaimed).padStart(11)}`);
  const failures = report.cases.filter((c) => c.status === 'failed');
  if (failures.length > 0) {
    lines.push('', `${failures.length} failed:`);
    for (const c of failures.slice(0, 50)) lines.push(`  ${c.group} ${c.name}: ${c.message ?? ''}`);
    if (failures.length > 50) lines.push(`  ... and ${failures.length - 50} more (--report json lists every case)`);
  }
  lines.push('', `${report.passed} passed, ${report.failed} failed, ${report.notClaimed} not claimed`);
  return `${lines.join('\n')}\n`;
}

const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** JUnit XML, one testsuite per group; a case not claimed is skipped. */
export function junitReport(report: ConformReport): string {
  const suites = Object.entries(report.groups).map(([group, g]) => {
    const cases = report.cases.filter((c) => c.group === group).map((c) => {
      const body = c.status === 'failed' ? `<failure message="${xml(c.message ?? '')}"/>` : c.status === 'not claimed' ? `<skipped message="${xml(c.message ?? 'not claimed')}"/>` : '';
      return `    <testcase classname="${xml(group)}" name="${xml(c.name)}">${body}</testcase>`;
    });
    return `  <testsuite name="${xml(group)}" tests="${g.passed + g.failed + g.notClaimed}" failures="${g.failed}" skipped="${g.notClaimed}">\n${cases.join('\n')}\n  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="tcpverbs conform: ${xml(report.implementation)}" tests="${report.cases.length}" failures="${report.failed}">\n${suites.join('\n')}\n</testsuites>\n`;
}
