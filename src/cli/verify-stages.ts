import { MACHINE_CATALOG } from '../../machines/catalog.js';
import { generateCoveringPaths } from '../conformance/machine-coverage.js';
import { compareGuardWithKernel, compareMachineWithKernel, describeMismatch } from '../conformance/qp-guard-check.js';
import { generateDocs, staleFiles } from '../diagrams/generate.js';
import type { Stage } from './stages.js';

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

export function verifyStages(root: string): Stage[] {
  return [coverageStage, guardStage, machineGuardStage, diagramsStage(root)];
}
