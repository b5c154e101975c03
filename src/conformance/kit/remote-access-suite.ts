import type { AdapterClient } from './adapter-client.js';
import { failure, type CaseResult, type Capabilities, type Coverage } from './cases.js';
import { PairFixture, eventsAfter } from './pair-fixture.js';

export const REMOTE_ACCESS_GROUP = 'remote-access';

type R = Record<string, unknown>;
const LOCAL_WRITE = 1;
const REMOTE = { RDMA_WRITE: 2, RDMA_READ: 4, ATOMIC_FETCH_AND_ADD: 8 } as const;
type Op = keyof typeof REMOTE;
const ALL_REMOTE = 2 | 4 | 8;
const MR_BYTES = 4096;

type Variant = 'granted' | 'mr-lacks-right' | 'qp-lacks-right' | 'past-end' | 'one-past-end' | 'crosses-end' | 'to-end' | 'dead-rkey' | 'other-pd' | 'misaligned';

/** The WC opcode of each WR opcode (ibv_poll_cq(3)). */
const WC_OPCODE: Record<Op, string> = { RDMA_WRITE: 'RDMA_WRITE', RDMA_READ: 'RDMA_READ', ATOMIC_FETCH_AND_ADD: 'FETCH_ADD' };
const QP_ERROR_EVENTS = new Set(['QP_FATAL', 'QP_REQ_ERR', 'QP_ACCESS_ERR']);

const ACCESS_RULE = 'IB RC (memory-region machine; rxe check_rkey): a remote access needs a live rkey of the QP\'s PD, a range inside the region, and the right in both the region and the QP; otherwise the requester completes REM_ACCESS_ERR and the responder\'s QP fails with QP_ACCESS_ERR (IB spec 11.6.3.1, docs/semantics.md)';
const ALIGN_RULE = 'IB RC (rxe): an atomic\'s remote address must be 8-byte aligned; otherwise the requester completes REM_INV_REQ_ERR and the responder\'s QP fails with QP_REQ_ERR';

function expectedStatus(variant: Variant): string {
  if (variant === 'granted' || variant === 'to-end') return 'SUCCESS';
  return variant === 'misaligned' ? 'REM_INV_REQ_ERR' : 'REM_ACCESS_ERR';
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const bytesOf = (data: unknown) => new Uint8Array(Buffer.from(data as string, 'base64'));

/**
 * Remote access between two endpoints: RDMA_WRITE, RDMA_READ and ATOMIC_FETCH_AND_ADD against a
 * region of the peer, granted, or refused for each reason IB names (the region or the QP lacks the
 * right, the range leaves the region, the rkey is dead or of another PD, a misaligned atomic). A
 * granted access must move the right bytes; a refused one must complete with its status.
 */
export async function runRemoteAccessSuite(iut: AdapterClient, peer: AdapterClient, capabilities: Capabilities, coverage: Coverage, record: (result: CaseResult) => void): Promise<void> {
  const fx = await PairFixture.open(iut, peer);
  const { a, b } = fx;
  const local = await a.iut.request('regMr', { pd: a.pd, length: MR_BYTES, access: LOCAL_WRITE }) as R;
  const { pd: otherPd } = await b.iut.request('allocPd', { context: b.context }) as R;
  const variants: Variant[] = ['granted', 'mr-lacks-right', 'qp-lacks-right', 'past-end', 'to-end', 'dead-rkey', 'other-pd'];
  for (const op of Object.keys(REMOTE) as Op[]) {
    const claimed = capabilities.opcodes.includes(op) && (op !== 'ATOMIC_FETCH_AND_ADD' || capabilities.features.includes('atomics'));
    // An atomic one byte past the end would be misaligned: its bounds are 'past-end' and 'to-end'.
    for (const variant of op === 'ATOMIC_FETCH_AND_ADD' ? [...variants, 'misaligned' as const, 'crosses-end' as const] : [...variants, 'one-past-end' as const]) {
      const name = `${op} ${variant}`;
      if (!claimed) {
        record({ name, group: REMOTE_ACCESS_GROUP, status: 'not claimed', message: `needs ${op}` });
        continue;
      }
      const right = REMOTE[op];
      const mrAccess = LOCAL_WRITE | (variant === 'mr-lacks-right' ? ALL_REMOTE & ~right : ALL_REMOTE);
      const qpAccess = variant === 'qp-lacks-right' ? ALL_REMOTE & ~right : ALL_REMOTE;
      // crosses-end: an aligned atomic whose last 4 of 8 bytes lie past a region 4 bytes longer than usual.
      const regionBytes = variant === 'crosses-end' ? MR_BYTES + 4 : MR_BYTES;
      const target = await b.iut.request('regMr', { pd: variant === 'other-pd' ? otherPd : b.pd, length: regionBytes, access: mrAccess }) as R;
      const pattern = Uint8Array.from({ length: 8 }, (_, i) => 0x10 + i);
      await b.iut.request('writeMr', { mr: target.mr, offset: MR_BYTES - 8, data: b64(pattern) });
      await a.iut.request('writeMr', { mr: local.mr, offset: 0, data: b64(Uint8Array.from({ length: 8 }, (_, i) => 0xa0 + i)) });
      if (variant === 'dead-rkey') await b.iut.request('deregMr', { mr: target.mr });
      // Past the end: straddling it (an atomic, which must stay aligned, lies wholly beyond it).
      const offset = variant === 'past-end' ? (op === 'ATOMIC_FETCH_AND_ADD' ? MR_BYTES : MR_BYTES - 4) : variant === 'one-past-end' ? MR_BYTES - 7 : variant === 'crosses-end' ? MR_BYTES : variant === 'misaligned' ? MR_BYTES - 12 : MR_BYTES - 8;
      const remote = { remoteAddr: (target.addr as number) + offset, rkey: target.rkey };
      const sge = { addr: local.addr, length: 8, lkey: local.lkey };
      const wr: R = op === 'ATOMIC_FETCH_AND_ADD'
        ? { wrId: '1', opcode: op, sendFlags: 2, sgList: [sge], atomic: { ...remote, compareAdd: '1', swap: '0' } }
        : { wrId: '1', opcode: op, sendFlags: 2, sgList: [sge], rdma: remote };
      const pair = await fx.connect(qpAccess);
      const did = `${op} of 8 bytes at offset ${offset} of a ${regionBytes}-byte peer region (region access 0x${mrAccess.toString(16)}, QP access 0x${qpAccess.toString(16)}${variant === 'dead-rkey' ? ', deregistered' : ''}${variant === 'other-pd' ? ', another PD' : ''})`;
      const expected = expectedStatus(variant);
      const eventsBefore = b.iut.events.length;
      await a.iut.request('postSend', { qp: pair.qpA, wrs: [wr] });
      const [wc] = await fx.poll(a, 1);
      let got = wc === undefined ? 'no completion within 3 s' : `${wc.status}`;
      let ok = wc !== undefined && wc.status === expected;
      if (ok && wc!.qpNum !== pair.qpNumA) [ok, got] = [false, `${wc!.status} with qp_num ${String(wc!.qpNum)}, not the QP's ${pair.qpNumA}`];
      if (ok && expected === 'SUCCESS' && wc!.opcode !== WC_OPCODE[op]) [ok, got] = [false, `SUCCESS with opcode ${String(wc!.opcode)}, not ${WC_OPCODE[op]}`];
      if (ok && expected !== 'SUCCESS') {
        // The responder found the fault: its QP fails with the event of the fault's class.
        const want = expected === 'REM_ACCESS_ERR' ? 'QP_ACCESS_ERR' : 'QP_REQ_ERR';
        const [event] = await eventsAfter(b.iut, eventsBefore, (e) => e.type === 'asyncEvent' && e.qpNum === pair.qpNumB && QP_ERROR_EVENTS.has(e.event as string), 1000);
        if (event?.event !== want) [ok, got] = [false, `${wc!.status}, and the responder's QP raised ${event === undefined ? 'no error event' : String(event.event)}, not ${want}`];
      }
      if (wc !== undefined) {
        coverage.wcStatuses.add(wc.status as string);
        coverage.opcodes.add(wc.opcode as string);
      }
      if (ok && expected === 'SUCCESS') {
        // The bytes moved: a WRITE placed ours there, a READ brought theirs, an atomic returned the original and added 1.
        const theirs = bytesOf((await b.iut.request('readMr', { mr: target.mr, offset, length: 8 }) as R).data);
        const ours = bytesOf((await a.iut.request('readMr', { mr: local.mr, offset: 0, length: 8 }) as R).data);
        const hex = (x: Uint8Array) => Buffer.from(x).toString('hex');
        const added = new Uint8Array(8);
        new DataView(added.buffer).setBigUint64(0, new DataView(pattern.buffer).getBigUint64(0, true) + 1n, true);
        const want = op === 'RDMA_WRITE' ? { theirs: 'a0a1a2a3a4a5a6a7', ours: 'a0a1a2a3a4a5a6a7' } : op === 'RDMA_READ' ? { theirs: hex(pattern), ours: hex(pattern) } : { theirs: hex(added), ours: hex(pattern) };
        ok = hex(theirs) === want.theirs && hex(ours) === want.ours;
        got = `SUCCESS, peer region ${hex(theirs)}, local ${hex(ours)} (wanted ${want.theirs} and ${want.ours})`;
      }
      record(ok ? { name, group: REMOTE_ACCESS_GROUP, status: 'passed' } : { name, group: REMOTE_ACCESS_GROUP, status: 'failed', message: failure(did, expected, got, variant === 'misaligned' ? ALIGN_RULE : ACCESS_RULE) });
      await a.iut.request('destroyQp', { qp: pair.qpA });
      await b.iut.request('destroyQp', { qp: pair.qpB });
      if (variant !== 'dead-rkey') await b.iut.request('deregMr', { mr: target.mr });
      await fx.drain();
    }
  }
  await a.iut.request('deregMr', { mr: local.mr });
  await fx.close();
}
