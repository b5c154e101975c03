/**
 * What `npm run bench` measures and the shape of bench/results.json (documented field by field in
 * docs/performance.md, which is generated from it).
 */

/** The workloads of issue #10: one-way SENDs with a window of WRs in flight, and a ping-pong. */
export const BENCH_PLAN = {
  rounds: 5,
  streams: [
    // `warmup` messages go first, untimed, on every path: V8 compiles the hot path and the kernel
    // grows the socket buffers meanwhile (a 4 KiB run measured from its first message averaged half
    // the rate of one measured after 250 k messages). At 64 KiB a run of 20 k messages after 10 k
    // (0.3 s) measured the ramp, not the stream: tcpverbs 62-67 k msg/s against raw's 79-81 k
    // (0.78-0.82x); 60 k after 40 k, alternating, 80-95 k against 90-95 k (median 0.93x).
    { size: 64, messages: 1_000_000, window: 64, warmup: 400_000 },
    { size: 4096, messages: 150_000, window: 64, warmup: 100_000 },
    { size: 65536, messages: 60_000, window: 16, warmup: 40_000 },
  ],
  pingpong: { size: 64, iterations: 10_000, warmup: 5_000 },
} as const;

/** The targets of issue #10, as ratios: what the report checks each run against. */
export const TARGETS = {
  64: { vsNet: 4, vsRaw: 0.3 },
  4096: { vsNet: 1.5, vsRaw: 0.7 },
  65536: { vsIperf3: 0.9, vsRaw: 0.9 },
  pingpong: { p50VsNet: 1.1, p99VsNet: 2 },
} as const;

/** One run of one path. */
export interface PathResult {
  seconds: number;
  /** CPU seconds of both processes, from the start of the transfer. */
  cpuSeconds: number;
  readsPerMessage: number;
  /** null: the path does not count them (plain net's write() calls are not syscalls). */
  writesPerMessage: number | null;
  rxCopiedBytesPerMessage: number;
  txCopiedBytesPerMessage: number;
  /** Frames both directions carried per message (tcpverbs only: SEND frames plus ACKs). */
  framesPerMessage: number | null;
}

export interface PathSummary {
  /** Medians over the rounds. */
  msgsPerSecond: number;
  /** The slowest and the fastest round: how far one run of this path can be from the median here. */
  msgsPerSecondMin: number;
  msgsPerSecondMax: number;
  gbitPerSecond: number;
  cpuSecondsPerGB: number;
  readsPerMessage: number;
  writesPerMessage: number | null;
  rxCopiedBytesPerMessage: number;
  txCopiedBytesPerMessage: number;
  framesPerMessage: number | null;
  rounds: number;
}

export interface StreamRow {
  size: number;
  messages: number;
  window: number;
  /** Untimed messages sent first on every path. */
  warmup: number;
  /** rawRc: the raw ceiling under RC's window and ACK coalescing (bench/baseline-side.ts). */
  paths: { tcpverbs: PathSummary; net: PathSummary; raw: PathSummary; rawRc: PathSummary };
  /** tcpverbs' message rate over each baseline's, medians of the same run. */
  ratios: { vsNet: number; vsRaw: number; vsRawRc: number };
  /** tcpverbs' rate over raw's within each round (the two ran back to back), in round order. */
  vsRawByRound: number[];
}

export interface PingpongResult {
  size: number;
  iterations: number;
  /** Unrecorded iterations before the measured ones, on both paths. */
  warmup: number;
  /** Half round trips, in microseconds: medians over the rounds of each round's p50 and p99. */
  tcpverbs: { p50Usec: number; p99Usec: number };
  net: { p50Usec: number; p99Usec: number };
}

export interface BenchResults {
  node: string;
  cpus: number;
  date: string;
  rounds: number;
  seconds: number;
  /** iperf3 single stream on loopback, Gbit/s; null when iperf3 is not installed. */
  iperf3Gbit: number | null;
  /**
   * CPU time the hypervisor took from this machine during the whole run, in % of all CPU time
   * (/proc/stat's steal column); null where the kernel does not report it. On a VM that shares
   * its host, the rates move with it: compare runs with their steal.
   */
  cpuStealPercent: number | null;
  streams: StreamRow[];
  pingpong: PingpongResult;
}
