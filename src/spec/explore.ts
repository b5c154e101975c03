/**
 * Breadth-first exploration of the TypeScript transliteration: distinct states, depth, the
 * labelled edges, and the first invariant violation. Used to size configs, to compare with
 * tla-checker's state graph, and to generate traces.
 */
import { RcVerbsModel, stateKey, type SpecState, type Transition } from './model.js';
import { violatedInvariants } from './invariants.js';

export interface ExploreOptions {
  readonly maxStates?: number;
  /** Evaluate these invariants (names as in the spec) on every state. */
  readonly invariants?: readonly string[];
  /** Record every edge (for graph comparisons); memory grows with the graph. */
  readonly keepEdges?: boolean;
  readonly onProgress?: (states: number, depth: number) => void;
  /** Store 64-bit hashes instead of states (for counting big configs; paths are not kept). */
  readonly countOnly?: boolean;
}

export interface ExploreResult {
  readonly states: number;
  /** TLC's "depth of the complete state graph search": the longest shortest path, counting Init as 1. */
  readonly depth: number;
  readonly complete: boolean;
  readonly violation: { readonly invariant: string; readonly path: readonly { action: string; ep: string | null; state: SpecState }[] } | null;
  readonly keys: ReadonlySet<string> | null;
  readonly edges: ReadonlyMap<string, readonly { readonly action: string; readonly to: string }[]> | null;
}

/** Two 32-bit FNV-1a hashes of the text: a 64-bit key, collisions negligible below 10^9 states. */
function hash64(text: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15);
  }
  return (h1 >>> 0).toString(36) + ':' + (h2 >>> 0).toString(36);
}

function countStates(model: RcVerbsModel, options: ExploreOptions): ExploreResult {
  const maxStates = options.maxStates ?? Number.POSITIVE_INFINITY;
  const seen = new Set<string>();
  let frontier: SpecState[] = [model.init()];
  seen.add(hash64(stateKey(frontier[0]!)));
  let depth = 1;
  while (frontier.length > 0) {
    const nextFrontier: SpecState[] = [];
    for (const state of frontier) {
      for (const t of model.next(state)) {
        const k = hash64(stateKey(t.state));
        if (seen.has(k)) continue;
        seen.add(k);
        nextFrontier.push(t.state);
        if (seen.size >= maxStates) return { states: seen.size, depth: depth + 1, complete: false, violation: null, keys: null, edges: null };
      }
    }
    if (nextFrontier.length > 0) depth++;
    frontier = nextFrontier;
    options.onProgress?.(seen.size, depth);
  }
  return { states: seen.size, depth, complete: true, violation: null, keys: null, edges: null };
}

export function explore(model: RcVerbsModel, options: ExploreOptions = {}): ExploreResult {
  if (options.countOnly === true) return countStates(model, options);
  const maxStates = options.maxStates ?? Number.POSITIVE_INFINITY;
  const init = model.init();
  const parent = new Map<string, { from: string | null; t: Transition | null }>();
  const initKey = stateKey(init);
  parent.set(initKey, { from: null, t: null });
  const edges = options.keepEdges === true ? new Map<string, { action: string; to: string }[]>() : null;
  let frontier: { key: string; state: SpecState }[] = [{ key: initKey, state: init }];
  let depth = 1;

  const pathTo = (key: string) => {
    const path: { action: string; ep: string | null; state: SpecState }[] = [];
    for (let k: string | null = key; k !== null;) {
      const p: { from: string | null; t: Transition | null } = parent.get(k)!;
      path.unshift({ action: p.t?.action ?? 'Init', ep: p.t?.ep ?? null, state: p.t?.state ?? init });
      k = p.from;
    }
    return path;
  };
  const check = (key: string, state: SpecState) => {
    if (options.invariants === undefined) return null;
    const bad = violatedInvariants(model, state, options.invariants);
    return bad.length === 0 ? null : { invariant: bad[0]!, path: pathTo(key) };
  };

  const first = check(initKey, init);
  if (first !== null) return { states: 1, depth, complete: false, violation: first, keys: null, edges };

  while (frontier.length > 0) {
    const nextFrontier: { key: string; state: SpecState }[] = [];
    for (const { key, state } of frontier) {
      const out = edges === null ? null : [] as { action: string; to: string }[];
      for (const t of model.next(state)) {
        const k = stateKey(t.state);
        out?.push({ action: t.action, to: k });
        if (parent.has(k)) continue;
        parent.set(k, { from: key, t });
        const violation = check(k, t.state);
        if (violation !== null) return { states: parent.size, depth: depth + 1, complete: false, violation, keys: null, edges };
        nextFrontier.push({ key: k, state: t.state });
        if (parent.size >= maxStates) return { states: parent.size, depth: depth + 1, complete: false, violation: null, keys: new Set(parent.keys()), edges };
      }
      if (out !== null) edges!.set(key, out);
    }
    if (nextFrontier.length > 0) depth++;
    frontier = nextFrontier;
    options.onProgress?.(parent.size, depth);
  }
  return { states: parent.size, depth, complete: true, violation: null, keys: new Set(parent.keys()), edges };
}
