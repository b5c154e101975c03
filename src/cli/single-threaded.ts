import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { SINGLE_THREADED_FLAG } from '../perf/v8-threads.js';

/** Signals that mean the child crashed (and dump core): reported, not re-raised. */
const CRASH_SIGNALS: ReadonlySet<NodeJS.Signals> = new Set(['SIGABRT', 'SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGTRAP', 'SIGSYS', 'SIGQUIT']);

/** Set in the re-executed child's environment: it is the measured process, its parent only waits. */
const CHILD_MARK = 'TCPVERBS_PERF_REEXEC';

/**
 * Node flags the child must not inherit: the inspector listens on one port per process, and the
 * parent (which only waits) already holds it. A flag given as two arguments takes its value along.
 */
const PARENT_ONLY_FLAG = /^--(inspect|inspect-brk|inspect-wait|debug|debug-brk|inspect-port|debug-port|inspect-publish-uid)(=|$)/;
const TAKES_A_VALUE = new Set(['--inspect-port', '--debug-port', '--inspect-publish-uid']);

/** The parent's Node flags the child runs with: all but the parent-only ones (and their values). */
export function childExecArgv(execArgv: readonly string[]): { kept: string[]; dropped: string[] } {
  const kept: string[] = [];
  const dropped: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i]!;
    if (!PARENT_ONLY_FLAG.test(flag)) {
      kept.push(flag);
      continue;
    }
    dropped.push(flag);
    if (TAKES_A_VALUE.has(flag) && i + 1 < execArgv.length) dropped.push(execArgv[++i]!);
  }
  return { kept, dropped };
}

/**
 * `tcpverbs perf` re-executes itself under `node --single-threaded`, as perftest users pin each
 * side to a core: the data path is one thread, and on a machine with as many cores as spinning
 * processes every V8 helper thread (concurrent compilation, parallel scavenges, ~200 wake-ups a
 * second here) preempts one of them for a scheduler slice, stalling both ends. Measured on the
 * 2-core machine, two processes, alternating runs: 64 B send_bw ~800 k → ~1.0-1.17 M msg/s,
 * 4 KiB ~346 k → ~424 k, 64 KiB ~44 k → ~52 k. The flag cannot be set once V8 runs (setting it
 * at run time crashed the process here), hence the second process.
 *
 * The two live and die together: SIGINT/SIGTERM/SIGHUP sent to this process are passed on; the
 * child holds an IPC channel to this process and exits when it closes, so a parent killed
 * outright (SIGKILL) leaves no orphan spinning a core; a child ended by a signal ends this
 * process by the same signal, except a crash (SIGSEGV, SIGABRT…), reported as 128 + n. Resolves the child's exit code otherwise; the caller exits with
 * it and does nothing else.
 */
export function reexecSingleThreaded(): Promise<number> {
  const { kept, dropped } = childExecArgv(process.execArgv);
  if (dropped.length > 0) {
    process.stderr.write(`tcpverbs perf: ${dropped.join(' ')} applies to this process only; the measured process runs without it (--v8-helper-threads runs everything in this one)\n`);
  }
  const args = [SINGLE_THREADED_FLAG, ...kept, ...process.argv.slice(1)];
  const child = spawn(process.execPath, args, { stdio: ['inherit', 'inherit', 'inherit', 'ipc'], env: { ...process.env, [CHILD_MARK]: '1' } });
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const forward = (signal: NodeJS.Signals) => { child.kill(signal); };
  for (const signal of signals) process.on(signal, forward);
  // The channel is the child's lifeline, never a reason for this process to stay.
  child.channel?.unref();
  return new Promise((resolve) => {
    const done = (code: number) => {
      for (const signal of signals) process.off(signal, forward);
      resolve(code);
    };
    child.once('error', (error) => {
      process.stderr.write(`tcpverbs perf: cannot start ${process.execPath} ${SINGLE_THREADED_FLAG}: ${error.message}\n`);
      done(2);
    });
    child.once('exit', (code, signal) => {
      if (signal === null) return done(code ?? 1);
      if (CRASH_SIGNALS.has(signal)) {
        // A crash is the child's: re-raised here it would dump this process's core over its own.
        process.stderr.write(`tcpverbs perf: the measured process died of ${signal}\n`);
        return done(128 + constants.signals[signal]);
      }
      // As a shell sees it: this process ends by the signal that ended the measured one (done
      // first: it stops forwarding, so the signal takes its default action here). Should it not
      // end this process after all, the code is the shell's for it.
      done(128 + constants.signals[signal]);
      process.kill(process.pid, signal);
    });
  });
}

/**
 * In the re-executed child: exit once the parent's IPC channel closes (the parent died, even by
 * SIGKILL). A no-op in any other process. The channel never keeps the child alive.
 */
export function exitWithParent(): void {
  if (process.env[CHILD_MARK] !== '1' || process.channel === undefined) return;
  const gone = (): never => {
    process.stderr.write('tcpverbs perf: the parent process is gone; stopping\n');
    process.exit(129);
  };
  // Null once the channel has closed: the parent died while this process was starting.
  if (process.channel === null) gone();
  process.channel.unref();
  process.once('disconnect', gone);
}
