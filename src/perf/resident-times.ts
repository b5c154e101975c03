/**
 * `n` zeroed timestamps, their pages touched now. Untouched, the first write to each page (one in
 * 512 entries) faulted inside the timed run: clear_page and memcg charging in the sender's
 * profile, ~1 % of a 64 B send_bw, and a microsecond added to one round trip in 512.
 */
export function residentTimes(n: number): Float64Array {
  return new Float64Array(n).fill(0);
}
