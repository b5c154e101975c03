/**
 * One TLC step (see tlc-plan.ts) run as `java ... tlc2.TLC`, bounded in time, with its progress
 * lines passed on as they come.
 *
 * TLC runs in a temporary copy of spec/'s modules with the step's cfg beside them: derived cfgs
 * (a config without its PROPERTIES) need a file, and nothing TLC writes can land in spec/.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatCount, type ConfigReport, type SpecStatus } from './config-report.js';
import { SPEC_DIR } from './paths.js';
import { SPEC_MODULE } from './tla-checker.js';
import { parseTlcProgress, readTlcOutput } from './tlc-output.js';
import { tlcJavaArgs, type TlcSettings, type TlcStep } from './tlc-plan.js';

export interface TlcRunOptions extends Pick<TlcSettings, 'workers' | 'timeoutSeconds'> {
  readonly onStatus?: SpecStatus;
  /** The java executable (default `java` on PATH); tests put a recorded transcript player here. */
  readonly java?: string;
  /** Seconds between SIGTERM and SIGKILL when the time bound is hit. */
  readonly killGraceSeconds?: number;
}

interface Exit {
  readonly output: string;
  readonly code: number | null;
  readonly timedOut: boolean;
}

function runBounded(java: string, args: readonly string[], cwd: string, options: TlcRunOptions, onLine: (line: string) => void): Promise<Exit> {
  return new Promise<Exit>((done, fail) => {
    const child = spawn(java, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let timedOut = false;
    // One partial line per stream: a chunk of stderr must not split a line of stdout.
    const partial = { stdout: '', stderr: '' };
    const take = (stream: keyof typeof partial) => (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output += text;
      const lines = (partial[stream] + text).split('\n');
      partial[stream] = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    };
    child.stdout.on('data', take('stdout'));
    child.stderr.on('data', take('stderr'));
    let killer: NodeJS.Timeout | undefined;
    const bound = setTimeout(() => {
      timedOut = true;
      // TLC's JVM exits on SIGTERM; SIGKILL in case a worker ignores it.
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), (options.killGraceSeconds ?? 5) * 1000);
    }, options.timeoutSeconds * 1000);
    child.once('error', (error) => {
      clearTimeout(bound);
      clearTimeout(killer);
      fail(error);
    });
    child.once('close', (code) => {
      clearTimeout(bound);
      clearTimeout(killer);
      for (const rest of Object.values(partial)) if (rest !== '') onLine(rest);
      done({ output, code, timedOut });
    });
  });
}

/** One step through TLC; never throws (a missing java is a failed report that says so). */
export async function checkWithTlc(jar: string, step: TlcStep, options: TlcRunOptions): Promise<ConfigReport> {
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const workdir = mkdtempSync(join(tmpdir(), 'tcpverbs-tlc-'));
  try {
    for (const file of readdirSync(SPEC_DIR).filter((f) => f.endsWith('.tla'))) copyFileSync(join(SPEC_DIR, file), join(workdir, file));
    const cfgFile = step.mode === 'full' ? step.config : step.config.replace(/\.cfg$/, `_${step.mode}.cfg`);
    writeFileSync(join(workdir, cfgFile), step.cfgText);
    const args = tlcJavaArgs({ jar, module: SPEC_MODULE, cfgFile, metadir: join(workdir, 'states'), workers: options.workers, mode: step.mode });
    const exit = await runBounded(options.java ?? 'java', args, workdir, options, (line) => {
      const p = parseTlcProgress(line);
      if (p !== null) {
        options.onStatus?.(`TLC ${step.label}: ${formatCount(p.distinct)} distinct states, depth ${p.depth}, ${formatCount(p.queued)} on the queue, ${elapsed().toFixed(0)} s`, 'tick');
      }
    });
    return readTlcOutput(step.label, exit.output, exit.code, elapsed(), exit.timedOut ? { timeoutSeconds: options.timeoutSeconds } : {});
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return {
      config: step.label, checker: 'TLC', ok: false, states: null, depth: null, seconds: elapsed(), violated: null, counterexample: null,
      problems: [`could not run ${options.java ?? 'java'} (TLC needs Java 11 or later on PATH): ${why}`],
    };
  } finally {
    rmSync(workdir, { recursive: true, force: true });
  }
}
