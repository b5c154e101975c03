/** One step of `tcpverbs verify`: a named check that reports what it saw. */
export interface StageResult {
  readonly ok: boolean;
  /** One line for the summary table. */
  readonly summary: string;
  /** Lines printed under the table when the stage failed (what was wrong, where). */
  readonly details: readonly string[];
}

/**
 * What a long stage is doing now, e.g. "TLC RcVerbs_deep.cfg: 1,234,567 distinct states". On a
 * terminal it is shown beside the stage's bar. In a log (not a TTY) a `milestone` (a config
 * started or finished) gets a line of its own and a `tick` (a running count) is sampled, so a
 * CI log reads like a story rather than a stream of counters.
 */
export type StageStatus = (text: string, kind?: 'milestone' | 'tick') => void;

export interface Stage {
  readonly name: string;
  readonly title: string;
  /** `progress(done, total)` drives the stage's bar; `status`, when the stage has more to say. */
  readonly run: (progress: (done: number, total: number) => void, status?: StageStatus) => Promise<StageResult>;
}

export interface StageOutcome extends StageResult {
  readonly name: string;
  readonly title: string;
  readonly seconds: number;
}
