import { SingleBar, Presets } from 'cli-progress';
import type { Stage, StageOutcome } from './stages.js';

export interface RunOptions {
  /** Where progress and the table go (stderr keeps stdout clean for --json). */
  readonly log: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Runs stages in order; a stage that throws is a failed stage, not a crashed run. */
export async function runStages(stages: readonly Stage[], options: RunOptions): Promise<StageOutcome[]> {
  const outcomes: StageOutcome[] = [];
  for (const [i, stage] of stages.entries()) {
    const label = `[${i + 1}/${stages.length}] ${stage.title}`;
    const bar = options.log.isTTY
      ? new SingleBar({ format: `${label} {bar} {value}/{total}`, stream: options.log, clearOnComplete: true }, Presets.shades_classic)
      : null;
    if (bar === null) options.log.write(`${label} ...\n`);
    let started = false;
    const progress = (done: number, total: number) => {
      if (bar === null) return;
      if (!started) { bar.start(total, 0); started = true; }
      bar.update(done);
    };
    const t0 = performance.now();
    let outcome: StageOutcome;
    try {
      const result = await stage.run(progress);
      outcome = { ...result, name: stage.name, title: stage.title, seconds: (performance.now() - t0) / 1000 };
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      outcome = { ok: false, summary: 'threw an error', details: message.split('\n'), name: stage.name, title: stage.title, seconds: (performance.now() - t0) / 1000 };
    }
    if (started) bar?.stop();
    options.log.write(`${label} ${outcome.ok ? 'ok' : 'FAILED'} (${outcome.seconds.toFixed(1)} s): ${outcome.summary}\n`);
    outcomes.push(outcome);
  }
  return outcomes;
}

function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - text.length));
}

export function summaryTable(outcomes: readonly StageOutcome[]): string {
  const rows = outcomes.map((o) => [o.name, o.ok ? 'pass' : 'FAIL', `${o.seconds.toFixed(1)} s`, o.summary]);
  const header = ['stage', 'result', 'time', 'detail'];
  const widths = header.map((h, col) => Math.max(h.length, ...rows.map((r) => (r[col] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, col) => pad(c, widths[col] ?? 0)).join('  ').trimEnd();
  const failures = outcomes.filter((o) => !o.ok).flatMap((o) => o.details.map((d) => `  ${o.name}: ${d}`));
  const passed = outcomes.filter((o) => o.ok).length;
  return [
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `${passed} passed, ${outcomes.length - passed} failed`,
    ...(failures.length > 0 ? ['', 'failures:', ...failures] : []),
  ].join('\n');
}
