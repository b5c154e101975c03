import { describe, expect, it } from 'vitest';
import { cfgWith, compareGraphs, readTlcOutput } from '../../src/spec/check-spec.js';
import { parseCfg, specConstants } from '../../src/spec/cfg.js';
import { fromTla, RcVerbsModel, toTla } from '../../src/spec/model.js';
import { loadQpTables } from '../../src/spec/qp-tables.js';
import { explore } from '../../src/spec/explore.js';
import { PLANTED_LIVENESS_CFG } from '../../src/spec/planted-bugs.js';
import type { StateGraph } from '../../src/spec/tla-checker.js';

const model = () => new RcVerbsModel(specConstants(parseCfg(PLANTED_LIVENESS_CFG)), loadQpTables());

/** The transliteration's own graph in the checker's form: the comparison's fixed point. */
function graphOf(m: RcVerbsModel): { graph: StateGraph; ids: Map<string, string> } {
  const result = explore(m, { keepEdges: true });
  const ids = new Map([...result.keys!].map((k, i) => [k, `s${i}`]));
  const nodes = new Map([...result.keys!].map((k) => [ids.get(k)!, toTla(JSON.parse(k))]));
  const edges = [...result.edges!].flatMap(([from, outs]) => outs.map(({ to }) => [ids.get(from)!, ids.get(to)!] as const));
  return { graph: { nodes, edges }, ids };
}

describe('check-spec: the pieces that judge a run', () => {
  it('cfgWith swaps the invariant and property sections and keeps the constants', () => {
    const text = cfgWith(PLANTED_LIVENESS_CFG, { invariants: ['TypeOK'], properties: [] });
    const cfg = parseCfg(text);
    expect(cfg.invariants).toEqual(['TypeOK']);
    expect(cfg.properties).toEqual([]);
    expect(specConstants(cfg)).toEqual(specConstants(parseCfg(PLANTED_LIVENESS_CFG)));
  });

  it('the graph comparison accepts an equal graph and names a missing step or an extra state', () => {
    const m = model();
    const { graph } = graphOf(m);
    expect(compareGraphs(graph, m)).toEqual([]);
    const fewerEdges: StateGraph = { nodes: graph.nodes, edges: graph.edges.slice(1) };
    expect(compareGraphs(fewerEdges, m).join('\n')).toMatch(/1 steps of the transliteration are not steps of the spec/);
    const init = fromTla(graph.nodes.get('s0')!);
    const invented = { ...init, conn: 'down' as const, audit: ['DataPlacedSafely'] };
    const moreNodes: StateGraph = { nodes: new Map([...graph.nodes, ['s999999', toTla(invented)]]), edges: graph.edges };
    expect(compareGraphs(moreNodes, m).join('\n')).toMatch(/1 states of the spec are not reached by the transliteration/);
  }, 60_000);

  it('reads TLC\'s verdicts: a pass with states and depth, an invariant violation, a parse error', () => {
    const pass = readTlcOutput('RcVerbs_deep.cfg', [
      'TLC2 Version 2.19',
      'Model checking completed. No error has been found.',
      '1,234,567 states generated, 1,000,001 distinct states found, 0 states left on queue.',
      'The depth of the complete state graph search is 53.',
    ].join('\n'), 0, 12.5);
    expect(pass).toMatchObject({ ok: true, states: 1_000_001, depth: 53, violated: null, problems: [] });
    const bad = readTlcOutput('x.cfg', [
      'Error: Invariant EveryWrInOnePlace is violated.',
      'Error: The behavior up to this point is:',
      'State 1: <Initial predicate>',
      '/\\ qp = [A |-> "RESET", B |-> "RESET"]',
      '12 states generated, 10 distinct states found, 2 states left on queue.',
    ].join('\n'), 12, 1);
    expect(bad.ok).toBe(false);
    expect(bad.violated).toBe('EveryWrInOnePlace');
    expect(bad.counterexample).toContain('State 1: <Initial predicate>');
    const broken = readTlcOutput('x.cfg', '***Parse Error***\nError: could not parse RcVerbs', 255, 1);
    expect(broken.ok).toBe(false);
    expect(broken.problems.join(' ')).toMatch(/TLC exited 255/);
  });
});
