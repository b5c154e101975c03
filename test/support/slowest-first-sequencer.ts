import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The slowest test files, slowest first, as measured on the 2-core CI machine (seconds of one
 * file alone). Two workers share the run: a long file that starts last would leave one worker idle
 * while it finishes, so the long ones start first. A fresh clone has no vitest cache to learn this
 * from, hence the list; the rest keep vitest's own order.
 */
export const SLOWEST_FILES: readonly string[] = [
  'test/spec/trace-validation.test.ts', // ~90 s: 120 simulated + 5 TCP traces, 8 through tla-checker
  'test/spec/ci-config.test.ts', // ~100 s: tla-checker on RcVerbs_ci.cfg
  'test/spec/ci-write-config.test.ts', // ~90 s: tla-checker on RcVerbs_ci_write.cfg
  'test/spec/planted-bugs.test.ts', // ~45 s
  'test/package.test.ts', // ~30 s: build, pack, offline install, plain-Node runs, consumer type-check
  'test/verbs/hostile-defects.test.ts',
  'test/machines/qp.test.ts',
  'test/cli.test.ts',
];

export default class SlowestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files);
    const rank = (file: TestSpecification) => {
      const index = SLOWEST_FILES.indexOf(relative(this.ctx.config.root, file.moduleId).replaceAll('\\', '/'));
      return index === -1 ? SLOWEST_FILES.length : index;
    };
    return base.map((file, order) => ({ file, order })).sort((a, b) => rank(a.file) - rank(b.file) || a.order - b.order).map(({ file }) => file);
  }
}
