import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCfg } from '../../src/spec/cfg.js';
import { allConfigs } from '../../src/spec/check-spec.js';
import { SPEC_DIR } from '../../src/spec/paths.js';
import { DEFAULT_TLC_SETTINGS, livenessNotChecked, tlcJavaArgs, tlcSettingsFromEnv, tlcSteps } from '../../src/spec/tlc-plan.js';

const configs = () => allConfigs().map((name) => ({ name, text: readFileSync(join(SPEC_DIR, name), 'utf8') }));
const command = { jar: '/opt/tla2tools.jar', module: 'RcVerbs', cfgFile: 'RcVerbs_ci.cfg', metadir: '/tmp/m', workers: 2 } as const;

describe('the java command line of a TLC step', () => {
  it('names the worker count (2, never auto), turns off the trace-spec files and keeps TLC state in the metadir', () => {
    const args = tlcJavaArgs({ ...command, mode: 'full' });
    expect(args).toEqual(['-XX:+UseParallelGC', '-cp', '/opt/tla2tools.jar', 'tlc2.TLC', '-workers', '2', '-noGenerateSpecTE',
      '-metadir', '/tmp/m', '-config', 'RcVerbs_ci.cfg', 'RcVerbs.tla']);
    expect(args).not.toContain('auto');
    expect(args).not.toContain('-lncheck');
  });

  it('checks liveness once, at the end, in a liveness step', () => {
    const args = tlcJavaArgs({ ...command, cfgFile: 'RcVerbs_deep_liveness.cfg', mode: 'liveness' });
    expect(args.slice(args.indexOf('-lncheck'), args.indexOf('-lncheck') + 2)).toEqual(['-lncheck', 'final']);
    expect(args).toContain('-noGenerateSpecTE');
  });

  it('refuses a worker count that is not a whole number of at least 1', () => {
    expect(() => tlcJavaArgs({ ...command, workers: 0, mode: 'full' })).toThrow(/at least 1, not 0/);
    expect(() => tlcJavaArgs({ ...command, workers: 1.5, mode: 'full' })).toThrow(/at least 1/);
  });
});

describe('TLC settings from the environment', () => {
  it('defaults to 2 workers, 900 s per run, and no deep liveness', () => {
    expect(tlcSettingsFromEnv({})).toEqual({ workers: 2, timeoutSeconds: 900, deepLiveness: false });
    expect(DEFAULT_TLC_SETTINGS).toEqual(tlcSettingsFromEnv({}));
  });

  it('reads TLC_WORKERS, TLC_TIMEOUT and TLC_DEEP_LIVENESS, and says which value is wrong', () => {
    expect(tlcSettingsFromEnv({ TLC_WORKERS: '8', TLC_TIMEOUT: '7200', TLC_DEEP_LIVENESS: '1' })).toEqual({ workers: 8, timeoutSeconds: 7200, deepLiveness: true });
    expect(() => tlcSettingsFromEnv({ TLC_WORKERS: 'auto' })).toThrow('TLC_WORKERS=auto: expected a whole number of at least 1');
    expect(() => tlcSettingsFromEnv({ TLC_TIMEOUT: '0' })).toThrow('TLC_TIMEOUT=0');
    expect(() => tlcSettingsFromEnv({ TLC_DEEP_LIVENESS: 'yes' })).toThrow('TLC_DEEP_LIVENESS=yes: expected 1 or 0');
  });
});

describe('the TLC steps for spec/', () => {
  it('runs the CI configs whole and the deep config without its PROPERTIES', () => {
    const steps = tlcSteps(configs(), { deepLiveness: false });
    expect(steps.map((s) => [s.label, s.mode])).toEqual([
      ['RcVerbs_ci.cfg', 'full'],
      ['RcVerbs_ci_write.cfg', 'full'],
      ['RcVerbs_deep.cfg (invariants)', 'invariants'],
    ]);
    const deep = parseCfg(steps[2]!.cfgText);
    const original = parseCfg(configs().find((c) => c.name === 'RcVerbs_deep.cfg')!.text);
    expect(deep.properties).toEqual([]);
    expect(deep.invariants).toEqual(original.invariants);
    expect(deep.constants).toEqual(original.constants);
    expect(deep.checkDeadlock).toBe(false);
    expect(livenessNotChecked(configs(), { deepLiveness: false })).toEqual(['RcVerbs_deep.cfg']);
  });

  it('adds the deep config\'s liveness as a step of its own on request', () => {
    const steps = tlcSteps(configs(), { deepLiveness: true });
    const liveness = steps.find((s) => s.mode === 'liveness')!;
    expect(liveness.label).toBe('RcVerbs_deep.cfg (liveness)');
    expect(parseCfg(liveness.cfgText).properties).toEqual(['SendWrsComplete', 'ErrQueuesDrain']);
    expect(parseCfg(liveness.cfgText).invariants).toEqual([]);
    expect(livenessNotChecked(configs(), { deepLiveness: true })).toEqual([]);
  });
});
