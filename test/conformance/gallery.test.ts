import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { conform } from '../../src/conformance/kit/conform.js';
import type { ConformReport } from '../../src/conformance/kit/report.js';

const ROOT = resolve(import.meta.dirname, '../..');
const NODE = `"${process.execPath}" --import tsx`;

/**
 * The gallery: deliberately wrong variants of the reference (test/conformance/mutants/), each run
 * through `tcpverbs conform` on the groups that concern it; each must be rejected (exit 1) with
 * the cases named here among the failures. The mutation score is printed at the end.
 */
const GALLERY: readonly { mutant: string; groups: string; caught: readonly string[] }[] = [
  { mutant: 'lax-rtr-to-rts', groups: 'qp-modify', caught: ['RTR→RTS STATE|TIMEOUT|RETRY_CNT|RNR_RETRY|MAX_QP_RD_ATOMIC'] },
  { mutant: 'post-send-in-rtr', groups: 'post-admission', caught: ['post_send in RTR'] },
  { mutant: 'mr-grants-remote-write', groups: 'remote-access', caught: ['RDMA_WRITE mr-lacks-right'] },
  { mutant: 'imm-data-lost', groups: 'sends', caught: ['SEND_WITH_IMM: the receive carries the immediate', 'RDMA_WRITE_WITH_IMM consumes a receive'] },
  { mutant: 'completions-reordered', groups: 'sends', caught: ['8 SENDs arrive and complete in posting order'] },
  { mutant: 'duplicate-completion', groups: 'sends', caught: ['SEND into a larger receive', 'RDMA_READ brings the peer\'s bytes'] },
  { mutant: 'unsignaled-completes', groups: 'sends', caught: ['an unsignaled SEND leaves no send completion; both receives complete, in order'] },
  { mutant: 'wrong-byte-len', groups: 'sends', caught: ['SEND into a larger receive'] },
  { mutant: 'rq-not-flushed-on-err', groups: 'queue-errors', caught: ['RTS→ERR flushes the outstanding receives in posting order'] },
  { mutant: 'mr-bounds-off-by-one', groups: 'remote-access,queue-errors', caught: ['RDMA_WRITE one-past-end', 'RDMA_READ one-past-end', 'an SGE one byte past the end of its MR: LOC_PROT_ERR'] },
  { mutant: 'rkey-alive-after-dereg', groups: 'resources,remote-access', caught: ['deregMr twice', 'RDMA_WRITE dead-rkey'] },
  { mutant: 'rnr-as-success', groups: 'retries', caught: ['RNR, rnrRetry 0: RNR_RETRY_EXC_ERR, then flush'] },
  { mutant: 'retry-forever', groups: 'retries', caught: ['silent peer: RETRY_EXC_ERR after retryCnt retries, then flush'] },
  { mutant: 'lkey-any-pd', groups: 'local-access', caught: ['an SGE whose lkey is of another PD: LOC_PROT_ERR'] },
  { mutant: 'sqd-always-notifies', groups: 'queue-errors', caught: ['SQD without en_sqd_async_notify raises no SQ_DRAINED', 'SQD with en_sqd_async_notify false raises no SQ_DRAINED'] },
  { mutant: 'silent-cq-overrun', groups: 'cq', caught: ['CQ overrun: CQ_ERR, the stored completions still poll in order'] },
];

/** The kit in this process (the CLI's exit status is tested in conform.test.ts); the mutant in two. */
function conformMutant(mutant: string, groups: string): Promise<ConformReport> {
  return conform({ adapter: `${NODE} test/conformance/mutants/${mutant}.ts`, only: groups.split(','), cwd: ROOT });
}

const caught: string[] = [];

describe('the gallery of broken implementations: each rejected by conform, case by case', () => {
  afterAll(() => {
    console.log(`conform mutation score: ${caught.length}/${GALLERY.length} broken variants caught (${((100 * caught.length) / GALLERY.length).toFixed(0)}%)`);
  });

  it.each(GALLERY)('$mutant is rejected by $caught', async ({ mutant, groups, caught: names }) => {
    const report = await conformMutant(mutant, groups);
    const failed = report.cases.filter((c) => c.status === 'failed');
    expect(failed.map((c) => c.name)).toEqual(expect.arrayContaining([...names]));
    // Every failure says what was done, what was expected, what came back, and the rule.
    for (const c of failed) expect(c.message).toMatch(/^did .+; expected .+; got .+; rule: .+/);
    caught.push(mutant);
  }, 120_000);
});
