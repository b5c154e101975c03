import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';

/**
 * A machine's structure as plain data: what tests, diagrams and the TLA+ generator consume.
 * Transitions are listed in the machine's own priority order; an eventless (`always`) transition
 * has event `''`.
 */
export interface TransitionRow {
  /** Key that names this transition definition: `from|event|index`. */
  readonly key: string;
  /** Dotted path of the state node that declares it (`SQD`, `hardwareOwned.sent`). */
  readonly from: string;
  readonly event: string;
  /** Position among the candidates of `from` for `event`: the first whose guard holds is taken. */
  readonly index: number;
  readonly guard: string | null;
  /** Target paths; empty for a transition that stays (a self-modify, an action-only event). */
  readonly to: readonly string[];
  readonly actions: readonly string[];
}

export interface StateRow {
  readonly path: string;
  readonly kind: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  readonly initial: string | null;
  readonly description: string | null;
  readonly meta: unknown;
}

export interface MachineRelation {
  readonly id: string;
  readonly initial: string;
  readonly states: readonly StateRow[];
  readonly transitions: readonly TransitionRow[];
}

function describeGuard(guard: unknown): string | null {
  if (guard === undefined || guard === null) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && 'type' in guard) {
    const params = (guard as { params?: unknown }).params;
    return params === undefined ? String((guard as { type: unknown }).type) : `${String((guard as { type: unknown }).type)}(${JSON.stringify(params)})`;
  }
  if (typeof guard === 'function') {
    // and()/or()/not() guards carry their operands.
    const composite = guard as { guards?: unknown[]; name?: string };
    if (Array.isArray(composite.guards)) {
      const op = (composite.name ?? '').replace(/Guard$/, '') || 'combined';
      return `${op}(${composite.guards.map(describeGuard).join(', ')})`;
    }
  }
  throw new Error(`machines/relation: inline guard ${String(guard)}; name every guard in setup()`);
}

function describeAction(action: unknown): string {
  if (typeof action === 'string') return action;
  if (typeof action === 'object' && action !== null && 'type' in action) return String((action as { type: unknown }).type);
  if (typeof action === 'function') return (action as { type?: string }).type ?? 'inline';
  return String(action);
}

const pathOf = (node: AnyStateNode) => node.path.join('.');

function childNodes(node: AnyStateNode): AnyStateNode[] {
  return Object.values(node.states as Record<string, AnyStateNode>);
}

function rowsOf(node: AnyStateNode): { key: string; definition: AnyTransitionDefinition; row: TransitionRow }[] {
  const from = pathOf(node);
  const grouped: [string, readonly AnyTransitionDefinition[]][] = [
    ...(Object.entries(node.on) as [string, AnyTransitionDefinition[]][]),
    ...(node.always ? [['', node.always] as [string, AnyTransitionDefinition[]]] : []),
  ];
  return grouped.flatMap(([event, definitions]) =>
    definitions.map((definition, index) => {
      const key = `${from}|${event}|${index}`;
      return {
        key,
        definition,
        row: {
          key,
          from,
          event,
          index,
          guard: describeGuard(definition.guard),
          to: (definition.target ?? []).map(pathOf),
          actions: definition.actions.map(describeAction),
        },
      };
    }),
  );
}

function allNodes(node: AnyStateNode): AnyStateNode[] {
  return [node, ...childNodes(node).flatMap(allNodes)];
}

/** Every transition definition of the machine, with its row, keyed by the definition object itself. */
export function transitionIndex(machine: AnyStateMachine): Map<AnyTransitionDefinition, TransitionRow> {
  return new Map(allNodes(machine.root).flatMap(rowsOf).map(({ definition, row }) => [definition, row]));
}

export function extractRelation(machine: AnyStateMachine): MachineRelation {
  const nodes = allNodes(machine.root).filter((node) => node !== machine.root);
  return {
    id: machine.id,
    initial: pathOf(machine.root.initial.target[0] as AnyStateNode),
    states: nodes.map((node) => ({
      path: pathOf(node),
      kind: node.type,
      initial: node.type === 'compound' && node.initial.target[0] ? pathOf(node.initial.target[0] as AnyStateNode) : null,
      description: node.description ?? null,
      meta: node.meta ?? null,
    })),
    transitions: [...transitionIndex(machine).values()],
  };
}
