import { describe, expect, it } from 'vitest';
import { qpTablesFresh, renderQpTables } from '../../src/spec/generate-tables.js';
import { loadQpTables, parseQpTables } from '../../src/spec/qp-tables.js';
import { QP_MODIFY_TABLE } from '../../machines/qp-modify-table.js';
import { QP_POST_ADMISSION } from '../../machines/qp-post-admission.js';
import { inlineTables, readSpecText } from '../../src/spec/tla-checker.js';

describe('spec/QpTables.tla: the spec reads its QP tables from machines/', () => {
  it('the committed module is what the machines generate (run `npx tsx src/spec/generate-tables.ts` if not)', async () => {
    expect(await qpTablesFresh()).toBe(true);
  });

  it('the tables the spec reads are the machines\' modify table and post admission, pair for pair', () => {
    const tables = loadQpTables();
    const pairs = QP_MODIFY_TABLE.map((r) => [r.from, r.to] as const);
    expect(tables.ModifyPairs.size).toBe(pairs.length);
    for (const [from, to] of pairs) expect(tables.modifyAllowed(from, to)).toBe(true);
    expect(tables.modifyAllowed('RESET', 'ERR')).toBe(false);
    expect(tables.modifyAllowed('INIT', 'RTS')).toBe(false);
    for (const state of tables.QpStates) {
      expect(tables.PostSendVerdict[state]).toBe(QP_POST_ADMISSION[state as keyof typeof QP_POST_ADMISSION].postSend);
      expect(tables.PostRecvVerdict[state]).toBe(QP_POST_ADMISSION[state as keyof typeof QP_POST_ADMISSION].postRecv);
    }
  });

  it('a table edited by hand is noticed: a changed pair makes the module stale', () => {
    const text = renderQpTables();
    const edited = text.replace('<<"RESET", "INIT">>', '<<"RESET", "RTS">>');
    expect(edited).not.toBe(text);
    expect(parseQpTables(edited).modifyAllowed('RESET', 'RTS')).toBe(true);
    expect(parseQpTables(text).modifyAllowed('RESET', 'RTS')).toBe(false);
  });

  it('the one-module source for tla-checker holds every table definition and no second EXTENDS of QpTables', () => {
    const source = inlineTables(readSpecText());
    for (const name of ['QpStates', 'ModifyPairs', 'ModifyTargets', 'PostSendVerdict', 'PostRecvVerdict', 'QpMachineSteps']) {
      expect(source).toMatch(new RegExp(`^${name} ==`, 'm'));
    }
    expect(source).toMatch(/^EXTENDS Naturals, Sequences, FiniteSets$/m);
    expect(() => inlineTables('---- MODULE X ----\nEXTENDS Naturals\n====')).toThrow(/does not extend QpTables/);
  });
});
