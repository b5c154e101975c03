import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCfg } from '../../src/spec/cfg.js';
import { SPEC_DIR } from '../../src/spec/paths.js';
import { checkWithTlc } from '../../src/spec/tlc-run.js';
import { tlcSteps, type TlcStep } from '../../src/spec/tlc-plan.js';
import { FAKE_JAVA, fakeTlcEnv, tlcTranscript } from './fake-tlc.js';

const stepFor = (name: string, mode: TlcStep['mode']): TlcStep => {
  const configs = [{ name, text: readFileSync(join(SPEC_DIR, name), 'utf8') }];
  return tlcSteps(configs, { deepLiveness: true }).find((s) => s.mode === mode)!;
};

describe('checkWithTlc, with test/fixtures/fake-java.sh for java', () => {
  let record: string;
  let restore = () => {};
  const fake = (vars: Record<string, string>) => { restore = fakeTlcEnv({ FAKE_TLC_RECORD: record, ...vars }); };
  beforeEach(() => { record = mkdtempSync(join(tmpdir(), 'tcpverbs-fake-tlc-')); });
  afterEach(() => {
    restore();
    rmSync(record, { recursive: true, force: true });
  });

  it('runs a CI config whole, passes TLC\'s progress on as it comes, and reads the final count', async () => {
    fake({ FAKE_TLC_TRANSCRIPT: tlcTranscript('rcverbs-ci-pass.txt') });
    const ticks: string[] = [];
    const report = await checkWithTlc('/opt/tla2tools.jar', stepFor('RcVerbs_ci.cfg', 'full'), {
      workers: 2, timeoutSeconds: 60, java: FAKE_JAVA, onStatus: (text, kind) => { if (kind === 'tick') ticks.push(text); },
    });
    expect(report).toMatchObject({ config: 'RcVerbs_ci.cfg', checker: 'TLC', ok: true, states: 26_366, depth: 36, problems: [] });
    expect(ticks).toHaveLength(2);
    expect(ticks[0]).toMatch(/^TLC RcVerbs_ci\.cfg: 1,678 distinct states, depth 10, 668 on the queue, \d+ s$/);
    expect(ticks[1]).toMatch(/^TLC RcVerbs_ci\.cfg: 26,366 distinct states, depth 36, 0 on the queue/);
    const args = readFileSync(join(record, 'RcVerbs_ci.cfg.args'), 'utf8').trim().split('\n');
    expect(args.slice(args.indexOf('-workers'), args.indexOf('-workers') + 2)).toEqual(['-workers', '2']);
    expect(args).toContain('-noGenerateSpecTE');
    expect(args).not.toContain('auto');
    expect(readFileSync(join(record, 'RcVerbs_ci.cfg'), 'utf8')).toBe(readFileSync(join(SPEC_DIR, 'RcVerbs_ci.cfg'), 'utf8'));
  });

  it('gives the deep config\'s invariants step a cfg without PROPERTIES, and writes nothing into spec/', async () => {
    fake({ FAKE_TLC_TRANSCRIPT: tlcTranscript('rcverbs-ci-pass.txt') });
    const before = readdirSync(SPEC_DIR).sort();
    const report = await checkWithTlc('/opt/tla2tools.jar', stepFor('RcVerbs_deep.cfg', 'invariants'), { workers: 2, timeoutSeconds: 60, java: FAKE_JAVA });
    expect(report.config).toBe('RcVerbs_deep.cfg (invariants)');
    const cfg = parseCfg(readFileSync(join(record, 'RcVerbs_deep_invariants.cfg'), 'utf8'));
    expect(cfg.properties).toEqual([]);
    expect(cfg.invariants).toContain('EveryWrInOnePlace');
    expect(readFileSync(join(record, 'RcVerbs_deep_invariants.cfg.args'), 'utf8')).not.toContain('-lncheck');
    expect(readdirSync(SPEC_DIR).sort()).toEqual(before);
  });

  it('runs the liveness step with -lncheck final', async () => {
    fake({ FAKE_TLC_TRANSCRIPT: tlcTranscript('liveness-violation.txt'), FAKE_TLC_EXIT: '13' });
    const report = await checkWithTlc('/opt/tla2tools.jar', stepFor('RcVerbs_deep.cfg', 'liveness'), { workers: 2, timeoutSeconds: 60, java: FAKE_JAVA });
    expect(report).toMatchObject({ ok: false, violated: 'Stays' });
    expect(readFileSync(join(record, 'RcVerbs_deep_liveness.cfg.args'), 'utf8')).toContain('-lncheck\nfinal\n');
  });

  it('kills a run that outlives its time bound and reports it with the last progress count', async () => {
    fake({ FAKE_TLC_TRANSCRIPT: tlcTranscript('rcverbs-ci-pass.txt'), FAKE_TLC_LINES: '21', FAKE_TLC_HANG: '1' });
    const started = performance.now();
    const report = await checkWithTlc('/opt/tla2tools.jar', stepFor('RcVerbs_ci.cfg', 'full'), { workers: 2, timeoutSeconds: 1, java: FAKE_JAVA });
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(report).toMatchObject({ ok: false, states: 1_678, depth: 10 });
    expect(report.problems.join('\n')).toMatch(/TLC did not finish within 1 s and was killed \(raise TLC_TIMEOUT/);
  }, 20_000);

  it('says so when java cannot be started', async () => {
    const report = await checkWithTlc('/opt/tla2tools.jar', stepFor('RcVerbs_ci.cfg', 'full'), { workers: 2, timeoutSeconds: 5, java: '/nonexistent/java' });
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toMatch(/could not run \/nonexistent\/java \(TLC needs Java 11 or later on PATH\): .*ENOENT/);
  });
});
