import { Presets, SingleBar } from 'cli-progress';
import type { Stage, StageOutcome, StageStatus } from './stages.js';

export interface RunOptions {
  /** Where progress and the table go (stderr keeps stdout clean for --json). */
  readonly log: NodeJS.WritableStream & { isTTY?: boolean };
  /** Not on a TTY: at most one `tick` status line in this many seconds (default 30). */
  readonly tickEverySeconds?: number;
  /** Milliseconds since some origin; tests step it by hand. */
  readonly now?: () => number;
}

/** A stage's bar on a terminal, or plain lines in a log: what `progress` and `status` do. */
function reporter(label: string, shortLabel: string, options: RunOptions) {
  const now = options.now ?? (() => performance.now());
  const tickEvery = (options.tickEverySeconds ?? 30) * 1000;
  const bar = options.log.isTTY === true
    ? new SingleBar({ format: '{head} {bar} {value}/{total} {duration_formatted} {status}', barsize: 20, stream: options.log, clearOnComplete: true }, Presets.shades_classic)
    : null;
  if (bar === null) options.log.write(`${label} ...\n`);
  let started = false;
  const start = (total: number) => {
    if (bar === null || started) return;
    bar.start(total, 0, { head: label, status: '' });
    started = true;
  };
  const progress = (done: number, total: number) => {
    if (bar === null) return;
    start(total);
    if (bar.getTotal() !== total) bar.setTotal(total);
    bar.update(done);
  };
  let lastTick = Number.NEGATIVE_INFINITY;
  const status: StageStatus = (text, kind = 'milestone') => {
    if (bar !== null) {
      start(1);
      // The short name leaves the status room: cli-progress cuts the line at the terminal's width.
      bar.update({ head: shortLabel, status: text });
      // Draw now: the stage may block the event loop next (tla-checker is one synchronous call),
      // and the bar's own redraw timer would not fire until it returns.
      bar.render();
      return;
    }
    if (kind === 'tick') {
      if (now() - lastTick < tickEvery) return;
      lastTick = now();
    }
    options.log.write(`  ${text}\n`);
  };
  const stop = () => { if (started) bar?.stop(); };
  return { progress, status, stop };
}

/** Runs stages in order; a stage that throws is a failed stage, not a crashed run. */
export async function runStages(stages: readonly Stage[], options: RunOptions): Promise<StageOutcome[]> {
  const outcomes: StageOutcome[] = [];
  for (const [i, stage] of stages.entries()) {
    const label = `[${i + 1}/${stages.length}] ${stage.title}`;
    const shown = reporter(label, `[${i + 1}/${stages.length}] ${stage.name}`, options);
    const t0 = performance.now();
    let outcome: StageOutcome;
    try {
      const result = await stage.run(shown.progress, shown.status);
      outcome = { ...result, name: stage.name, title: stage.title, seconds: (performance.now() - t0) / 1000 };
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      outcome = { ok: false, summary: 'threw an error', details: message.split('\n'), name: stage.name, title: stage.title, seconds: (performance.now() - t0) / 1000 };
    }
    shown.stop();
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
