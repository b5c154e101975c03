import type { PerfOptions } from './options.js';
import { isLatency } from './options.js';
import type { PeerAddress } from './endpoint.js';

const RULE = '-'.repeat(87);
const MB = 1 << 20;

const TITLES: Record<string, string> = {
  send_bw: 'Send BW Test', write_bw: 'RDMA_Write BW Test', read_bw: 'RDMA_Read BW Test', atomic_bw: 'Atomic FETCH_AND_ADD BW Test',
  send_lat: 'Send Latency Test', write_lat: 'RDMA_Write Latency Test', read_lat: 'RDMA_Read Latency Test', atomic_lat: 'Atomic FETCH_AND_ADD Latency Test',
};

const hex = (n: number, width: number) => `0x${n.toString(16).padStart(width, '0')}`;

/** perftest's banner: the test, its settings, both ends' addresses. */
export function banner(o: PerfOptions, local: PeerAddress, remote: PeerAddress, v8SingleThreaded: boolean): string[] {
  const address = (label: string, a: PeerAddress) => ` ${label} address: QPN ${hex(a.qpNum, 4)} PSN ${hex(a.psn, 6)} RKey ${hex(a.rkey, 8)} VAddr ${hex(a.addr, 16)}`;
  return [
    RULE,
    `                    ${TITLES[o.test]}`,
    ` Number of qps   : 1\t\tTransport type : TCP (tcpverbs)`,
    ` Connection type : RC\t\tUsing SRQ      : OFF`,
    ` TX depth        : ${o.txDepth}`,
    ...(o.test === 'send_bw' || o.test === 'send_lat' ? [` RX depth        : ${o.rxDepth}`] : []),
    ` CQ Moderation   : ${o.cqMod}`,
    ...(isLatency(o.test) || o.warmupIters > 0 ? [` Warm-up iters   : ${o.warmupIters} (not recorded)`] : []),
    ` Mtu             : 4096[B]`,
    ` Link type       : TCP`,
    ` Max inline data : 0[B]`,
    ` ${o.useEvents ? 'Use Event       : ON' : 'Use Event       : OFF'}`,
    ` V8 threads      : ${v8SingleThreaded ? 'main only (--single-threaded)' : 'main + V8 helpers'}`,
    RULE,
    address('local', local),
    address('remote', remote),
    RULE,
  ];
}

export function bandwidthHeader(o: PerfOptions): string {
  const unit = o.reportGbits ? 'Gb/sec' : 'MB/sec';
  return ` #bytes     #iterations    BW peak[${unit}]    BW average[${unit}]   MsgRate[Mpps]`;
}

export function bandwidthRow(o: PerfOptions, size: number, iterations: number, peakBytesPerSecond: number, averageBytesPerSecond: number, messagesPerSecond: number): string {
  const scale = (bytesPerSecond: number) => (o.reportGbits ? (bytesPerSecond * 8) / 1e9 : bytesPerSecond / MB);
  return ` ${String(size).padEnd(10)} ${String(iterations).padEnd(14)} ${scale(peakBytesPerSecond).toFixed(2).padStart(14)}      ${scale(averageBytesPerSecond).toFixed(2).padStart(14)}\t\t   ${(messagesPerSecond / 1e6).toFixed(6)}`;
}

export function latencyHeader(): string {
  return ' #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec] ';
}

export function latencyRow(size: number, iterations: number, f: { min: number; max: number; typical: number; avg: number; stdev: number; p99: number; p999: number }): string {
  const c = (v: number, width: number) => v.toFixed(2).padStart(width);
  return ` ${String(size).padEnd(6)} ${String(iterations).padEnd(10)} ${c(f.min, 11)}    ${c(f.max, 11)}  ${c(f.typical, 11)}     ${c(f.avg, 11)}    ${c(f.stdev, 11)}    ${c(f.p99, 15)}        ${c(f.p999, 15)}`;
}

export const closingRule = (): string => RULE;
export const columnsHeader = (o: PerfOptions): string => (isLatency(o.test) ? latencyHeader() : bandwidthHeader(o));
