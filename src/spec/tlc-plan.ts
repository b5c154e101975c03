/**
 * What `check:spec` asks of TLC, decided without running it: the settings (workers, time bound),
 * which steps each config in spec/ becomes, and the java command line of a step.
 *
 * The CI configs (RcVerbs_ci*.cfg, ~26 000 states) run whole: invariants and liveness, ~25 s each.
 * A bigger config (RcVerbs_deep.cfg, 3·10^6 states) runs its invariants only (218 s on 2 workers):
 * with its PROPERTIES TLC had reached only 988,551 states after 30 minutes: liveness multiplies the
 * graph by the properties' tableau (4 branches: RcVerbs_ci's 26,366 states are 105,464 nodes) and,
 * by default, TLC re-checks that graph periodically while it grows. Its liveness
 * is a separate step, on request (TLC_DEEP_LIVENESS=1), with `-lncheck final` so the tableau is
 * checked once at the end. See docs/spec.md, "Running TLC".
 */
import { parseCfg } from './cfg.js';
import { cfgWith } from './cfg-sections.js';

export interface TlcSettings {
  /** TLC's -workers: a number, never `auto` (which on a shared CI machine takes every core). */
  readonly workers: number;
  /** Each TLC run is killed after this many seconds and reported as a failure. */
  readonly timeoutSeconds: number;
  /** Also check the bigger configs' liveness properties, as a step of its own. */
  readonly deepLiveness: boolean;
}

export const DEFAULT_TLC_SETTINGS: TlcSettings = { workers: 2, timeoutSeconds: 900, deepLiveness: false };

function positiveInteger(name: string, text: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1) throw new Error(`${name}=${text}: expected a whole number of at least 1`);
  return Number(text);
}

/** TLC_WORKERS, TLC_TIMEOUT (seconds) and TLC_DEEP_LIVENESS (1/true) over the defaults; throws on a bad value. */
export function tlcSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): TlcSettings {
  const flag = env.TLC_DEEP_LIVENESS;
  if (flag !== undefined && flag !== '' && !/^(0|1|true|false)$/i.test(flag)) {
    throw new Error(`TLC_DEEP_LIVENESS=${flag}: expected 1 or 0`);
  }
  return {
    workers: env.TLC_WORKERS === undefined || env.TLC_WORKERS === '' ? DEFAULT_TLC_SETTINGS.workers : positiveInteger('TLC_WORKERS', env.TLC_WORKERS),
    timeoutSeconds: env.TLC_TIMEOUT === undefined || env.TLC_TIMEOUT === '' ? DEFAULT_TLC_SETTINGS.timeoutSeconds : positiveInteger('TLC_TIMEOUT', env.TLC_TIMEOUT),
    deepLiveness: flag !== undefined && /^(1|true)$/i.test(flag),
  };
}

/** `full`: the config as it is; `invariants`: without its PROPERTIES; `liveness`: only its PROPERTIES, -lncheck final. */
export type TlcMode = 'full' | 'invariants' | 'liveness';

export interface TlcStep {
  /** The config file in spec/ the step derives from. */
  readonly config: string;
  readonly mode: TlcMode;
  /** How reports name the step, e.g. "RcVerbs_deep.cfg (invariants)". */
  readonly label: string;
  /** The cfg text TLC is given. */
  readonly cfgText: string;
}

/** Configs small enough for liveness under TLC in seconds: the ones CI runs through tla-checker too. */
export const isCiConfig = (name: string): boolean => /^RcVerbs_ci.*\.cfg$/.test(name);

export function tlcSteps(configs: readonly { readonly name: string; readonly text: string }[], settings: Pick<TlcSettings, 'deepLiveness'>): TlcStep[] {
  return configs.flatMap(({ name, text }): TlcStep[] => {
    if (isCiConfig(name)) return [{ config: name, mode: 'full', label: name, cfgText: text }];
    const cfg = parseCfg(text);
    const steps: TlcStep[] = [{
      config: name,
      mode: 'invariants',
      label: `${name} (invariants)`,
      cfgText: cfgWith(text, { invariants: cfg.invariants, properties: [] }),
    }];
    if (settings.deepLiveness && cfg.properties.length > 0) {
      steps.push({ config: name, mode: 'liveness', label: `${name} (liveness)`, cfgText: cfgWith(text, { invariants: [], properties: cfg.properties }) });
    }
    return steps;
  });
}

/** The bigger configs whose liveness the plan leaves out (for the log line that says so). */
export function livenessNotChecked(configs: readonly { readonly name: string; readonly text: string }[], settings: Pick<TlcSettings, 'deepLiveness'>): string[] {
  if (settings.deepLiveness) return [];
  return configs.filter(({ name, text }) => !isCiConfig(name) && parseCfg(text).properties.length > 0).map(({ name }) => name);
}

export interface TlcCommand {
  readonly jar: string;
  readonly module: string;
  /** The cfg file's name in TLC's working directory. */
  readonly cfgFile: string;
  /** Where TLC keeps its fingerprints and queue (a temporary directory, removed afterwards). */
  readonly metadir: string;
  readonly workers: number;
  readonly mode: TlcMode;
}

/** java's arguments for one step. Pure, so tests can read it without a JVM. */
export function tlcJavaArgs(c: TlcCommand): string[] {
  if (!Number.isInteger(c.workers) || c.workers < 1) throw new Error(`TLC workers must be a whole number of at least 1, not ${String(c.workers)}`);
  return [
    '-XX:+UseParallelGC',
    '-cp', c.jar,
    'tlc2.TLC',
    '-workers', String(c.workers),
    // A violation would otherwise write <Module>_TTrace_<time>.tla next to the spec.
    '-noGenerateSpecTE',
    '-metadir', c.metadir,
    ...(c.mode === 'liveness' ? ['-lncheck', 'final'] : []),
    '-config', c.cfgFile,
    `${c.module}.tla`,
  ];
}
