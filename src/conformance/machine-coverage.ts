import { createActor, type AnyMachineSnapshot, type AnyStateMachine, type EventObject, type InspectionEvent } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import type { CatalogEntry, ExplorationStart } from '../../machines/catalog.js';
import { extractRelation, transitionIndex } from '../../machines/relation.js';

/** A generated test path: a start and the events that drive the machine from it. */
export interface GeneratedPath {
  readonly start: string;
  readonly events: readonly EventObject[];
}

export interface CoverageCount {
  readonly covered: number;
  readonly total: number;
  readonly missing: readonly string[];
}

export interface MachineCoverage {
  readonly machine: string;
  readonly states: CoverageCount;
  readonly transitions: CoverageCount;
  /** The paths that together reach the covered states and transitions. */
  readonly paths: readonly GeneratedPath[];
}

function startSnapshot(machine: AnyStateMachine, start: ExplorationStart): AnyMachineSnapshot {
  const initial = createActor(machine, { input: start.input }).getSnapshot() as AnyMachineSnapshot;
  if (start.resolveInto === undefined) return initial;
  return machine.resolveState({ value: start.resolveInto, context: initial.context }) as AnyMachineSnapshot;
}

/** The dotted paths of every state node the snapshot is in (`SQD` and `SQD.draining`). */
export function activeStatePaths(value: unknown, prefix = ''): string[] {
  if (typeof value === 'string') return [prefix + value];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, child]) => [
    prefix + key,
    ...activeStatePaths(child, `${prefix}${key}.`),
  ]);
}

interface Replay {
  readonly transitions: Set<string>;
  readonly states: Set<string>;
}

/** Runs `events` from `start` and records every transition definition taken and every state entered. */
export function replayPath(entry: CatalogEntry, start: ExplorationStart, events: readonly EventObject[]): Replay {
  const index = transitionIndex(entry.machine);
  const taken = new Set<string>();
  const states = new Set<string>();
  const inspect = (inspection: InspectionEvent) => {
    if (inspection.type !== '@xstate.microstep') return;
    for (const definition of inspection._transitions) {
      const row = index.get(definition);
      if (row !== undefined) taken.add(row.key);
    }
  };
  const snapshot = startSnapshot(entry.machine, start);
  const actor = start.resolveInto === undefined
    ? createActor(entry.machine, { input: start.input, inspect })
    : createActor(entry.machine, { input: start.input, snapshot, inspect });
  actor.start();
  const record = () => activeStatePaths(actor.getSnapshot().value).forEach((path) => states.add(path));
  record();
  for (const event of events) {
    actor.send(event);
    record();
  }
  actor.stop();
  return { transitions: taken, states };
}

/**
 * Transition-cover paths: the shortest path to every vertex of the exploration graph, extended by
 * every event of the alphabet there. A path is kept when it reaches a state or transition that no
 * kept path reached before.
 */
export function generateCoveringPaths(entry: CatalogEntry): MachineCoverage {
  const relation = extractRelation(entry.machine);
  const coveredTransitions = new Set<string>();
  const coveredStates = new Set<string>();
  const paths: GeneratedPath[] = [];
  for (const start of entry.starts) {
    const fromState = start.resolveInto === undefined ? undefined : startSnapshot(entry.machine, start);
    const shortest = getShortestPaths(entry.machine, {
      input: start.input,
      ...(fromState === undefined ? {} : { fromState }),
      // A finished actor takes no events; asking it only makes XState warn.
      events: (snapshot: AnyMachineSnapshot) => (snapshot.status === 'active' ? entry.events(snapshot) : []),
      serializeState: (snapshot: AnyMachineSnapshot) => entry.serialize(snapshot),
    } as never) as { state: AnyMachineSnapshot; steps: { event: EventObject }[] }[];
    for (const path of shortest) {
      const prefix = path.steps.map((step) => step.event).filter((event) => !event.type.startsWith('xstate.'));
      if (path.state.status !== 'active') {
        keepIfNew(prefix);
        continue;
      }
      for (const event of entry.events(path.state)) keepIfNew([...prefix, event]);
    }
    function keepIfNew(events: EventObject[]) {
      const replay = replayPath(entry, start, events);
      const fresh = [...replay.transitions].some((t) => !coveredTransitions.has(t)) || [...replay.states].some((s) => !coveredStates.has(s));
      if (!fresh) return;
      replay.transitions.forEach((t) => coveredTransitions.add(t));
      replay.states.forEach((s) => coveredStates.add(s));
      paths.push({ start: start.label, events });
    }
  }
  const allStates = relation.states.map((s) => s.path);
  const allTransitions = relation.transitions.map((t) => t.key);
  return {
    machine: entry.name,
    states: count(allStates, coveredStates),
    transitions: count(allTransitions, coveredTransitions),
    paths,
  };
}

function count(all: readonly string[], covered: ReadonlySet<string>): CoverageCount {
  const missing = all.filter((item) => !covered.has(item));
  return { covered: all.length - missing.length, total: all.length, missing };
}
