/**
 * What one model-checker run on one config found, in the same terms for tla-checker and TLC, and
 * how `check:spec` prints it.
 */

export interface ConfigReport {
  readonly config: string;
  readonly checker: 'tla-checker' | 'TLC';
  readonly ok: boolean;
  readonly states: number | null;
  readonly depth: number | null;
  readonly seconds: number;
  /** The invariant or property a counterexample breaks. */
  readonly violated: string | null;
  /** A readable trace, when the checker found a counterexample. */
  readonly counterexample: string | null;
  /** Anything else that went wrong: disagreements with the transliteration, checker errors. */
  readonly problems: readonly string[];
}

/**
 * What a check is doing while it runs, for a progress display. A `milestone` (a config started or
 * finished) is worth a line in a CI log; a `tick` (TLC's periodic state count) is shown on a
 * terminal and sampled in a log, so that a long run does not flood it.
 */
export type SpecStatus = (text: string, kind: 'milestone' | 'tick') => void;

export const formatCount = (n: number | null): string => (n === null ? '?' : n.toLocaleString('en-US'));

/** The report's first line: checker, config, verdict, states, depth, time. */
export function reportHeadline(r: ConfigReport): string {
  const depth = r.depth === null ? '' : `, depth ${formatCount(r.depth)}`;
  const head = `${r.checker.padEnd(11)} ${r.config.padEnd(22)} ${(r.ok ? 'pass' : 'FAIL').padEnd(4)}  states ${formatCount(r.states)}${depth}, ${r.seconds.toFixed(1)} s`;
  return head + (r.violated === null ? '' : `; violated: ${r.violated}`);
}

export function describeReport(r: ConfigReport): string {
  return [
    reportHeadline(r),
    ...r.problems.map((p) => `  ${p}`),
    ...(r.counterexample === null ? [] : [r.counterexample]),
  ].join('\n');
}
