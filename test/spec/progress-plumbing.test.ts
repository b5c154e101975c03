import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { runStages, summaryTable } from '../../src/cli/run-stages.js';
import type { Stage } from '../../src/cli/stages.js';
import { specStage } from '../../src/cli/verify-stages.js';
import { checkSpec } from '../../src/spec/check-spec.js';
import { FAKE_JAVA, fakeTlcEnv, tlcTranscript } from './fake-tlc.js';

/** stderr as runStages sees it: a terminal (isTTY) or a log. */
class Capture extends Writable {
  text = '';
  constructor(readonly isTTY: boolean, readonly columns = 160) { super(); }
  override _write(chunk: Buffer, _enc: string, done: () => void) { this.text += chunk.toString('utf8'); done(); }
}

/** A stage that reports like the spec stage does: milestones, running counts, bar progress. */
const chatty: Stage = {
  name: 'chatty',
  title: 'a stage that talks',
  run: async (progress, status) => {
    progress(0, 2);
    status?.('config A (1 of 2): started', 'milestone');
    for (const n of [100, 200, 300]) status?.(`config A: ${n} states`, 'tick');
    progress(1, 2);
    status?.('config A: pass, 300 states', 'milestone');
    progress(2, 2);
    return { ok: true, summary: '2 configs, 300 states', details: [] };
  },
};

describe('progress of a stage on the way to the terminal or the log', () => {
  it('in a log: every milestone, ticks sampled, then the usual result line', async () => {
    const log = new Capture(false);
    let clock = 0;
    const stage: Stage = {
      ...chatty,
      run: async (progress, status) => {
        status?.('tick at 0 s', 'tick');
        clock = 10_000;
        status?.('tick at 10 s', 'tick');
        clock = 31_000;
        status?.('tick at 31 s', 'tick');
        return chatty.run(progress, status);
      },
    };
    const outcomes = await runStages([stage], { log, now: () => clock, tickEverySeconds: 30 });
    expect(log.text.split('\n')).toEqual([
      '[1/1] a stage that talks ...',
      '  tick at 0 s',
      '  tick at 31 s',
      '  config A (1 of 2): started',
      '  config A: pass, 300 states',
      expect.stringMatching(/^\[1\/1\] a stage that talks ok \(\d+\.\d s\): 2 configs, 300 states$/),
      '',
    ]);
    expect(summaryTable(outcomes)).toMatch(/^stage\s+result\s+time\s+detail\n-+\s+-+\s+-+\s+-+\nchatty\s+pass\s+\d+\.\d s\s+2 configs, 300 states\n\n1 passed, 0 failed$/);
  });

  it('on a terminal: the latest status is drawn beside the bar as it comes', async () => {
    const tty = new Capture(true);
    const seen: string[] = [];
    const stage: Stage = {
      ...chatty,
      run: async (progress, status) => {
        const result = await chatty.run((done, total) => { progress(done, total); seen.push(tty.text); }, status);
        return result;
      },
    };
    const [outcome] = await runStages([stage], { log: tty });
    expect(outcome!.ok).toBe(true);
    expect(tty.text).toContain('config A (1 of 2): started');
    expect(tty.text).toContain('config A: 300 states');
    // Drawn before the stage went on (a synchronous checker would block the bar's own timer).
    expect(seen[1]).toContain('config A: 300 states');
    expect(tty.text).toMatch(/\[1\/1\] a stage that talks ok \(\d+\.\d s\): 2 configs, 300 states\n$/);
  });
});

describe('the spec stage reports per config and TLC\'s counts as they come (TLC played back, no JVM)', () => {
  let restore = () => {};
  afterEach(() => restore());

  it('checkSpec: (0, n) first, then one step per check; a milestone per start and end, ticks between', async () => {
    restore = fakeTlcEnv({ FAKE_TLC_TRANSCRIPT: tlcTranscript('rcverbs-ci-pass.txt') });
    const progress: [number, number][] = [];
    const statuses: [string, string][] = [];
    const reports = await checkSpec({
      tlcJar: FAKE_JAVA, // any existing file: the fake java does not read it
      java: FAKE_JAVA,
      tlc: { workers: 2, timeoutSeconds: 60, deepLiveness: false },
      configs: { tlaChecker: [], tlc: ['RcVerbs_ci.cfg', 'RcVerbs_deep.cfg'] },
      onProgress: (done, total) => progress.push([done, total]),
      onStatus: (text, kind) => statuses.push([kind, text]),
    });
    expect(reports.map((r) => [r.config, r.states])).toEqual([['RcVerbs_ci.cfg', 26_366], ['RcVerbs_deep.cfg (invariants)', 26_366]]);
    expect(progress).toEqual([[0, 2], [1, 2], [2, 2]]);
    expect(statuses.map(([kind, text]) => `${kind}: ${text.replace(/\d+(\.\d)? s\b/g, 'T s').replace(/ +/g, ' ')}`)).toEqual([
      'milestone: TLC RcVerbs_deep.cfg: invariants only; its liveness is a step of its own (TLC_DEEP_LIVENESS=1, see docs/spec.md)',
      'milestone: TLC RcVerbs_ci.cfg (1 of 2): starting, 2 workers',
      'tick: TLC RcVerbs_ci.cfg: 1,678 distinct states, depth 10, 668 on the queue, T s',
      'tick: TLC RcVerbs_ci.cfg: 26,366 distinct states, depth 36, 0 on the queue, T s',
      'milestone: TLC RcVerbs_ci.cfg pass states 26,366, depth 36, T s',
      'milestone: TLC RcVerbs_deep.cfg (invariants) (2 of 2): starting, 2 workers',
      'tick: TLC RcVerbs_deep.cfg (invariants): 1,678 distinct states, depth 10, 668 on the queue, T s',
      'tick: TLC RcVerbs_deep.cfg (invariants): 26,366 distinct states, depth 36, 0 on the queue, T s',
      'milestone: TLC RcVerbs_deep.cfg (invariants) pass states 26,366, depth 36, T s',
    ]);
  });

  it('through runStages into a log: the stage\'s lines, then its summary', async () => {
    restore = fakeTlcEnv({ FAKE_TLC_TRANSCRIPT: tlcTranscript('rcverbs-ci-pass.txt') });
    const log = new Capture(false);
    const stage = specStage({ tlcJar: FAKE_JAVA, java: FAKE_JAVA, tlc: { workers: 2, timeoutSeconds: 60, deepLiveness: false }, configs: { tlaChecker: [], tlc: ['RcVerbs_ci.cfg'] } });
    const [outcome] = await runStages([stage], { log });
    expect(outcome).toMatchObject({ ok: true, summary: '1 checks (TLC), 26,366 distinct states, 0 failed' });
    const lines = log.text.split('\n');
    expect(lines[0]).toMatch(/^\[1\/1\] TLA\+ spec: .* \.\.\.$/);
    expect(lines[1]).toBe('  TLC RcVerbs_ci.cfg (1 of 1): starting, 2 workers');
    // Two progress lines arrive within the sampling period: the first is shown.
    expect(lines[2]).toMatch(/^ {2}TLC RcVerbs_ci\.cfg: 1,678 distinct states, depth 10/);
    expect(lines[3]).toMatch(/^ {2}TLC +RcVerbs_ci\.cfg +pass +states 26,366, depth 36/);
    expect(lines[4]).toMatch(/^\[1\/1\] TLA\+ spec: .* ok \(\d+\.\d s\): 1 checks \(TLC\), 26,366 distinct states, 0 failed$/);
  });
});
