import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConformReport } from '../../src/conformance/kit/report.js';

const ROOT = resolve(import.meta.dirname, '../..');
const NODE = `"${process.execPath}" --import tsx`;

function conform(adapter: string, ...args: string[]) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/cli/main.ts'), 'conform', '--adapter', adapter, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('tcpverbs conform', () => {
  it('the reference passes every generated case (json report, exit 0)', () => {
    const { code, stdout, stderr } = conform(`${NODE} src/cli/main.ts adapter`, '--report', 'json', '--runs', '8');
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout) as ConformReport;
    expect(report).toMatchObject({ implementation: expect.stringMatching(/^tcpverbs reference/), failed: 0 });
    const { 'qp-modify': qpModify, ...others } = report.groups;
    expect(qpModify!.passed).toBeGreaterThan(1000);
    expect(qpModify!.failed).toBe(0);
    // Every other group by its count on the reference, all passed: the exact set of groups, too.
    const passedOnly = (passed: number) => ({ passed, failed: 0, notClaimed: 0 });
    expect(others).toEqual({
      resources: passedOnly(28), 'attr-values': passedOnly(18), 'post-admission': passedOnly(12), 'remote-access': passedOnly(25),
      sends: passedOnly(20), 'local-access': passedOnly(12), connection: passedOnly(5), 'queue-errors': passedOnly(12),
      retries: passedOnly(10), cq: passedOnly(8), stream: passedOnly(7), sequences: passedOnly(8),
    });
    expect(report.coverage.wcStatuses).toEqual(['LOC_LEN_ERR', 'LOC_PROT_ERR', 'REM_ACCESS_ERR', 'REM_INV_REQ_ERR', 'REM_OP_ERR', 'RETRY_EXC_ERR', 'RNR_RETRY_EXC_ERR', 'SUCCESS', 'WR_FLUSH_ERR']);
    expect(report.coverage.opcodes).toEqual(expect.arrayContaining(['RECV', 'RECV_RDMA_WITH_IMM', 'COMP_SWAP', 'RDMA_READ', 'SEND', 'RDMA_WRITE']));
    // What the reference does not claim (alternate paths, a new address vector in SQD) is reported, not failed.
    expect(report.cases.filter((c) => c.status === 'not claimed').every((c) => /needs (alt-path|sqd-av)/.test(c.message ?? ''))).toBe(true);
    expect(report.coverage.qpStates).toEqual(['ERR', 'INIT', 'RESET', 'RTR', 'RTS', 'SQD']);
  }, 300_000);

  it('catches a stack that accepts RTR→RTS without SQ_PSN, naming the case and the kernel rule', () => {
    const { code, stdout } = conform(`${NODE} test/conformance/mutants/lax-rtr-to-rts.ts`, '--only', 'qp-modify');
    expect(code).toBe(1);
    expect(stdout).toMatch(/qp-modify RTR→RTS STATE\|TIMEOUT\|RETRY_CNT\|RNR_RETRY\|MAX_QP_RD_ATOMIC: did modifyQp\(RTR→RTS, mask [A-Z_|]+\); expected refused with EINVAL, QP still RTR; got accepted, QP now RTS; rule: kernel qp_state_table: RTR→RTS requires SQ_PSN/);
    expect(stdout).toMatch(/^\d+ passed, [1-9]\d* failed, \d+ not claimed$/m);
  }, 300_000);


  it('catches a stack whose regions grant remote write unasked, against a known-good peer adapter', () => {
    const asRequester = conform(`${NODE} test/conformance/mutants/mr-grants-remote-write.ts`, '--only', 'remote-access', '--peer-adapter', `${NODE} src/cli/main.ts adapter`);
    expect(asRequester.code).toBe(0);
    // As the requester the broken stack passes (its peer checks); as the responder it must fail.
    const responder = conform(`${NODE} src/cli/main.ts adapter`, '--only', 'remote-access', '--peer-adapter', `${NODE} test/conformance/mutants/mr-grants-remote-write.ts`);
    expect(responder.code).toBe(1);
    expect(responder.stdout).toMatch(/remote-access RDMA_WRITE mr-lacks-right: did RDMA_WRITE of 8 bytes at offset 4088 of a 4096-byte peer region \(region access 0xd, QP access 0xe\); expected REM_ACCESS_ERR; got SUCCESS/);
  }, 300_000);


  it('random sequences catch a stack that reorders completions, shrink the failure to a replay file, and --replay runs exactly it again', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tcpverbs-replay-'));
    const replay = join(dir, 'replay.json');
    const mutant = `${NODE} test/conformance/mutants/completions-reordered.ts`;
    const found = conform(mutant, '--only', 'sequences', '--runs', '20', '--seed', '7', '--replay-out', replay);
    expect(found.code).toBe(1);
    expect(found.stdout).toMatch(/sequences sequence \d+ \(shrunk to \d+ commands[^)]*\): did random sequence \d+ of seed 7, shrunk in \d+ steps .*; replay: --replay .*replay\.json; expected a spec behaviour; got trace .* is a step the spec cannot take: .*; rule: machines\/.*spec\/RcVerbs\.tla/);
    const file = JSON.parse(readFileSync(replay, 'utf8')) as { sequence: { commands: unknown[] }; trace: string };
    expect(file.sequence.commands.length).toBeLessThanOrEqual(10);
    expect(file.trace.split('\n')[0]).toContain('"t":"header"');
    const again = conform(mutant, '--replay', replay);
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/^0 passed, 1 failed, 0 not claimed$/m);
    const reference = conform(`${NODE} src/cli/main.ts adapter`, '--replay', replay);
    expect(reference.code, reference.stdout).toBe(0);
    expect(reference.stdout).toMatch(/^1 passed, 0 failed, 0 not claimed$/m);
    writeFileSync(replay, JSON.stringify({ format: 'tcpverbs-conform-replay', version: 1, sequence: { silentPeer: false, rnrRetry: 1, commands: [{ k: 'send', ep: 'C' }] } }));
    const bad = conform(mutant, '--replay', replay);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('command 1: ep is "C"; allowed: "A" or "B"');
  }, 300_000);

  it('an adapter that writes garbage is a named failure with exit 1, never a crash of the kit; junit output too', () => {
    const garbage = `"${process.execPath}" -e "process.stdin.once('data', () => console.log('garbage'))"`;
    const { code, stdout } = conform(garbage);
    expect(code).toBe(1);
    expect(stdout).toContain('adapter adapter: the adapter broke the protocol: the adapter wrote a line that is not JSON: "garbage"');
    const junit = conform(garbage, '--report', 'junit');
    expect(junit.stdout).toMatch(/<testcase classname="adapter" name="adapter"><failure message="the adapter broke the protocol: /);
  });

  it('bad usage exits 2 and says what is allowed', () => {
    const { code, stderr } = conform('x', '--only', 'nope');
    expect(code).toBe(2);
    expect(stderr).toContain('unknown group nope; groups are resources, qp-modify, attr-values, post-admission, remote-access, sends, local-access, connection, queue-errors, retries, cq, stream, sequences');
  });
});
