import type { AdapterClient } from './adapter-client.js';
import { failure, unclaimed, type CaseResult, type Capabilities, type Coverage } from './cases.js';
import { PairFixture, type Endpoint } from './pair-fixture.js';

export const SENDS_GROUP = 'sends';

type R = Record<string, unknown>;
const MR_BYTES = 4096;
const LOCAL_WRITE = 1;
const ALL_REMOTE = 2 | 4 | 8;
const SIGNALED = 2;
const INLINE = 8;
const FENCE = 1;
const WITH_IMM = 2;
const RULE = 'IB RC (ibv_post_send(3), ibv_poll_cq(3)): the responder places the data where the WR says; each signaled WR completes once, in posting order, with the opcode, byte count and immediate of what was done; an unsignaled success leaves no WC';

interface Case {
  readonly name: string;
  /** What the IUT must claim for the case to run. */
  readonly needs: readonly string[];
  /** Bytes written into A's local MR before the case. */
  readonly local: Uint8Array;
  /** Bytes written at offset 0 of B's region before the case. */
  readonly remote: Uint8Array;
  /** The WR ids of B's receives (100, 101, ... when absent). */
  readonly recvIds?: readonly string[];
  /** Receives B posts: SGE lists as [offset, length] in B's region. */
  readonly recvs: readonly (readonly [number, number])[][];
  readonly wrs: (localAddr: number, lkey: number, remoteAddr: number, rkey: number) => R[];
  /** A's QP created with sq_sig_all. */
  readonly sqSigAll?: boolean;
  /** The WCs each side must show, as `opcode:status:byteLen[:imm]`, in order. */
  readonly sendWcs: readonly string[];
  readonly recvWcs: readonly string[];
  /** [offset, hex] in B's region and in A's local MR after the case. */
  readonly remoteAfter?: readonly (readonly [number, string])[];
  readonly localAfter?: readonly (readonly [number, string])[];
}

const bytes = (text: string) => new TextEncoder().encode(text);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const u64le = (value: bigint) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, value, true); return b; };

/** 3000 bytes that differ from their neighbours: a byte in the wrong place shows. */
const SPREAD = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7 + (i >> 8)) & 0xff);

const CASES: readonly Case[] = [
  {
    name: 'SEND into a larger receive', needs: ['SEND'], local: bytes('hello, responder'), remote: new Uint8Array(0), recvs: [[[0, 64]]],
    wrs: (la, lk) => [{ wrId: '1', opcode: 'SEND', sendFlags: SIGNALED, sgList: [{ addr: la, length: 16, lkey: lk }] }],
    sendWcs: ['SEND:SUCCESS:16'], recvWcs: ['RECV:SUCCESS:16'], remoteAfter: [[0, hex(bytes('hello, responder'))]],
  },
  {
    name: 'SEND_WITH_IMM: the receive carries the immediate', needs: ['SEND_WITH_IMM'], local: bytes('imm!'), remote: new Uint8Array(0), recvs: [[[0, 64]]],
    wrs: (la, lk) => [{ wrId: '1', opcode: 'SEND_WITH_IMM', sendFlags: SIGNALED, immData: 0xdeadbeef, sgList: [{ addr: la, length: 4, lkey: lk }] }],
    sendWcs: ['SEND:SUCCESS:4'], recvWcs: [`RECV:SUCCESS:4:${0xdeadbeef}`],
  },
  {
    name: 'RDMA_WRITE_WITH_IMM consumes a receive', needs: ['RDMA_WRITE_WITH_IMM'], local: bytes('written'), remote: new Uint8Array(0), recvs: [[[2048, 8]]],
    wrs: (la, lk, ra, rk) => [{ wrId: '1', opcode: 'RDMA_WRITE_WITH_IMM', sendFlags: SIGNALED, immData: 7, sgList: [{ addr: la, length: 7, lkey: lk }], rdma: { remoteAddr: ra + 100, rkey: rk } }],
    sendWcs: ['RDMA_WRITE:SUCCESS:7'], recvWcs: ['RECV_RDMA_WITH_IMM:SUCCESS:7:7'], remoteAfter: [[100, hex(bytes('written'))]],
  },
  {
    name: 'a gather of 3 SGEs into a scatter of 2', needs: ['SEND', 'sge:3'], local: bytes('aaaabbbbcccc'), remote: new Uint8Array(0), recvs: [[[0, 5], [1000, 64]]],
    wrs: (la, lk) => [{ wrId: '1', opcode: 'SEND', sendFlags: SIGNALED, sgList: [{ addr: la + 8, length: 4, lkey: lk }, { addr: la, length: 4, lkey: lk }, { addr: la + 4, length: 4, lkey: lk }] }],
    sendWcs: ['SEND:SUCCESS:12'], recvWcs: ['RECV:SUCCESS:12'], remoteAfter: [[0, hex(bytes('cccca'))], [1000, hex(bytes('aaabbbb'))]],
  },
  {
    name: 'a 3000-byte SEND scattered over 3 receive SGEs', needs: ['SEND', 'sge:3'], local: SPREAD, remote: new Uint8Array(0), recvs: [[[0, 1000], [1500, 1000], [3000, 1000]]],
    wrs: (la, lk) => [{ wrId: '1', opcode: 'SEND', sendFlags: SIGNALED, sgList: [{ addr: la, length: 3000, lkey: lk }] }],
    sendWcs: ['SEND:SUCCESS:3000'], recvWcs: ['RECV:SUCCESS:3000'], remoteAfter: [[0, hex(SPREAD.subarray(0, 1000))], [1500, hex(SPREAD.subarray(1000, 2000))], [3000, hex(SPREAD.subarray(2000, 3000))]],
  },
  {
    name: 'an RDMA_WRITE gathered from 2 SGEs', needs: ['RDMA_WRITE', 'sge:2'], local: SPREAD, remote: new Uint8Array(0), recvs: [],
    wrs: (la, lk, ra, rk) => [{ wrId: '1', opcode: 'RDMA_WRITE', sendFlags: SIGNALED, sgList: [{ addr: la + 2000, length: 700, lkey: lk }, { addr: la, length: 900, lkey: lk }], rdma: { remoteAddr: ra + 100, rkey: rk } }],
    sendWcs: ['RDMA_WRITE:SUCCESS:1600'], recvWcs: [], remoteAfter: [[100, hex(SPREAD.subarray(2000, 2700))], [800, hex(SPREAD.subarray(0, 900))]],
  },
  {
    name: 'an RDMA_READ scattered into 2 local SGEs', needs: ['RDMA_READ', 'sge:2'], local: new Uint8Array(0), remote: SPREAD, recvs: [],
    wrs: (la, lk, ra, rk) => [{ wrId: '1', opcode: 'RDMA_READ', sendFlags: SIGNALED, sgList: [{ addr: la + 3000, length: 600, lkey: lk }, { addr: la + 100, length: 1400, lkey: lk }], rdma: { remoteAddr: ra + 50, rkey: rk } }],
    sendWcs: ['RDMA_READ:SUCCESS:2000'], recvWcs: [], localAfter: [[3000, hex(SPREAD.subarray(50, 650))], [100, hex(SPREAD.subarray(650, 2050))]],
  },
  {
    name: 'a zero-length SEND consumes a receive with byte_len 0', needs: ['SEND'], local: new Uint8Array(0), remote: new Uint8Array(0), recvs: [[[0, 64]]],
    wrs: () => [{ wrId: '1', opcode: 'SEND', sendFlags: SIGNALED, sgList: [] }],
    sendWcs: ['SEND:SUCCESS:0'], recvWcs: ['RECV:SUCCESS:0'],
  },
  {
    name: 'a zero-length RDMA_WRITE_WITH_IMM and a SEND after it', needs: ['RDMA_WRITE_WITH_IMM', 'SEND'], local: bytes('after'), remote: new Uint8Array(0), recvs: [[[0, 64]], [[64, 64]]],
    wrs: (la, lk, ra, rk) => [{ wrId: '1', opcode: 'RDMA_WRITE_WITH_IMM', sendFlags: SIGNALED, immData: 5, sgList: [], rdma: { remoteAddr: ra, rkey: rk } }, { wrId: '2', opcode: 'SEND', sendFlags: SIGNALED, sgList: [{ addr: la, length: 5, lkey: lk }] }],
    sendWcs: ['RDMA_WRITE:SUCCESS:0', 'SEND:SUCCESS:5'], recvWcs: ['RECV_RDMA_WITH_IMM:SUCCESS:0:5', 'RECV:SUCCESS:5'], remoteAfter: [[64, hex(bytes('after'))]],
  },
  {
    name: '3 RDMA_READs with max_rd_atomic 1, then a SEND: all complete in order', needs: ['RDMA_READ', 'SEND'], local: bytes('tail'), remote: SPREAD, recvs: [[[0, 64]]],
    wrs: (la, lk, ra, rk) => [
      ...[0, 1, 2].map((i) => ({ wrId: String(i + 1), opcode: 'RDMA_READ', sendFlags: SIGNALED, sgList: [{ addr: la + 1000 + 100 * i, length: 100, lkey: lk }], rdma: { remoteAddr: ra + 100 * i, rkey: rk } })),
      { wrId: '4', opcode: 'SEND', sendFlags: SIGNALED, sgList: [{ addr: la, length: 4, lkey: lk }] },
    ],
    sendWcs: ['RDMA_READ:SUCCESS:100', 'RDMA_READ:SUCCESS:100', 'RDMA_READ:SUCCESS:100', 'SEND:SUCCESS:4'], recvWcs: ['RECV:SUCCESS:4'], localAfter: [[1000, hex(SPREAD.subarray(0, 300))]], remoteAfter: [[0, hex(bytes('tail'))]],
  },
  {
    name: 'FENCE: a SEND after an RDMA_READ into its buffer carries what the READ brought', needs: ['RDMA_READ', 'SEND', 'fence'], local: bytes('old!'), remote: bytes('new!'), recvs: [[[1024, 64]]],
    wrs: (la, lk, ra, rk) => [
      { wrId: '1', opcode: 'RDMA_READ', sendFlags: SIGNALED, sgList: [{ addr: la, length: 4, lkey: lk }], rdma: { remoteAddr: ra, rkey: rk } },
      { wrId: '2', opcode: 'SEND', sendFlags: SIGNALED | FENCE, sgList: [{ addr: la, length: 4, lkey: lk }] },
    ],
    sendWcs: ['RDMA_READ:SUCCESS:4', 'SEND:SUCCESS:4'], recvWcs: ['RECV:SUCCESS:4'], remoteAfter: [[1024, hex(bytes('new!'))]],
  },
  {
    name: 'wr_id is kept as 64 bits', needs: ['SEND'], local: bytes('64'), remote: new Uint8Array(0), recvs: [[[0, 8]], [[8, 8]]], recvIds: ['18446744073709551615', '9007199254740993'],
    wrs: (la, lk) => [{ wrId: '18446744073709551614', opcode: 'SEND', sendFlags: SIGNALED, sgList: [{ addr: la, length: 1, lkey: lk }] }, { wrId: '4294967297', opcode: 'SEND', sendFlags: SIGNALED, sgList: [{ addr: la + 1, length: 1, lkey: lk }] }],
    sendWcs: ['SEND:SUCCESS:1', 'SEND:SUCCESS:1'], recvWcs: ['RECV:SUCCESS:1', 'RECV:SUCCESS:1'],
  },
  {
    name: 'INLINE SEND', needs: ['SEND', 'inline'], local: bytes('inline data!'), remote: new Uint8Array(0), recvs: [[[0, 64]]],
    wrs: (la, lk) => [{ wrId: '1', opcode: 'SEND', sendFlags: SIGNALED | INLINE, sgList: [{ addr: la, length: 12, lkey: lk }] }],
    sendWcs: ['SEND:SUCCESS:12'], recvWcs: ['RECV:SUCCESS:12'], remoteAfter: [[0, hex(bytes('inline data!'))]],
  },
  {
    // ibv_post_send(3): "IBV_SEND_INLINE ... The L_Key will not be checked."
    name: 'INLINE SEND: the lkey is not checked', needs: ['SEND', 'inline'], local: bytes('no key here!'), remote: new Uint8Array(0), recvs: [[[0, 64]]],
    wrs: (la, lk) => [{ wrId: '1', opcode: 'SEND', sendFlags: SIGNALED | INLINE, sgList: [{ addr: la, length: 12, lkey: (lk ^ 0x5a5a5a) >>> 0 }] }],
    sendWcs: ['SEND:SUCCESS:12'], recvWcs: ['RECV:SUCCESS:12'], remoteAfter: [[0, hex(bytes('no key here!'))]],
  },
  {
    name: 'sq_sig_all: an unsignaled SEND completes all the same', needs: ['SEND'], local: bytes('12'), remote: new Uint8Array(0), recvs: [[[0, 8]], [[8, 8]]], sqSigAll: true,
    wrs: (la, lk) => [{ wrId: '1', opcode: 'SEND', sendFlags: 0, sgList: [{ addr: la, length: 1, lkey: lk }] }, { wrId: '2', opcode: 'SEND', sendFlags: 0, sgList: [{ addr: la + 1, length: 1, lkey: lk }] }],
    sendWcs: ['SEND:SUCCESS:1', 'SEND:SUCCESS:1'], recvWcs: ['RECV:SUCCESS:1', 'RECV:SUCCESS:1'], remoteAfter: [[0, hex(bytes('1'))]],
  },
  {
    name: 'an unsignaled SEND leaves no send completion; both receives complete, in order', needs: ['SEND', 'unsignaled'], local: bytes('12'), remote: new Uint8Array(0), recvs: [[[0, 8]], [[8, 8]]],
    wrs: (la, lk) => [{ wrId: '1', opcode: 'SEND', sendFlags: 0, sgList: [{ addr: la, length: 1, lkey: lk }] }, { wrId: '2', opcode: 'SEND', sendFlags: SIGNALED, sgList: [{ addr: la + 1, length: 1, lkey: lk }] }],
    sendWcs: ['SEND:SUCCESS:1'], recvWcs: ['RECV:SUCCESS:1', 'RECV:SUCCESS:1'], remoteAfter: [[0, hex(bytes('1'))]],
  },
  {
    name: '8 SENDs arrive and complete in posting order', needs: ['SEND'], local: bytes('abcdefgh'), remote: new Uint8Array(0), recvs: Array.from({ length: 8 }, (_, i) => [[i, 1]] as [number, number][]),
    wrs: (la, lk) => Array.from({ length: 8 }, (_, i) => ({ wrId: String(i + 1), opcode: 'SEND', sendFlags: SIGNALED, sgList: [{ addr: la + i, length: 1, lkey: lk }] })),
    sendWcs: Array.from({ length: 8 }, () => 'SEND:SUCCESS:1'), recvWcs: Array.from({ length: 8 }, () => 'RECV:SUCCESS:1'), remoteAfter: [[0, hex(bytes('abcdefgh'))]],
  },
  {
    name: 'RDMA_READ brings the peer\'s bytes', needs: ['RDMA_READ'], local: new Uint8Array(0), remote: bytes('the peer\'s data'), recvs: [],
    wrs: (la, lk, ra, rk) => [{ wrId: '1', opcode: 'RDMA_READ', sendFlags: SIGNALED, sgList: [{ addr: la + 64, length: 15, lkey: lk }], rdma: { remoteAddr: ra, rkey: rk } }],
    sendWcs: ['RDMA_READ:SUCCESS:15'], recvWcs: [], localAfter: [[64, hex(bytes('the peer\'s data'))]],
  },
  {
    name: 'ATOMIC_CMP_AND_SWP that matches: swapped, the original returned', needs: ['ATOMIC_CMP_AND_SWP', 'atomics'], local: new Uint8Array(0), remote: u64le(41n), recvs: [],
    wrs: (la, lk, ra, rk) => [{ wrId: '1', opcode: 'ATOMIC_CMP_AND_SWP', sendFlags: SIGNALED, sgList: [{ addr: la, length: 8, lkey: lk }], atomic: { remoteAddr: ra, rkey: rk, compareAdd: '41', swap: '42' } }],
    sendWcs: ['COMP_SWAP:SUCCESS:8'], recvWcs: [], remoteAfter: [[0, hex(u64le(42n))]], localAfter: [[0, hex(u64le(41n))]],
  },
  {
    name: 'ATOMIC_CMP_AND_SWP that does not match: unchanged, the original returned', needs: ['ATOMIC_CMP_AND_SWP', 'atomics'], local: new Uint8Array(0), remote: u64le(41n), recvs: [],
    wrs: (la, lk, ra, rk) => [{ wrId: '1', opcode: 'ATOMIC_CMP_AND_SWP', sendFlags: SIGNALED, sgList: [{ addr: la, length: 8, lkey: lk }], atomic: { remoteAddr: ra, rkey: rk, compareAdd: '40', swap: '42' } }],
    sendWcs: ['COMP_SWAP:SUCCESS:8'], recvWcs: [], remoteAfter: [[0, hex(u64le(41n))]], localAfter: [[0, hex(u64le(41n))]],
  },
];

const describeWc = (wc: R) => `${wc.opcode}:${wc.status}:${wc.byteLen}${(Number(wc.wcFlags) & WITH_IMM) !== 0 ? `:${wc.immData}` : ''}`;

/**
 * Every opcode between two endpoints, with what it must do: the bytes placed, read or swapped,
 * each side's completions (opcode, status, byte count, immediate) in posting order, scatter/gather,
 * inline, unsignaled sends, ordering. A fresh pair of QPs per case.
 */
export async function runSendsSuite(iut: AdapterClient, peer: AdapterClient, capabilities: Capabilities, coverage: Coverage, record: (result: CaseResult) => void): Promise<void> {
  const fx = await PairFixture.open(iut, peer);
  const { a, b } = fx;
  for (const c of CASES) {
    const missing = unclaimed(c.needs, capabilities);
    if (missing.length > 0) {
      record({ name: c.name, group: SENDS_GROUP, status: 'not claimed', message: `needs ${missing.join(', ')}` });
      continue;
    }
    const local = await a.iut.request('regMr', { pd: a.pd, length: MR_BYTES, access: LOCAL_WRITE }) as R;
    const remote = await b.iut.request('regMr', { pd: b.pd, length: MR_BYTES, access: LOCAL_WRITE | ALL_REMOTE }) as R;
    if (c.local.byteLength > 0) await a.iut.request('writeMr', { mr: local.mr, offset: 0, data: Buffer.from(c.local).toString('base64') });
    if (c.remote.byteLength > 0) await b.iut.request('writeMr', { mr: remote.mr, offset: 0, data: Buffer.from(c.remote).toString('base64') });
    const sges = Math.min(4, capabilities.limits.maxSge ?? 1);
    const pair = await fx.connect(ALL_REMOTE, { maxSendWr: 16, maxRecvWr: 16, maxSendSge: sges, maxRecvSge: sges, maxInlineData: Math.min(64, capabilities.limits.maxInlineData ?? 0) }, {}, c.sqSigAll === true);
    if (c.recvs.length > 0) {
      await b.iut.request('postRecv', { qp: pair.qpB, wrs: c.recvs.map((sges, i) => ({ wrId: c.recvIds?.[i] ?? String(100 + i), sgList: sges.map(([offset, length]) => ({ addr: (remote.addr as number) + offset, length, lkey: remote.lkey })) })) });
    }
    const wrs = c.wrs(local.addr as number, local.lkey as number, remote.addr as number, remote.rkey as number);
    await a.iut.request('postSend', { qp: pair.qpA, wrs });
    const [sendWcs, recvWcs] = await Promise.all([fx.poll(a, c.sendWcs.length), fx.poll(b, c.recvWcs.length)]);
    // A little longer for completions that must not come (an unsignaled send's).
    const extra = [...await fx.poll(a, 1, 20), ...await fx.poll(b, 1, 20)];
    for (const wc of [...sendWcs, ...recvWcs]) {
      coverage.wcStatuses.add(wc.status as string);
      coverage.opcodes.add(wc.opcode as string);
    }
    const problems: string[] = [...fx.violations.splice(0)];
    const gotSends = sendWcs.map(describeWc);
    const gotRecvs = recvWcs.map(describeWc);
    if (gotSends.join(' ') !== c.sendWcs.join(' ')) problems.push(`send WCs ${gotSends.join(' ') || 'none'} (wanted ${c.sendWcs.join(' ') || 'none'})`);
    if (gotRecvs.join(' ') !== c.recvWcs.join(' ')) problems.push(`receive WCs ${gotRecvs.join(' ') || 'none'} (wanted ${c.recvWcs.join(' ') || 'none'})`);
    // Completions of a queue come in posting order: the WR ids say which WR each one is.
    const wantSendIds = wrs.filter((wr) => c.sqSigAll === true || ((wr.sendFlags as number) & SIGNALED) !== 0).map((wr) => wr.wrId).join(',');
    const wantRecvIds = c.recvs.map((_, i) => c.recvIds?.[i] ?? String(100 + i)).join(',');
    if (problems.length === 0 && sendWcs.map((wc) => wc.wrId).join(',') !== wantSendIds) problems.push(`send WCs for WRs ${sendWcs.map((wc) => wc.wrId).join(',')} (wanted ${wantSendIds}, in posting order)`);
    if (problems.length === 0 && recvWcs.map((wc) => wc.wrId).join(',') !== wantRecvIds) problems.push(`receive WCs for WRs ${recvWcs.map((wc) => wc.wrId).join(',')} (wanted ${wantRecvIds}, in posting order)`);
    const strays = [...sendWcs.filter((wc) => wc.qpNum !== pair.qpNumA), ...recvWcs.filter((wc) => wc.qpNum !== pair.qpNumB)];
    if (strays.length > 0) problems.push(`WCs with the wrong qp_num: ${strays.map((wc) => `${wc.wrId}:${String(wc.qpNum)}`).join(' ')} (A's QP is ${pair.qpNumA}, B's ${pair.qpNumB})`);
    if (extra.length > 0) problems.push(`${extra.length} completion(s) more than the WRs call for: ${extra.map(describeWc).join(' ')}`);
    const check = async (e: Endpoint, mr: R, after: readonly (readonly [number, string])[] | undefined, where: string) => {
      for (const [offset, want] of after ?? []) {
        const got = Buffer.from((await e.iut.request('readMr', { mr: mr.mr, offset, length: want.length / 2 }) as R).data as string, 'base64').toString('hex');
        if (got !== want) problems.push(`${where} at offset ${offset} holds ${got.length > 64 ? `${got.slice(0, 64)}...` : got} (wanted ${want.length > 64 ? `${want.slice(0, 64)}...` : want})`);
      }
    };
    await check(b, remote, c.remoteAfter, 'the peer\'s region');
    await check(a, local, c.localAfter, 'the local region');
    record(problems.length === 0 ? { name: c.name, group: SENDS_GROUP, status: 'passed' } : {
      name: c.name, group: SENDS_GROUP, status: 'failed',
      message: failure(`postSend of ${wrs.map((wr) => wr.opcode).join(', ')}`, `send WCs ${c.sendWcs.join(' ') || 'none'}, receive WCs ${c.recvWcs.join(' ') || 'none'}`, problems.join('; '), RULE),
    });
    await a.iut.request('destroyQp', { qp: pair.qpA });
    await b.iut.request('destroyQp', { qp: pair.qpB });
    await fx.drain();
    await a.iut.request('deregMr', { mr: local.mr });
    await b.iut.request('deregMr', { mr: remote.mr });
  }
  await fx.close();
}
