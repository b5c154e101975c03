/** The V8 flag `tcpverbs perf` runs under (src/cli/single-threaded.ts): no compiler or GC helper threads. */
export const SINGLE_THREADED_FLAG = '--single-threaded';

/** True when this process runs V8 without helper threads. */
export const runsSingleThreaded = (): boolean => process.execArgv.includes(SINGLE_THREADED_FLAG);
