import { MACHINE_CATALOG } from '../../machines/catalog.js';
import { generateCoveringPaths } from '../conformance/machine-coverage.js';
import { compareGuardWithKernel, compareMachineWithKernel, describeMismatch } from '../conformance/qp-guard-check.js';
import { generateDocs, staleFiles } from '../diagrams/generate.js';
import type { Stage } from './stages.js';
import { conform } from '../conformance/kit/conform.js';
import { runPingpong } from './pingpong.js';
import { perfSmokeStage } from './perf-smoke.js';
import { Monitor } from '../monitor/monitor.js';
import { checkSpec, describeReport, type CheckSpecOptions } from '../spec/check-spec.js';

const coverageStage: Stage = {
  name: 'coverage',
  title: 'machines: generated paths reach every state and transition',
  run: async (progress) => {
    const reports = MACHINE_CATALOG.map((entry, i) => {
      const report = generateCoveringPaths(entry);
      progress(i + 1, MACHINE_CATALOG.length);
      return report;
    });
    const states = reports.reduce((sum, r) => sum + r.states.covered, 0);
    const statesTotal = reports.reduce((sum, r) => sum + r.states.total, 0);
    const transitions = reports.reduce((sum, r) => sum + r.transitions.covered, 0);
    const transitionsTotal = reports.reduce((sum, r) => sum + r.transitions.total, 0);
    const paths = reports.reduce((sum, r) => sum + r.paths.length, 0);
    const details = reports.flatMap((r) => [
      ...r.states.missing.map((s) => `${r.machine}: state ${s} not reached`),
      ...r.transitions.missing.map((t) => `${r.machine}: transition ${t} not taken`),
    ]);
    return {
      ok: details.length === 0,
      summary: `${reports.length} machines, ${paths} paths; states ${states}/${statesTotal}, transitions ${transitions}/${transitionsTotal}`,
      details,
    };
  },
};

const guardStage: Stage = {
  name: 'qp-guard',
  title: 'QP modify guard = kernel ib_modify_qp_is_ok (all mask classes)',
  run: async (progress) => {
    const result = compareGuardWithKernel(progress);
    return {
      ok: result.mismatches.length === 0,
      summary: `${result.checked} (state, next, mask) checked, ${result.mismatches.length} disagreements`,
      details: result.mismatches.map(describeMismatch),
    };
  },
};

const machineGuardStage: Stage = {
  name: 'qp-machine',
  title: 'QP machine transitions = kernel table (decisive masks)',
  run: async (progress) => {
    const result = compareMachineWithKernel();
    progress(1, 1);
    return {
      ok: result.mismatches.length === 0,
      summary: `${result.checked} MODIFY events sent, ${result.mismatches.length} disagreements`,
      details: result.mismatches.map(describeMismatch),
    };
  },
};

export function diagramsStage(root: string): Stage {
  return {
    name: 'diagrams',
    title: 'docs/diagrams and docs/machines.md are fresh',
    run: async (progress) => {
      const files = await generateDocs();
      const stale = await staleFiles(root, files);
      progress(1, 1);
      return {
        ok: stale.length === 0,
        summary: stale.length === 0 ? `${files.size} generated files up to date` : `${stale.length} of ${files.size} files stale`,
        details: stale.map((path) => `${path} differs from the machines; run \`npm run diagrams\``),
      };
    },
  };
}

const PINGPONG_ITERS = 500;

/** ibv_rc_pingpong, server and client in this process over loopback TCP, both watched by the monitor. */
const pingpongStage: Stage = {
  name: 'pingpong',
  title: `rc_pingpong over loopback TCP (${PINGPONG_ITERS} x 4096 B) with the monitor on`,
  run: async (progress) => {
    const monitors = [new Monitor(), new Monitor()] as const;
    const lines: string[] = [];
    let listening: (port: number) => void = () => {};
    const port = new Promise<number>((resolve) => { listening = resolve; });
    const common = { size: 4096, iters: PINGPONG_ITERS, rxDepth: 500, useEvents: false, log: (line: string) => lines.push(line) };
    const server = runPingpong({ ...common, port: 0, observer: monitors[0] }, listening);
    const client = runPingpong({ ...common, host: '127.0.0.1', port: await port, observer: monitors[1] });
    const [s, c] = await Promise.all([server, client]);
    progress(1, 1);
    const disagreements = monitors.flatMap((m, i) => m.disagreements.map((d) => `${i === 0 ? 'server' : 'client'} step ${d.step}, ${d.subject}: ${d.message}`));
    return {
      ok: disagreements.length === 0 && s.iters === PINGPONG_ITERS && c.iters === PINGPONG_ITERS,
      summary: `${c.usecPerIter.toFixed(2)} usec/iter, ${c.mbitPerSec.toFixed(0)} Mbit/s; monitor: ${disagreements.length} disagreements`,
      details: disagreements.length > 0 ? disagreements : lines,
    };
  },
};

/**
 * npm run check:spec: tla-checker on the CI configs (TLC on every config when TLA2TOOLS_JAR is
 * set). `options` are checkSpec's, for tests that run it on fewer configs.
 */
export function specStage(options: Omit<CheckSpecOptions, 'onProgress' | 'onStatus'> = {}): Stage {
  return {
    name: 'spec',
    title: 'TLA+ spec: invariants and liveness on the CI configs, graph = transliteration',
    run: async (progress, status) => {
      // Per config: a line when it starts and ends, TLC's state counts as they come.
      const reports = await checkSpec({ ...options, onProgress: progress, onStatus: (text, kind) => status?.(text, kind) });
      const states = reports.reduce((sum, r) => sum + (r.states ?? 0), 0);
      return {
        ok: reports.every((r) => r.ok),
        summary: `${reports.length} checks (${[...new Set(reports.map((r) => r.checker))].join(', ')}), ${states.toLocaleString('en-US')} distinct states, ${reports.filter((r) => !r.ok).length} failed`,
        details: reports.filter((r) => !r.ok).map(describeReport),
      };
    },
  };
}

/**
 * The reference's own adapter, started the way this process was (node, its loader flags, the same
 * entry point): from source through tsx in the repository, from dist/ in the installed package.
 */
const selfAdapter = () => [process.execPath, ...process.execArgv, process.argv[1] ?? 'tcpverbs'].map((part) => JSON.stringify(part)).join(' ') + ' adapter';

const conformStage: Stage = {
  name: 'conform',
  title: 'tcpverbs conform: the reference against itself through the adapter protocol',
  run: async (progress) => {
    let done = 0;
    const report = await conform({ adapter: selfAdapter(), seed: 1, onCase: () => { done++; if (done % 100 === 0) progress(done, done + 100); } });
    progress(1, 1);
    const failures = report.cases.filter((c) => c.status === 'failed');
    return {
      ok: report.failed === 0,
      summary: `${report.passed} passed, ${report.failed} failed, ${report.notClaimed} not claimed (${Object.keys(report.groups).join(', ')})`,
      details: failures.slice(0, 10).map((c) => `${c.group} ${c.name}: ${c.message ?? ''}`),
    };
  },
};

export function verifyStages(root: string): Stage[] {
  return [coverageStage, guardStage, machineGuardStage, diagramsStage(root), specStage(), pingpongStage, perfSmokeStage, conformStage];
}
