import type { AdapterClient } from './adapter-client.js';

type R = Record<string, unknown>;

/** Completions one pollCq asks for at most (the protocol allows more; a case never needs them). */
const POLL_MAX = 64;
/** The pause between two empty polls. */
const POLL_PAUSE_MS = 2;

/**
 * Polls `cq` until `count` completions came or `ms` passed. A poll that returns more than it
 * asked for is reported through `overflow` (ibv_poll_cq(3): at most num_entries).
 */
export async function pollCqUntil(iut: AdapterClient, cq: string, count: number, ms: number, overflow: (problem: string) => void): Promise<R[]> {
  const wcs: R[] = [];
  const deadline = Date.now() + ms;
  while (wcs.length < count && Date.now() < deadline) {
    const max = Math.min(POLL_MAX, count - wcs.length);
    const polled = (await iut.request('pollCq', { cq, max }) as { wcs: R[] }).wcs;
    if (polled.length > max) overflow(`pollCq(max ${max}) returned ${polled.length} completions (ibv_poll_cq(3): at most num_entries)`);
    wcs.push(...polled);
    if (wcs.length < count) await new Promise((resolve) => setTimeout(resolve, POLL_PAUSE_MS));
  }
  return wcs;
}
