/**
 * Variants of a TLC config with other INVARIANTS / PROPERTIES: the one-property reruns that name
 * a liveness violation (tla-checker), and TLC's separate safety and liveness steps.
 */

/** The cfg text with its INVARIANT(S) and PROPERTY/PROPERTIES sections replaced. */
export function cfgWith(cfgText: string, sections: { invariants: readonly string[]; properties: readonly string[] }): string {
  const dropped = new Set(['INVARIANT', 'INVARIANTS', 'PROPERTY', 'PROPERTIES']);
  const kept: string[] = [];
  let dropping = false;
  for (const line of cfgText.split('\n')) {
    const keyword = /^([A-Z_]+)(\s|$)/.exec(line)?.[1];
    if (keyword !== undefined) dropping = dropped.has(keyword);
    if (!dropping) kept.push(line);
  }
  const add = (keyword: string, names: readonly string[]) => (names.length === 0 ? [] : [keyword, ...names.map((n) => `  ${n}`)]);
  return [...kept, ...add('INVARIANTS', sections.invariants), ...add('PROPERTIES', sections.properties), ''].join('\n');
}
