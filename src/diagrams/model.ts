import type { MachineRelation, StateRow, TransitionRow } from '../../machines/relation.js';

/** One drawn edge: every transition between the same two state nodes, merged. */
export interface DiagramEdge {
  readonly from: string;
  readonly to: string;
  /** `EVENT` or `EVENT [guard]`, once each, in the machine's order. */
  readonly labels: readonly string[];
}

/** Transitions that do not leave their state: listed beside the state instead of drawn as loops. */
export interface StayNote {
  readonly state: string;
  readonly labels: readonly string[];
  /** The state's meta, as `key=value` words. */
  readonly meta: readonly string[];
}

export interface DiagramModel {
  readonly relation: MachineRelation;
  readonly edges: readonly DiagramEdge[];
  readonly stays: readonly StayNote[];
}

/** Guard params (a QP rule's from/to) repeat what the edge shows; the guard's name is enough. */
function labelOf(row: TransitionRow): string {
  const event = row.event === '' ? '(always)' : row.event;
  // An unguarded candidate after guarded ones is the machine's "otherwise".
  if (row.guard === null) return row.index > 0 ? `${event} [else]` : event;
  return `${event} [${row.guard.replace(/\(\{.*\}\)$/, '')}]`;
}

/** A state's meta as `key=value` words (the QP's post admission, for instance). */
export function metaWords(meta: unknown): string[] {
  if (meta === null || typeof meta !== 'object') return [];
  return Object.entries(meta as Record<string, unknown>).flatMap(([key, value]) =>
    value !== null && typeof value === 'object' ? metaWords(value) : [`${key}=${String(value)}`]);
}

function pushUnique(map: Map<string, string[]>, key: string, label: string): void {
  const labels = map.get(key) ?? [];
  if (!labels.includes(label)) labels.push(label);
  map.set(key, labels);
}

export function diagramModel(relation: MachineRelation): DiagramModel {
  const edgeLabels = new Map<string, string[]>();
  const stayLabels = new Map<string, string[]>();
  for (const row of relation.transitions) {
    const leaves = row.to.filter((target) => target !== row.from);
    if (leaves.length === 0) {
      pushUnique(stayLabels, row.from, labelOf(row));
      continue;
    }
    for (const target of leaves) pushUnique(edgeLabels, `${row.from}\u0000${target}`, labelOf(row));
  }
  const edges = [...edgeLabels].map(([key, labels]) => {
    const [from = '', to = ''] = key.split('\u0000');
    return { from, to, labels };
  });
  const metaOf = (path: string) => metaWords(relation.states.find((s) => s.path === path)?.meta ?? null);
  const noted = ['', ...relation.states.map((s) => s.path)].filter((path) => stayLabels.has(path) || metaOf(path).length > 0);
  const stays = noted.map((state) => ({ state, labels: stayLabels.get(state) ?? [], meta: metaOf(state) }));
  return { relation, edges, stays };
}

export const leafName = (path: string) => path.split('.').pop() ?? path;

/** The direct children of `parent` ('' for the machine's top-level states). */
export function childrenOf(states: readonly StateRow[], parent: string): StateRow[] {
  const depth = parent === '' ? 0 : parent.split('.').length;
  return states.filter((s) => s.path.split('.').length === depth + 1 && (parent === '' || s.path.startsWith(`${parent}.`)));
}
