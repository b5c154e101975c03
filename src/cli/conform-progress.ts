import { Presets, SingleBar } from 'cli-progress';
import type { CaseResult } from '../conformance/kit/cases.js';

/**
 * What `conform` shows while it runs, on stderr (stdout keeps the report): on a terminal a bar
 * over the groups with the cases so far; in a log one line per group as it ends.
 */
export function conformProgress(log: NodeJS.WritableStream & { isTTY?: boolean }) {
  const bar = log.isTTY === true
    ? new SingleBar({ format: 'conform {bar} {value}/{total} groups | {group} | {passed} passed, {failed} failed | {duration_formatted}', barsize: 20, stream: log, clearOnComplete: true }, Presets.shades_classic)
    : null;
  let group: string | null = null;
  let started = 0;
  const counts = { passed: 0, failed: 0, notClaimed: 0 };
  const inGroup = { passed: 0, failed: 0, notClaimed: 0 };
  const endGroup = () => {
    if (group === null || bar !== null) return;
    log.write(`  ${group}: ${inGroup.passed} passed, ${inGroup.failed} failed, ${inGroup.notClaimed} not claimed (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
  };
  return {
    onGroup(next: string, index: number, total: number): void {
      endGroup();
      group = next;
      started = performance.now();
      Object.assign(inGroup, { passed: 0, failed: 0, notClaimed: 0 });
      if (bar === null) return;
      if (index === 0) bar.start(total, 0, { group: next, ...counts });
      else bar.update(index, { group: next });
    },
    onCase(result: CaseResult): void {
      const key = result.status === 'not claimed' ? 'notClaimed' : result.status;
      counts[key]++;
      inGroup[key]++;
      bar?.update({ ...counts });
    },
    stop(): void {
      endGroup();
      if (bar !== null) {
        bar.update(bar.getTotal());
        bar.stop();
      }
    },
  };
}
