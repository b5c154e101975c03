import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { SINGLE_THREADED_FLAG } from '../perf/v8-threads.js';

/**
 * `tcpverbs perf` re-executes itself under `node --single-threaded`, as perftest users pin each
 * side to a core: the data path is one thread, and on a machine with as many cores as spinning
 * processes every V8 helper thread (concurrent compilation, parallel scavenges, ~200 wake-ups a
 * second here) preempts one of them for a scheduler slice, stalling both ends. Measured on the
 * 2-core machine, two processes, alternating runs: 64 B send_bw ~800 k → ~1.0-1.17 M msg/s,
 * 4 KiB ~346 k → ~424 k, 64 KiB ~44 k → ~52 k. The flag cannot be set once V8 runs (setting it
 * at run time crashed the process here), hence the second process.
 *
 * Resolves the child's exit code (128 + signal number if a signal ended it); the caller exits
 * with it and does nothing else. SIGINT/SIGTERM/SIGHUP sent to this process are passed on.
 */
export function reexecSingleThreaded(): Promise<number> {
  const args = [SINGLE_THREADED_FLAG, ...process.execArgv, ...process.argv.slice(1)];
  const child = spawn(process.execPath, args, { stdio: 'inherit' });
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const forward = (signal: NodeJS.Signals) => { child.kill(signal); };
  for (const signal of signals) process.on(signal, forward);
  return new Promise((resolve) => {
    const done = (code: number) => {
      for (const signal of signals) process.off(signal, forward);
      resolve(code);
    };
    child.once('error', (error) => {
      process.stderr.write(`tcpverbs perf: cannot start ${process.execPath} ${SINGLE_THREADED_FLAG}: ${error.message}\n`);
      done(2);
    });
    child.once('exit', (code, signal) => done(code ?? 128 + (signal === null ? 1 : constants.signals[signal])));
  });
}
