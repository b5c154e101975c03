import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AdapterBroken, AdapterClient, AdapterRefused } from '../../src/conformance/kit/adapter-client.js';
import { OPS } from '../../src/conformance/protocol/messages.js';
import { adapterJsonSchemaText } from '../../src/conformance/protocol/json-schema.js';
import { validate, s } from '../../src/conformance/protocol/schema.js';

const ROOT = resolve(import.meta.dirname, '../..');
const REFERENCE = `"${process.execPath}" --import tsx src/cli/main.ts adapter`;
const M = { STATE: 1, ACCESS_FLAGS: 8, PKEY_INDEX: 16, PORT: 32, AV: 128, PATH_MTU: 256, TIMEOUT: 512, RETRY_CNT: 1024, RNR_RETRY: 2048, RQ_PSN: 4096, MAX_QP_RD_ATOMIC: 8192, MIN_RNR_TIMER: 32768, SQ_PSN: 65536, MAX_DEST_RD_ATOMIC: 131072, DEST_QPN: 1 << 20 };

const open: AdapterClient[] = [];
function adapter(command = REFERENCE, opTimeoutMs?: number): AdapterClient {
  const client = new AdapterClient({ command, cwd: ROOT, ...(opTimeoutMs === undefined ? {} : { opTimeoutMs }) });
  open.push(client);
  return client;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

type R = Record<string, unknown>;

/** One endpoint through the protocol: device, PD, a 4 KiB MR, a CQ, an RC QP in INIT. */
async function endpoint(a: AdapterClient) {
  const { context } = await a.request('openDevice', {}) as R;
  const { pd } = await a.request('allocPd', { context }) as R;
  const mr = await a.request('regMr', { pd, length: 4096, access: 1 | 2 }) as R;
  const { cq } = await a.request('createCq', { context, cqe: 16 }) as R;
  const qp = await a.request('createQp', { pd, qpType: 'RC', sendCq: cq, recvCq: cq, cap: { maxSendWr: 8, maxRecvWr: 8, maxSendSge: 1, maxRecvSge: 1 } }) as R;
  await a.request('modifyQp', { qp: qp.qp, attr: { qpState: 'INIT', pkeyIndex: 0, portNum: 1, qpAccessFlags: 2 }, mask: M.STATE | M.PKEY_INDEX | M.PORT | M.ACCESS_FLAGS });
  return { context, mr, cq, qp: qp.qp as string, qpNum: qp.qpNum as number };
}

async function connectQp(a: AdapterClient, e: Awaited<ReturnType<typeof endpoint>>, socket: unknown, peerQpNum: number) {
  await a.request('modifyQp', { qp: e.qp, attr: { qpState: 'RTR', ahAttr: { socket }, pathMtu: 4096, destQpNum: peerQpNum, rqPsn: 0, maxDestRdAtomic: 1, minRnrTimer: 12 },
    mask: M.STATE | M.AV | M.PATH_MTU | M.DEST_QPN | M.RQ_PSN | M.MAX_DEST_RD_ATOMIC | M.MIN_RNR_TIMER });
  await a.request('modifyQp', { qp: e.qp, attr: { qpState: 'RTS', sqPsn: 0, timeout: 14, retryCnt: 7, rnrRetry: 7, maxRdAtomic: 1 },
    mask: M.STATE | M.SQ_PSN | M.TIMEOUT | M.RETRY_CNT | M.RNR_RETRY | M.MAX_QP_RD_ATOMIC });
}

async function pollFor(a: AdapterClient, cq: unknown, count: number): Promise<R[]> {
  const wcs: R[] = [];
  for (let i = 0; i < 500 && wcs.length < count; i++) {
    wcs.push(...((await a.request('pollCq', { cq, max: 8 }) as { wcs: R[] }).wcs));
    if (wcs.length < count) await new Promise((r) => setTimeout(r, 2));
  }
  return wcs;
}

describe('tcpverbs adapter: the reference over the adapter protocol (docs/adapter.md)', () => {
  it('hello names the reference, protocol 1, and what it claims; every reply is checked against the schema', async () => {
    const hello = await adapter().request('hello', { protocol: 1 }) as R;
    expect(hello).toMatchObject({ name: expect.stringMatching(/^tcpverbs reference/), protocolVersion: 1 });
    expect((hello.capabilities as R).qpTypes).toEqual(['RC', 'STREAM']);
    expect((hello.capabilities as R).opcodes).toHaveLength(7);
  });

  it('two adapters connect over TCP through listen/connect/accept and move a SEND and an RDMA_WRITE', async () => {
    const [a, b] = [adapter(), adapter()];
    const [ea, eb] = await Promise.all([endpoint(a), endpoint(b)]);
    const { listener, port } = await b.request('listen', {}) as R;
    const [accepted, connected] = await Promise.all([b.request('accept', { listener }) as Promise<R>, a.request('connect', { host: '127.0.0.1', port }) as Promise<R>]);
    await Promise.all([connectQp(a, ea, connected.socket, eb.qpNum), connectQp(b, eb, accepted.socket, ea.qpNum)]);
    await a.request('writeMr', { mr: ea.mr.mr, offset: 0, data: Buffer.from('hello over the adapter').toString('base64') });
    await b.request('postRecv', { qp: eb.qp, wrs: [{ wrId: '18446744073709551615', sgList: [{ addr: eb.mr.addr, length: 64, lkey: eb.mr.lkey }] }] });
    await a.request('postSend', { qp: ea.qp, wrs: [
      { wrId: '1', opcode: 'SEND', sendFlags: 2, sgList: [{ addr: ea.mr.addr, length: 22, lkey: ea.mr.lkey }] },
      { wrId: '2', opcode: 'RDMA_WRITE', sendFlags: 2, sgList: [{ addr: ea.mr.addr, length: 5, lkey: ea.mr.lkey }], rdma: { remoteAddr: (eb.mr.addr as number) + 100, rkey: eb.mr.rkey } },
    ] });
    const [sends, recvs] = await Promise.all([pollFor(a, ea.cq, 2), pollFor(b, eb.cq, 1)]);
    // A QP failing on the peer's side is an async event, pushed as an event line.
    await a.request('modifyQp', { qp: ea.qp, attr: { qpState: 'ERR' }, mask: M.STATE });
    for (let i = 0; i < 200 && !b.events.some((e) => e.type === 'asyncEvent'); i++) await new Promise((r) => setTimeout(r, 5));
    expect(b.events).toContainEqual({ type: 'asyncEvent', context: eb.context, event: 'QP_FATAL', qpNum: eb.qpNum, reason: 'the peer terminated the connection: the peer moved its QP to ERR' });
    expect(sends.map((wc) => `${wc.wrId}:${wc.opcode}:${wc.status}`)).toEqual(['1:SEND:SUCCESS', '2:RDMA_WRITE:SUCCESS']);
    expect(recvs.map((wc) => `${wc.wrId}:${wc.opcode}:${wc.status}:${wc.byteLen}`)).toEqual(['18446744073709551615:RECV:SUCCESS:22']);
    const read = async (offset: number, length: number) => Buffer.from((await b.request('readMr', { mr: eb.mr.mr, offset, length }) as R).data as string, 'base64').toString();
    expect([await read(0, 22), await read(100, 5)]).toEqual(['hello over the adapter', 'hello']);
    expect((await a.request('queryQp', { qp: ea.qp }) as R).qpState).toBe('ERR');
  });

  it('refusals come back as errors with errno, message and badWr; a flush comes back through pollCq', async () => {
    const a = adapter();
    const e = await endpoint(a);
    const refused = await a.request('postSend', { qp: e.qp, wrs: [{ wrId: '1', opcode: 'SEND', sgList: [] }] }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AdapterRefused);
    expect(refused).toMatchObject({ errno: 'EINVAL', badWr: 0, message: expect.stringMatching(/postSend needs the QP in RTS or SQD/) });
    await expect(a.request('allocPd', { context: 'context-999' })).rejects.toMatchObject({ errno: 'EINVAL', message: expect.stringMatching(/no context has the handle "context-999"/) });
    await expect(a.request('regMr', { pd: 'x', length: -1, access: 0 })).rejects.toMatchObject({ errno: 'EINVAL', message: 'regMr: EINVAL: args.length: -1 is outside 0..9007199254740991' });
    // A modify to ERR of a QP with a posted receive flushes it; no async event (the process asked).
    await a.request('postRecv', { qp: e.qp, wrs: [{ wrId: '5', sgList: [] }] });
    await a.request('modifyQp', { qp: e.qp, attr: { qpState: 'ERR' }, mask: M.STATE });
    expect((await pollFor(a, e.cq, 1)).map((wc) => wc.status)).toEqual(['WR_FLUSH_ERR']);
  });

  it('the kit survives a broken adapter: garbage, a reply outside the schema, a hang, a crash', async () => {
    const node = `"${process.execPath}" -e`;
    const garbage = adapter(`${node} "process.stdin.once('data', () => console.log('this is not json'))"`);
    await expect(garbage.request('hello', { protocol: 1 })).rejects.toThrow(new AdapterBroken('the adapter wrote a line that is not JSON: "this is not json"'));
    const outside = adapter(`${node} "process.stdin.once('data', () => console.log(JSON.stringify({ id: 1, result: { name: 7 } })))"`);
    await expect(outside.request('hello', { protocol: 1 })).rejects.toThrow(/the reply to hello is outside the schema: hello result: the field "protocolVersion" is missing/);
    const hung = adapter(`${node} "process.stdin.resume()"`, 300);
    await expect(hung.request('hello', { protocol: 1 })).rejects.toThrow(/no reply to hello \(id 1\) within 300 ms/);
    const crash = adapter(`${node} "process.stdin.once('data', () => { console.error('boom'); process.exit(3); })"`);
    await expect(crash.request('hello', { protocol: 1 })).rejects.toThrow(/the adapter exited \(status 3\); its stderr ended with: boom/);
  });
});

describe('the protocol schema', () => {
  it('docs/adapter.schema.json is what the definitions generate (npm run schema)', () => {
    expect(readFileSync(resolve(ROOT, 'docs/adapter.schema.json'), 'utf8')).toBe(adapterJsonSchemaText());
  });

  it('every op is specified in docs/adapter.md', () => {
    const doc = readFileSync(resolve(ROOT, 'docs/adapter.md'), 'utf8');
    for (const op of Object.keys(OPS)) expect(doc, `docs/adapter.md lacks ${op}`).toContain(`\`${op}\``);
  });

  it('validation names the first wrong field and what is allowed', () => {
    const schema = s.obj({ a: s.int(0, 7), b: s.arr(s.enum(['x', 'y']), 2), c: s.u64() }, ['a']);
    expect(validate(schema, { a: 3, b: ['x'], c: '18446744073709551615' })).toBeNull();
    expect(validate(schema, { a: 8 })).toBe('$.a: 8 is outside 0..7');
    expect(validate(schema, { a: 1, b: ['z'] })).toBe('$.b[0]: "z" is not one of x, y');
    expect(validate(schema, { a: 1, d: 1 })).toBe('$: unexpected field "d"; allowed: a, b, c');
    expect(validate(schema, {})).toBe('$: the field "a" is missing');
    expect(validate(schema, { a: 1, c: '1.5' })).toMatch(/^\$\.c: "1\.5" does not match/);
  });
});
