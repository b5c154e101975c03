/** One step of `tcpverbs verify`: a named check that reports what it saw. */
export interface StageResult {
  readonly ok: boolean;
  /** One line for the summary table. */
  readonly summary: string;
  /** Lines printed under the table when the stage failed (what was wrong, where). */
  readonly details: readonly string[];
}

export interface Stage {
  readonly name: string;
  readonly title: string;
  readonly run: (progress: (done: number, total: number) => void) => Promise<StageResult>;
}

export interface StageOutcome extends StageResult {
  readonly name: string;
  readonly title: string;
  readonly seconds: number;
}
