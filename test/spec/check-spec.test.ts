import { describe, expect, it } from 'vitest';
import { cfgWith, compareGraphs } from '../../src/spec/check-spec.js';
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
    // The exploration checkWithTlaChecker takes first (for its progress line) gives the same verdict.
    expect(compareGraphs(fewerEdges, m, explore(m, { keepEdges: true }))).toEqual(compareGraphs(fewerEdges, m));
    const init = fromTla(graph.nodes.get('s0')!);
    const invented = { ...init, conn: 'down' as const, audit: ['DataPlacedSafely'] };
    const moreNodes: StateGraph = { nodes: new Map([...graph.nodes, ['s999999', toTla(invented)]]), edges: graph.edges };
    expect(compareGraphs(moreNodes, m).join('\n')).toMatch(/1 states of the spec are not reached by the transliteration/);
  }, 60_000);

  // TLC's output is read in test/spec/tlc-output.test.ts, on real transcripts (test/fixtures/tlc/).
});
