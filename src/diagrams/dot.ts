import type { StateRow } from '../../machines/relation.js';
import { childrenOf, leafName, type DiagramModel, type StayNote } from './model.js';

const nodeId = (path: string) => `"${path}"`;
const clusterId = (path: string) => `"cluster_${path}"`;
const quote = (text: string) => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** The node an edge attaches to: a compound state is drawn as a cluster entered at its initial child. */
function anchorOf(states: readonly StateRow[], path: string): { node: string; cluster: string | null } {
  const state = states.find((s) => s.path === path);
  if (state?.kind === 'compound' && state.initial !== null) {
    return { node: anchorOf(states, state.initial).node, cluster: clusterId(path) };
  }
  return { node: nodeId(path), cluster: null };
}

function declare(model: DiagramModel, parent: string, indent: string, stays: Map<string, readonly string[]>): string[] {
  const lines: string[] = [];
  for (const state of childrenOf(model.relation.states, parent)) {
    if (state.kind === 'compound') {
      const label = [leafName(state.path), ...(stays.get(state.path) ?? [])].join('\n');
      lines.push(`${indent}subgraph ${clusterId(state.path)} {`, `${indent}  label=${quote(label)}; style=rounded;`);
      lines.push(...declare(model, state.path, `${indent}  `, stays));
      lines.push(`${indent}}`);
      continue;
    }
    const stay = stays.get(state.path);
    const label = [leafName(state.path), ...(stay ?? [])].join('\n');
    const shape = state.kind === 'final' ? 'doublecircle' : 'box';
    lines.push(`${indent}${nodeId(state.path)} [label=${quote(label)}, shape=${shape}, style=rounded];`);
  }
  return lines;
}

function noteLines(stay: StayNote): string[] {
  return [...(stay.labels.length > 0 ? [`stays on ${stay.labels.join(', ')}`] : []), ...(stay.meta.length > 0 ? [stay.meta.join(', ')] : [])];
}

/** Graphviz DOT for a machine, the source of its SVG. */
export function toDot(model: DiagramModel): string {
  const { relation } = model;
  const states = relation.states;
  const stays = new Map(model.stays.map((s) => [s.state, noteLines(s)]));
  const lines = [
    `digraph ${quote(relation.id)} {`,
    '  compound=true; rankdir=TB; nodesep=0.5; fontname="Helvetica"; node [fontname="Helvetica", fontsize=11]; edge [fontname="Helvetica", fontsize=9];',
    '  "__start" [shape=point, width=0.15];',
    ...declare(model, '', '  ', stays),
    `  "__start" -> ${anchorOf(states, relation.initial).node};`,
  ];
  const rootStay = stays.get('');
  if (rootStay !== undefined) lines.push(`  "__every" [shape=note, label=${quote(`in every state:\n${rootStay.join('\n')}`)}];`);
  for (const edge of model.edges) {
    const from = anchorOf(states, edge.from);
    const to = anchorOf(states, edge.to);
    const attrs = [`label=${quote(edge.labels.join('\n'))}`];
    if (from.cluster !== null) attrs.push(`ltail=${from.cluster}`);
    if (to.cluster !== null) attrs.push(`lhead=${to.cluster}`);
    lines.push(`  ${from.node} -> ${to.node} [${attrs.join(', ')}];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
