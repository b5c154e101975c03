/**
 * Room for `n` timestamps. For a counted run (`touch`) its pages are touched now: untouched, the
 * first write to each page (one in 512 entries) faulted inside the timed run, clear_page and
 * memcg charging in the sender's profile, ~1 % of a 64 B send_bw, and a microsecond added to one
 * round trip in 512. A -D run's room is its upper bound (4 Mi entries, 32 MiB), most of which a
 * short run never uses: it is left to fault as it fills.
 */
export function residentTimes(n: number, touch: boolean): Float64Array {
  const times = new Float64Array(n);
  return touch ? times.fill(0) : times;
}
