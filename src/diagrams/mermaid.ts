import { childrenOf, leafName, type DiagramModel } from './model.js';

const idOf = (path: string) => path.replace(/\./g, '_');
const escape = (text: string) => text.replace(/:/g, '#58;').replace(/;/g, '#59;');

function declareStates(model: DiagramModel, parent: string, indent: string): string[] {
  const lines: string[] = [];
  for (const state of childrenOf(model.relation.states, parent)) {
    const id = idOf(state.path);
    if (state.kind === 'compound') {
      lines.push(`${indent}state "${leafName(state.path)}" as ${id} {`);
      if (state.initial !== null) lines.push(`${indent}  [*] --> ${idOf(state.initial)}`);
      lines.push(...declareStates(model, state.path, `${indent}  `));
      lines.push(`${indent}}`);
    } else {
      lines.push(`${indent}state "${leafName(state.path)}" as ${id}`);
    }
  }
  return lines;
}

/** Mermaid `stateDiagram-v2` text for a machine: one edge per pair of state nodes. */
export function toMermaid(model: DiagramModel): string {
  const { relation } = model;
  const lines = ['stateDiagram-v2', ...declareStates(model, '', '  '), `  [*] --> ${idOf(relation.initial)}`];
  for (const edge of model.edges) {
    lines.push(`  ${idOf(edge.from)} --> ${idOf(edge.to)} : ${edge.labels.map(escape).join('<br/>')}`);
  }
  for (const state of relation.states.filter((s) => s.kind === 'final')) lines.push(`  ${idOf(state.path)} --> [*]`);
  for (const stay of model.stays) {
    const anchor = stay.state === '' ? relation.initial : stay.state;
    const prefix = stay.state === '' ? 'in every state' : 'stays on';
    lines.push(`  note right of ${idOf(anchor)}`);
    if (stay.labels.length > 0) lines.push(`    ${prefix}: ${stay.labels.map(escape).join(', ')}`);
    if (stay.meta.length > 0) lines.push(`    ${stay.meta.map(escape).join(', ')}`);
    lines.push('  end note');
  }
  return `${lines.join('\n')}\n`;
}
