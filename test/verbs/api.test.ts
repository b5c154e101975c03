import net from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Access, DEFAULT_DEVICE, DEVICE_LIMITS, QpAttrMask as M, SendFlags, VerbsError, listDevices, openDevice,
  type CompletionQueue, type Context, type Errno, type MemoryRegion, type ProtectionDomain, type QpAttr, type QpCap,
  type QpState, type QpType, type QueuePair, type RecvWr, type SendWr, type WorkCompletion,
} from '../../src/index.js';
import { HEADER_BYTES, HELLO_BYTES, decodeHello } from '../../src/wire/frame.js';
import { Monitor } from '../../src/monitor/monitor.js';

/*
 * The verbs API contract (../shared/API.md, DESIGN.md §3) without a peer QP: objects, validation,
 * limits, and the state rules of posting. Where a QP must reach RTR/RTS, it gets a real loopback
 * socket whose other end is a raw socket that never answers (timeout 0: no ACK timer runs).
 */

// ---- helpers ---------------------------------------------------------------------------------------

const contexts: Context[] = [];
const sockets: (() => void)[] = [];
/** Every context of these tests is watched by the model monitor; a test passes only if it agrees. */
const monitors: Monitor[] = [];

afterEach(() => {
  for (const ctx of contexts.splice(0)) ctx.close();
  for (const close of sockets.splice(0)) close();
  for (const monitor of monitors.splice(0)) monitor.assertAgreement();
});

function open(): Context {
  const monitor = new Monitor();
  const ctx = openDevice(undefined, { observer: monitor });
  contexts.push(ctx);
  monitors.push(monitor);
  return ctx;
}

/** Runs `call`; it must throw a VerbsError with this errno, a message matching `message`, and `badWr`. */
function expectVerbsError(call: () => unknown, errno: Errno, message: RegExp, badWr?: number): VerbsError {
  let error: unknown = undefined;
  try {
    call();
  } catch (thrown) {
    error = thrown;
  }
  if (!(error instanceof VerbsError)) {
    throw new Error(`expected VerbsError ${errno} matching ${message}, got ${error === undefined ? 'no error' : `${(error as Error)?.constructor?.name}: ${(error as Error)?.message ?? String(error)}`}`);
  }
  expect(error.name).toBe('VerbsError');
  expect(error.errno).toBe(errno);
  expect(error.message.startsWith(`${errno}: `)).toBe(true);
  expect(error.message).toMatch(message);
  if (badWr !== undefined) expect(error.badWr).toBe(badWr);
  return error;
}

async function expectRejects(promise: Promise<unknown>, errno: Errno, message: RegExp): Promise<void> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(VerbsError);
  expect((error as VerbsError).errno).toBe(errno);
  expect((error as VerbsError).message).toMatch(message);
}

const CAP: QpCap = { maxSendWr: 4, maxRecvWr: 4, maxSendSge: 2, maxRecvSge: 2, maxInlineData: 16 };
const PEER_QPN = 0x00abcd;
const INIT_MASK = M.STATE | M.PKEY_INDEX | M.PORT | M.ACCESS_FLAGS;
const RTR_MASK = M.STATE | M.AV | M.PATH_MTU | M.DEST_QPN | M.RQ_PSN | M.MAX_DEST_RD_ATOMIC | M.MIN_RNR_TIMER;
const RTS_MASK = M.STATE | M.SQ_PSN | M.TIMEOUT | M.RETRY_CNT | M.RNR_RETRY | M.MAX_QP_RD_ATOMIC;

interface Setup {
  ctx: Context;
  pd: ProtectionDomain;
  mr: MemoryRegion;
  cq: CompletionQueue;
  qp: QueuePair;
}

function setup(options: { qpType?: QpType; cap?: QpCap } = {}): Setup {
  const ctx = open();
  const pd = ctx.allocPd();
  const mr = pd.regMr(new Uint8Array(1 << 16), Access.LOCAL_WRITE | Access.REMOTE_WRITE | Access.REMOTE_READ | Access.REMOTE_ATOMIC);
  const cq = ctx.createCq(256);
  const qp = pd.createQp({ qpType: options.qpType ?? 'RC', sendCq: cq, recvCq: cq, sqSigAll: false, cap: options.cap ?? CAP });
  return { ctx, pd, mr, cq, qp };
}

const initAttr = (over: QpAttr = {}): QpAttr => ({ qpState: 'INIT', pkeyIndex: 0, portNum: 1, qpAccessFlags: Access.REMOTE_WRITE | Access.REMOTE_READ, ...over });
const rtrAttr = (socket: unknown, over: QpAttr = {}): QpAttr => ({
  qpState: 'RTR', ahAttr: { socket } as QpAttr['ahAttr'], pathMtu: 4096, destQpNum: PEER_QPN, rqPsn: 5, maxDestRdAtomic: 16, minRnrTimer: 12, ...over,
});
const rtsAttr = (over: QpAttr = {}): QpAttr => ({ qpState: 'RTS', sqPsn: 9, timeout: 0, retryCnt: 7, rnrRetry: 7, maxRdAtomic: 16, ...over });

function toInit(qp: QueuePair): void {
  qp.modify(initAttr(), INIT_MASK);
}

function toErr(qp: QueuePair): void {
  qp.modify({ qpState: 'ERR' }, M.STATE);
}

interface Loopback {
  /** Our end, to hand to the QP. */
  client: net.Socket;
  /** The other end: a raw socket that records what arrives and never answers. */
  peer: net.Socket;
  received(): Buffer;
  peerClosed(): boolean;
}

/** A connected pair of loopback TCP sockets on 127.0.0.1, port 0. */
async function loopback(): Promise<Loopback> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => { client.once('connect', () => resolve()); client.once('error', reject); });
  const peer = await accepted;
  const chunks: Buffer[] = [];
  let closed = false;
  peer.on('data', (chunk: Buffer) => chunks.push(chunk));
  peer.on('error', () => {});
  peer.on('close', () => { closed = true; });
  sockets.push(() => { peer.destroy(); client.destroy(); server.close(); });
  return { client, peer, received: () => Buffer.concat(chunks), peerClosed: () => closed };
}

async function toRtr(s: Setup, rqPsn = 5): Promise<Loopback> {
  const link = await loopback();
  toInit(s.qp);
  s.qp.modify(rtrAttr(link.client, { rqPsn }), RTR_MASK);
  return link;
}

async function toRts(s: Setup): Promise<Loopback> {
  const link = await toRtr(s);
  s.qp.modify(rtsAttr(), RTS_MASK);
  return link;
}

/** Lets the doorbell microtask and the transmit batch's setImmediate run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function waitFor(predicate: () => boolean, ms = 1000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return true;
}

/** Moves the QP to ERR and returns the flush completions, in the order the CQ gives them. */
async function flushed(s: Setup): Promise<WorkCompletion[]> {
  if (s.qp.query().qpState !== 'ERR') toErr(s.qp);
  await settle();
  return s.cq.poll(1024);
}

const summary = (wcs: WorkCompletion[]) => wcs.map((wc) => [wc.wrId, wc.status, wc.opcode]);
const sge = (s: Setup, offset: number, length: number) => ({ addr: s.mr.addr + offset, length, lkey: s.mr.lkey });
const send = (s: Setup, wrId: bigint, length = 5): SendWr => ({ wrId, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [sge(s, 0, length)] });
const recv = (s: Setup, wrId: bigint): RecvWr => ({ wrId, sgList: [sge(s, 0, 64)] });

// ---- devices ---------------------------------------------------------------------------------------

describe('devices and ports', () => {
  it('listDevices lists the default device; openDevice() and openDevice(name) open it', () => {
    const devices = listDevices();
    expect(devices.length).toBeGreaterThanOrEqual(1);
    expect(devices.map((d) => d.name)).toContain(DEFAULT_DEVICE);
    for (const d of devices) {
      expect(typeof d.name).toBe('string');
      expect(typeof d.guid).toBe('bigint');
      expect(d.transport).toBe('TCP');
    }
    expect(open().deviceName).toBe(DEFAULT_DEVICE);
    const byName = openDevice(DEFAULT_DEVICE);
    contexts.push(byName);
    expect(byName.deviceName).toBe(DEFAULT_DEVICE);
  });

  it('openDevice with an unknown name: ENODEV naming it and the devices that exist', () => {
    expectVerbsError(() => openDevice('mlx5_0'), 'ENODEV', /no device named "mlx5_0"; devices: tcpverbs0/);
    expectVerbsError(() => openDevice(''), 'ENODEV', /no device named ""/);
  });

  it('queryDevice reports the device limits', () => {
    const attr = open().queryDevice();
    expect(attr).toMatchObject({
      maxQp: DEVICE_LIMITS.maxQp, maxQpWr: DEVICE_LIMITS.maxQpWr, maxSge: DEVICE_LIMITS.maxSge, maxCqe: DEVICE_LIMITS.maxCqe,
      maxMr: DEVICE_LIMITS.maxMr, maxMrSize: DEVICE_LIMITS.maxMrSize, maxQpRdAtom: DEVICE_LIMITS.maxQpRdAtom,
      maxQpInitRdAtom: DEVICE_LIMITS.maxQpInitRdAtom, maxInlineData: DEVICE_LIMITS.maxInlineData, maxPd: DEVICE_LIMITS.maxPd,
      maxCq: DEVICE_LIMITS.maxCq, maxMsgSize: DEVICE_LIMITS.maxMsgSize, physPortCnt: 1,
    });
    expect(['NONE', 'HCA', 'GLOB']).toContain(attr.atomicCap);
    expect(typeof attr.fwVer).toBe('string');
    expect(typeof attr.nodeGuid).toBe('bigint');
    for (const key of ['maxQp', 'maxQpWr', 'maxSge', 'maxCq', 'maxCqe', 'maxMr', 'maxMrSize', 'maxPd', 'maxQpRdAtom', 'maxQpInitRdAtom', 'maxInlineData', 'maxMsgSize'] as const) {
      expect(Number.isSafeInteger(attr[key]) && attr[key] > 0, key).toBe(true);
    }
  });

  it('queryPort(1) is ACTIVE with an IB MTU; other ports are EINVAL with the valid range', () => {
    const ctx = open();
    const port = ctx.queryPort(1);
    expect(port.state).toBe('ACTIVE');
    expect([256, 512, 1024, 2048, 4096]).toContain(port.maxMtu);
    expect([256, 512, 1024, 2048, 4096]).toContain(port.activeMtu);
    expect(port.activeMtu).toBeLessThanOrEqual(port.maxMtu);
    expect(port.maxMsgSz).toBe(DEVICE_LIMITS.maxMsgSize);
    expectVerbsError(() => ctx.queryPort(2), 'EINVAL', /portNum must be an integer in 1\.\.1, got 2/);
    expectVerbsError(() => ctx.queryPort(0), 'EINVAL', /portNum must be an integer in 1\.\.1, got 0/);
    expectVerbsError(() => ctx.queryPort(1.5), 'EINVAL', /portNum/);
  });
});

// ---- PDs and MRs -------------------------------------------------------------------------------------

describe('protection domains and memory regions', () => {
  it('allocPd gives distinct PDs; regMr keeps the buffer, its length and a virtual address', () => {
    const ctx = open();
    const [pd1, pd2] = [ctx.allocPd(), ctx.allocPd()];
    expect(pd1).not.toBe(pd2);
    const backing = new Uint8Array(10_000);
    const buffer = backing.subarray(100, 4196);
    const mr = pd1.regMr(buffer, Access.LOCAL_WRITE | Access.REMOTE_READ);
    expect(mr.buffer).toBe(buffer);
    expect(mr.length).toBe(4096);
    expect(Number.isSafeInteger(mr.addr) && mr.addr > 0).toBe(true);
    expect(mr.access).toBe(Access.LOCAL_WRITE | Access.REMOTE_READ);
    expect(Number.isInteger(mr.lkey) && mr.lkey >= 0 && mr.lkey <= 0xffffffff).toBe(true);
    expect(Number.isInteger(mr.rkey) && mr.rkey >= 0 && mr.rkey <= 0xffffffff).toBe(true);
    expect(mr.lkey).not.toBe(mr.rkey);
    // Registration does not copy: the MR is the application's memory.
    mr.buffer[0] = 7;
    expect(backing[100]).toBe(7);
    const empty = pd2.regMr(new Uint8Array(0), 0);
    expect(empty.length).toBe(0);
  });

  it('address ranges of live regions never overlap', () => {
    const pd = open().allocPd();
    const mrs = Array.from({ length: 200 }, (_, i) => pd.regMr(new Uint8Array(1 + ((i * 7919) % 20_000)), Access.LOCAL_WRITE));
    const ranges = mrs.map((mr) => [mr.addr, mr.addr + mr.length] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThanOrEqual(ranges[i - 1]![1]);
  });

  it.each([
    ['REMOTE_WRITE', Access.REMOTE_WRITE],
    ['REMOTE_ATOMIC', Access.REMOTE_ATOMIC],
    ['REMOTE_WRITE|REMOTE_READ', Access.REMOTE_WRITE | Access.REMOTE_READ],
    ['REMOTE_READ|REMOTE_ATOMIC', Access.REMOTE_READ | Access.REMOTE_ATOMIC],
  ])('regMr with %s but without LOCAL_WRITE is EINVAL', (_name, access) => {
    const pd = open().allocPd();
    expectVerbsError(() => pd.regMr(new Uint8Array(64), access), 'EINVAL', /REMOTE_WRITE and REMOTE_ATOMIC need LOCAL_WRITE/);
  });

  it('regMr accepts every combination of known bits that respects the LOCAL_WRITE rule', () => {
    const pd = open().allocPd();
    for (let access = 0; access < 16; access++) {
      const needsLocal = (access & (Access.REMOTE_WRITE | Access.REMOTE_ATOMIC)) !== 0;
      if (needsLocal && (access & Access.LOCAL_WRITE) === 0) continue;
      expect(pd.regMr(new Uint8Array(8), access).access).toBe(access);
    }
  });

  it('regMr with unknown access bits or a non-integer is EINVAL, naming the allowed flags', () => {
    const pd = open().allocPd();
    expectVerbsError(() => pd.regMr(new Uint8Array(64), 1 << 4), 'EINVAL', /access has unknown bits 0x10; allowed: LOCAL_WRITE\|REMOTE_WRITE\|REMOTE_READ\|REMOTE_ATOMIC/);
    expectVerbsError(() => pd.regMr(new Uint8Array(64), Access.LOCAL_WRITE + 2 ** 31), 'EINVAL', /unknown bits 0x80000000/);
    expectVerbsError(() => pd.regMr(new Uint8Array(64), -1), 'EINVAL', /access must be an integer/);
    expectVerbsError(() => pd.regMr(new Uint8Array(64), 1.5), 'EINVAL', /access must be an integer/);
  });

  it('regMr of something that is not a Uint8Array, or larger than maxMrSize, is EINVAL', () => {
    const pd = open().allocPd();
    expectVerbsError(() => pd.regMr(new ArrayBuffer(64) as unknown as Uint8Array, Access.LOCAL_WRITE), 'EINVAL', /buffer must be a Uint8Array, got an object/);
    expectVerbsError(() => pd.regMr([1, 2, 3] as unknown as Uint8Array, Access.LOCAL_WRITE), 'EINVAL', /buffer must be a Uint8Array, got an array/);
    // A view claiming more than maxMrSize (without allocating a GiB).
    const oversized = new Uint8Array(8);
    Object.defineProperty(oversized, 'byteLength', { value: DEVICE_LIMITS.maxMrSize + 1 });
    expectVerbsError(() => pd.regMr(oversized, Access.LOCAL_WRITE), 'EINVAL', new RegExp(`${DEVICE_LIMITS.maxMrSize + 1} bytes; the largest registration is ${DEVICE_LIMITS.maxMrSize}`));
  });

  it('keys are distinct across maxMr registrations, lkey !== rkey, then ENOMEM; keys are never reused after dereg', () => {
    const pd = open().allocPd();
    const mrs: MemoryRegion[] = [];
    for (let i = 0; i < DEVICE_LIMITS.maxMr; i++) mrs.push(pd.regMr(new Uint8Array(16), Access.LOCAL_WRITE | Access.REMOTE_WRITE));
    const keys = new Set<number>();
    for (const mr of mrs) {
      expect(mr.lkey).not.toBe(mr.rkey);
      keys.add(mr.lkey);
      keys.add(mr.rkey);
    }
    expect(keys.size).toBe(2 * DEVICE_LIMITS.maxMr);
    expectVerbsError(() => pd.regMr(new Uint8Array(16), Access.LOCAL_WRITE), 'ENOMEM', new RegExp(`at most ${DEVICE_LIMITS.maxMr} memory regions`));
    for (const mr of mrs.splice(0, 100)) mr.dereg();
    for (let i = 0; i < 100; i++) {
      const mr = pd.regMr(new Uint8Array(16), Access.LOCAL_WRITE);
      expect(keys.has(mr.lkey) || keys.has(mr.rkey)).toBe(false);
      keys.add(mr.lkey);
      keys.add(mr.rkey);
    }
  });

  it('dereg makes the keys and the rest of the MR unreadable (EINVAL), and a second dereg is EINVAL', () => {
    const pd = open().allocPd();
    const mr = pd.regMr(new Uint8Array(64), Access.LOCAL_WRITE | Access.REMOTE_WRITE);
    expect(mr.deregistered).toBe(false);
    mr.dereg();
    expect(mr.deregistered).toBe(true);
    expectVerbsError(() => mr.lkey, 'EINVAL', /the memory region was deregistered/);
    expectVerbsError(() => mr.rkey, 'EINVAL', /the memory region was deregistered/);
    expectVerbsError(() => mr.addr, 'EINVAL', /deregistered/);
    expectVerbsError(() => mr.length, 'EINVAL', /deregistered/);
    expectVerbsError(() => mr.buffer, 'EINVAL', /deregistered/);
    expectVerbsError(() => mr.dereg(), 'EINVAL', /deregistered/);
  });

  it('pd.dealloc with a live MR or QP is EBUSY, saying what is left; after releasing them it works, once', () => {
    const s = setup();
    expectVerbsError(() => s.pd.dealloc(), 'EBUSY', /still has 1 memory region\(s\) and 1 QP\(s\); release them first/);
    s.qp.destroy();
    expectVerbsError(() => s.pd.dealloc(), 'EBUSY', /still has 1 memory region\(s\) and 0 QP\(s\)/);
    s.mr.dereg();
    s.pd.dealloc();
    expectVerbsError(() => s.pd.dealloc(), 'EINVAL', /the protection domain was deallocated/);
    expectVerbsError(() => s.pd.regMr(new Uint8Array(8), 0), 'EINVAL', /deallocated/);
    expectVerbsError(() => s.pd.createQp({ qpType: 'RC', sendCq: s.cq, recvCq: s.cq, cap: CAP }), 'EINVAL', /deallocated/);
  });

  it('at most maxPd protection domains: ENOMEM, and a freed one can be allocated again', () => {
    const ctx = open();
    const pds = Array.from({ length: DEVICE_LIMITS.maxPd }, () => ctx.allocPd());
    expectVerbsError(() => ctx.allocPd(), 'ENOMEM', new RegExp(`at most ${DEVICE_LIMITS.maxPd} protection domains`));
    pds[0]!.dealloc();
    expect(ctx.allocPd()).toBeDefined();
  });
});

// ---- CQs and channels -------------------------------------------------------------------------------

describe('completion queues and channels', () => {
  it.each([0, -1, 1.5, Number.NaN, DEVICE_LIMITS.maxCqe + 1])('createCq(%s) is EINVAL with the valid range', (cqe) => {
    expectVerbsError(() => open().createCq(cqe), 'EINVAL', new RegExp(`cqe must be an integer in 1\\.\\.${DEVICE_LIMITS.maxCqe}, got `));
  });

  it('cq.cqe >= requested', () => {
    const ctx = open();
    for (const n of [1, 2, 255, 256, 1000, DEVICE_LIMITS.maxCqe]) {
      const cq = ctx.createCq(n);
      expect(cq.cqe).toBeGreaterThanOrEqual(n);
      cq.destroy();
    }
  });

  it('reqNotify without a channel is EINVAL and says how to get one; with a channel it arms', () => {
    const ctx = open();
    expectVerbsError(() => ctx.createCq(4).reqNotify(false), 'EINVAL', /created without a completion channel; pass \{ channel \} to createCq/);
    const channel = ctx.createCompChannel();
    const cq = ctx.createCq(4, { channel });
    expect(cq.channel).toBe(channel);
    expect(() => cq.reqNotify(false)).not.toThrow();
    expect(() => cq.reqNotify(true)).not.toThrow();
  });

  it('a channel that is not from createCompChannel is EINVAL', () => {
    const ctx = open();
    expectVerbsError(() => ctx.createCq(4, { channel: {} as never }), 'EINVAL', /options\.channel must come from createCompChannel\(\), got an object/);
  });

  it('a destroyed channel cannot be given to a new CQ (EINVAL)', () => {
    const ctx = open();
    const channel = ctx.createCompChannel();
    channel.destroy();
    expectVerbsError(() => ctx.createCq(4, { channel }), 'EINVAL', /channel/);
  });

  it('channel.destroy while a CQ uses it is EBUSY; it works after the CQ is destroyed, once', async () => {
    const ctx = open();
    const channel = ctx.createCompChannel();
    const cq = ctx.createCq(4, { channel });
    expectVerbsError(() => channel.destroy(), 'EBUSY', /1 CQ\(s\) still use this completion channel; destroy them first/);
    cq.destroy();
    channel.destroy();
    expectVerbsError(() => channel.destroy(), 'EINVAL', /already destroyed/);
    await expectRejects(channel.getEvent(), 'EINVAL', /the completion channel was destroyed/);
  });

  it('cq.destroy while a QP uses it is EBUSY; it works after qp.destroy', () => {
    const ctx = open();
    const pd = ctx.allocPd();
    const sendCq = ctx.createCq(8);
    const recvCq = ctx.createCq(8);
    const qp = pd.createQp({ qpType: 'RC', sendCq, recvCq, cap: CAP });
    expectVerbsError(() => sendCq.destroy(), 'EBUSY', /1 QP\(s\) still use this CQ; destroy them first/);
    expectVerbsError(() => recvCq.destroy(), 'EBUSY', /1 QP\(s\) still use this CQ/);
    qp.destroy();
    sendCq.destroy();
    recvCq.destroy();
  });

  it('the EBUSY message counts QPs: one QP using a CQ as send and receive CQ is one QP', () => {
    const s = setup();
    expectVerbsError(() => s.cq.destroy(), 'EBUSY', /^EBUSY: 1 QP\(s\) still use this CQ/);
  });

  it('a destroyed CQ refuses poll, reqNotify, destroy and new QPs (EINVAL)', () => {
    const ctx = open();
    const pd = ctx.allocPd();
    const channel = ctx.createCompChannel();
    const cq = ctx.createCq(4, { channel });
    const live = ctx.createCq(4);
    cq.destroy();
    expect(cq.isDestroyed).toBe(true);
    expectVerbsError(() => cq.poll(1), 'EINVAL', /the CQ was destroyed/);
    expectVerbsError(() => cq.reqNotify(false), 'EINVAL', /the CQ was destroyed/);
    expectVerbsError(() => cq.destroy(), 'EINVAL', /the CQ was destroyed/);
    expectVerbsError(() => pd.createQp({ qpType: 'RC', sendCq: cq, recvCq: live, cap: CAP }), 'EINVAL', /sendCq must be a live CQ of this device context/);
    expectVerbsError(() => pd.createQp({ qpType: 'RC', sendCq: live, recvCq: cq, cap: CAP }), 'EINVAL', /recvCq must be a live CQ of this device context/);
    channel.destroy();
  });

  it('poll takes 0..n entries: poll(0) is empty, a negative count is EINVAL', () => {
    const cq = open().createCq(4);
    expect(cq.poll(0)).toEqual([]);
    expect(cq.poll(16)).toEqual([]);
    expectVerbsError(() => cq.poll(-1), 'EINVAL', /maxEntries must be an integer in 0\.\./);
  });

  it('at most maxCq CQs: ENOMEM', () => {
    const ctx = open();
    for (let i = 0; i < DEVICE_LIMITS.maxCq; i++) ctx.createCq(1);
    expectVerbsError(() => ctx.createCq(1), 'ENOMEM', new RegExp(`at most ${DEVICE_LIMITS.maxCq} CQs`));
  });
});

// ---- createQp -------------------------------------------------------------------------------------------

describe('createQp', () => {
  it('a new QP is in RESET with a 24-bit qpNum (not 0 or 1) and the caps it reports in query()', () => {
    const s = setup();
    expect(s.qp.qpType).toBe('RC');
    expect(s.qp.qpNum).toBeGreaterThanOrEqual(2);
    expect(s.qp.qpNum).toBeLessThanOrEqual(0xffffff);
    expect(s.qp.query().qpState).toBe('RESET');
    expect(s.qp.query().cap).toEqual(s.qp.cap);
  });

  it('qp.cap >= requested, for any caps within the device limits; live QPs have distinct qpNums', () => {
    const ctx = open();
    const pd = ctx.allocPd();
    const cq = ctx.createCq(16);
    // A destroyed QP's number may come back (real devices reuse QPNs too): distinct among the live.
    const live: QueuePair[] = [];
    const capArb = fc.record({
      maxSendWr: fc.integer({ min: 1, max: DEVICE_LIMITS.maxQpWr }),
      maxRecvWr: fc.integer({ min: 0, max: DEVICE_LIMITS.maxQpWr }),
      maxSendSge: fc.integer({ min: 0, max: DEVICE_LIMITS.maxSge }),
      maxRecvSge: fc.integer({ min: 0, max: DEVICE_LIMITS.maxSge }),
      maxInlineData: fc.integer({ min: 0, max: DEVICE_LIMITS.maxInlineData }),
    }, { requiredKeys: ['maxSendWr', 'maxRecvWr'] });
    fc.assert(fc.property(capArb, fc.constantFrom<QpType>('RC', 'STREAM'), (cap, qpType) => {
      const qp = pd.createQp({ qpType, sendCq: cq, recvCq: cq, cap });
      expect(live.map((q) => q.qpNum)).not.toContain(qp.qpNum);
      live.push(qp);
      if (live.length > 32) live.shift()!.destroy();
      expect(qp.qpType).toBe(qpType);
      for (const key of ['maxSendWr', 'maxRecvWr', 'maxSendSge', 'maxRecvSge', 'maxInlineData'] as const) {
        expect(Number.isInteger(qp.cap[key]), key).toBe(true);
        expect(qp.cap[key], key).toBeGreaterThanOrEqual(cap[key] ?? 0);
      }
    }), { numRuns: 200 });
    for (const qp of live) qp.destroy();
  });

  it.each(['UD', 'rc', 'UC', undefined, 3])('qpType %s is EINVAL, listing the types', (qpType) => {
    const ctx = open();
    const cq = ctx.createCq(4);
    expectVerbsError(() => ctx.allocPd().createQp({ qpType: qpType as QpType, sendCq: cq, recvCq: cq, cap: CAP }), 'EINVAL', /qpType must be one of RC, STREAM, got /);
  });

  it('a CQ of another device context, or no CQ at all, is EINVAL', () => {
    const ctx = open();
    const other = open();
    const mine = ctx.createCq(4);
    const theirs = other.createCq(4);
    const pd = ctx.allocPd();
    expectVerbsError(() => pd.createQp({ qpType: 'RC', sendCq: theirs, recvCq: mine, cap: CAP }), 'EINVAL', /sendCq must be a live CQ of this device context/);
    expectVerbsError(() => pd.createQp({ qpType: 'RC', sendCq: mine, recvCq: theirs, cap: CAP }), 'EINVAL', /recvCq must be a live CQ of this device context/);
    expectVerbsError(() => pd.createQp({ qpType: 'RC', sendCq: undefined as never, recvCq: mine, cap: CAP }), 'EINVAL', /sendCq/);
  });

  it.each([
    ['maxSendWr', 0, 1, DEVICE_LIMITS.maxQpWr],
    ['maxSendWr', DEVICE_LIMITS.maxQpWr + 1, 1, DEVICE_LIMITS.maxQpWr],
    ['maxSendWr', 1.5, 1, DEVICE_LIMITS.maxQpWr],
    ['maxRecvWr', -1, 0, DEVICE_LIMITS.maxQpWr],
    ['maxRecvWr', DEVICE_LIMITS.maxQpWr + 1, 0, DEVICE_LIMITS.maxQpWr],
    ['maxSendSge', DEVICE_LIMITS.maxSge + 1, 0, DEVICE_LIMITS.maxSge],
    ['maxRecvSge', DEVICE_LIMITS.maxSge + 1, 0, DEVICE_LIMITS.maxSge],
    ['maxRecvSge', -1, 0, DEVICE_LIMITS.maxSge],
    ['maxInlineData', DEVICE_LIMITS.maxInlineData + 1, 0, DEVICE_LIMITS.maxInlineData],
  ] as const)('cap.%s = %s is EINVAL naming the field and its range', (field, value, min, max) => {
    const ctx = open();
    const cq = ctx.createCq(4);
    expectVerbsError(() => ctx.allocPd().createQp({ qpType: 'RC', sendCq: cq, recvCq: cq, cap: { ...CAP, [field]: value } }), 'EINVAL',
      new RegExp(`cap\\.${field} must be an integer in ${min}\\.\\.${max}, got ${value}`));
  });

  it('a missing cap, a non-object init or a non-boolean sqSigAll is EINVAL', () => {
    const ctx = open();
    const cq = ctx.createCq(4);
    const pd = ctx.allocPd();
    expectVerbsError(() => pd.createQp({ qpType: 'RC', sendCq: cq, recvCq: cq } as never), 'EINVAL', /cap \{ maxSendWr, maxRecvWr, .* \} is required/);
    expectVerbsError(() => pd.createQp(null as never), 'EINVAL', /init must be an object/);
    expectVerbsError(() => pd.createQp({ qpType: 'RC', sendCq: cq, recvCq: cq, sqSigAll: 1 as never, cap: CAP }), 'EINVAL', /sqSigAll must be a boolean, got 1/);
  });

  it('at most maxQp QPs: ENOMEM', () => {
    const ctx = open();
    const pd = ctx.allocPd();
    const cq = ctx.createCq(4);
    for (let i = 0; i < DEVICE_LIMITS.maxQp; i++) pd.createQp({ qpType: 'RC', sendCq: cq, recvCq: cq, cap: { maxSendWr: 1, maxRecvWr: 0 } });
    expectVerbsError(() => pd.createQp({ qpType: 'RC', sendCq: cq, recvCq: cq, cap: { maxSendWr: 1, maxRecvWr: 0 } }), 'ENOMEM', new RegExp(`at most ${DEVICE_LIMITS.maxQp} QPs`));
  });
});

// ---- modify ---------------------------------------------------------------------------------------------

describe('modify: the kernel table, attribute values, query()', () => {
  it('RESET -> INIT -> RTR (loopback socket) -> RTS, and query() reflects every modify', async () => {
    const s = setup();
    const link = await loopback();
    s.qp.modify(initAttr({ qpAccessFlags: Access.REMOTE_WRITE | Access.REMOTE_ATOMIC }), INIT_MASK);
    expect(s.qp.query()).toMatchObject({ qpState: 'INIT', qpAccessFlags: Access.REMOTE_WRITE | Access.REMOTE_ATOMIC, pkeyIndex: 0, portNum: 1 });
    s.qp.modify({ qpAccessFlags: Access.REMOTE_READ }, M.ACCESS_FLAGS); // INIT -> INIT without the STATE bit
    expect(s.qp.query()).toMatchObject({ qpState: 'INIT', qpAccessFlags: Access.REMOTE_READ });

    s.qp.modify(rtrAttr(link.client, { pathMtu: 1024, destQpNum: PEER_QPN, rqPsn: 0x123456, maxDestRdAtomic: 4, minRnrTimer: 20 }), RTR_MASK);
    expect(s.qp.query()).toMatchObject({ qpState: 'RTR', pathMtu: 1024, destQpNum: PEER_QPN, rqPsn: 0x123456, maxDestRdAtomic: 4, minRnrTimer: 20 });

    s.qp.modify(rtsAttr({ sqPsn: 0xfffffe, timeout: 18, retryCnt: 3, rnrRetry: 6, maxRdAtomic: 2 }), RTS_MASK);
    expect(s.qp.query()).toMatchObject({ qpState: 'RTS', sqPsn: 0xfffffe, timeout: 18, retryCnt: 3, rnrRetry: 6, maxRdAtomic: 2 });
    expect(s.qp.state).toBe('RTS');

    s.qp.modify({ qpState: 'RTS', minRnrTimer: 1 }, M.STATE | M.MIN_RNR_TIMER); // RTS -> RTS, optional attribute
    expect(s.qp.query()).toMatchObject({ qpState: 'RTS', minRnrTimer: 1 });
  });

  it('at RTR the QP greets its peer with the 32-byte HELLO of docs/wire.md', async () => {
    const s = setup();
    const link = await toRtr(s, 0x00beef);
    expect(await waitFor(() => link.received().byteLength >= HELLO_BYTES)).toBe(true);
    const bytes = link.received();
    expect(bytes.byteLength).toBe(HELLO_BYTES);
    expect(decodeHello(new Uint8Array(bytes))).toEqual({
      ok: true,
      value: { srcQpn: s.qp.qpNum, destQpn: PEER_QPN, rqPsn: 0x00beef, maxMessage: s.ctx.queryDevice().maxMsgSize, maxDestRdAtomic: 16 },
    });
  });

  it('a socket that is not connected is refused with EINVAL: destroyed, half-closed, or not a socket at all', async () => {
    const s = setup();
    toInit(s.qp);
    const destroyed = (await loopback()).client;
    destroyed.destroy();
    expectVerbsError(() => s.qp.modify(rtrAttr(destroyed), RTR_MASK), 'EINVAL', /attr\.ahAttr\.socket is not connected \(readyState closed, destroyed\)/);
    const halfClosed = (await loopback()).client;
    halfClosed.end();
    expectVerbsError(() => s.qp.modify(rtrAttr(halfClosed), RTR_MASK), 'EINVAL', /attr\.ahAttr\.socket is not connected \(readyState readOnly\)/);
    expectVerbsError(() => s.qp.modify(rtrAttr({}), RTR_MASK), 'EINVAL', /attr\.ahAttr\.socket must be a connected net\.Socket/);
    expectVerbsError(() => s.qp.modify({ ...rtrAttr(undefined), ahAttr: undefined }, RTR_MASK), 'EINVAL', /attr\.ahAttr\.socket must be a connected net\.Socket/);
    expect(s.qp.query().qpState).toBe('INIT');
  });

  it('a socket still connecting is refused with EINVAL', async () => {
    const s = setup();
    toInit(s.qp);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    server.on('connection', (accepted: net.Socket) => accepted.destroy());
    const connecting = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    connecting.on('error', () => {});
    sockets.push(() => { connecting.destroy(); server.close(); });
    expectVerbsError(() => s.qp.modify(rtrAttr(connecting), RTR_MASK), 'EINVAL', /attr\.ahAttr\.socket is not connected \(readyState opening\)/);
    expect(s.qp.query().qpState).toBe('INIT');
  });

  it('a never-connected new net.Socket() is refused with EINVAL (a VerbsError, not a transport exception)', () => {
    const s = setup();
    toInit(s.qp);
    expectVerbsError(() => s.qp.modify(rtrAttr(new net.Socket()), RTR_MASK), 'EINVAL', /socket/);
    expect(s.qp.query().qpState).toBe('INIT');
  });

  it('a refused INIT -> RTR leaves every attribute as it was', () => {
    const s = setup();
    toInit(s.qp);
    const before = s.qp.query();
    try {
      s.qp.modify(rtrAttr(new net.Socket(), { destQpNum: 77, rqPsn: 99, minRnrTimer: 3, maxDestRdAtomic: 2, pathMtu: 512 }), RTR_MASK);
    } catch {
      // refused: checked below
    }
    expect(s.qp.query()).toEqual(before);
  });

  it('a connected socket that cannot be handed over (setEncoding was called) is refused with EINVAL', async () => {
    const s = setup();
    toInit(s.qp);
    const link = await loopback();
    link.client.setEncoding('utf8');
    expectVerbsError(() => s.qp.modify(rtrAttr(link.client), RTR_MASK), 'EINVAL', /setEncoding|socket/);
    expect(s.qp.query().qpState).toBe('INIT');
  });

  it.each([
    ['RESET', 'RTR', 'RESET, INIT'],
    ['RESET', 'RTS', 'RESET, INIT'],
    ['RESET', 'SQD', 'RESET, INIT'],
    ['RESET', 'ERR', 'RESET, INIT'],
    ['RESET', 'SQE', 'RESET, INIT'],
    ['INIT', 'RTS', 'RESET, ERR, INIT, RTR'],
    ['INIT', 'SQD', 'RESET, ERR, INIT, RTR'],
    ['ERR', 'INIT', 'RESET, ERR'],
    ['ERR', 'RTS', 'RESET, ERR'],
  ] as const)('%s -> %s is EINVAL, listing the allowed targets', (from, to, allowed) => {
    const s = setup();
    if (from !== 'RESET') toInit(s.qp);
    if (from === 'ERR') toErr(s.qp);
    expect(s.qp.query().qpState).toBe(from);
    expectVerbsError(() => s.qp.modify({ qpState: to }, M.STATE), 'EINVAL', new RegExp(`^EINVAL: ${from} -> ${to} is not a valid QP transition; from ${from} the QP may go to ${allowed}$`));
    expect(s.qp.query().qpState).toBe(from);
  });

  it('a missing required attribute is named, with what the transition requires', async () => {
    const s = setup();
    expectVerbsError(() => s.qp.modify(initAttr(), M.STATE | M.PKEY_INDEX | M.ACCESS_FLAGS), 'EINVAL',
      /RESET -> INIT requires ACCESS_FLAGS\|PKEY_INDEX\|PORT; the mask lacks PORT$/);
    expectVerbsError(() => s.qp.modify(initAttr(), M.STATE), 'EINVAL', /the mask lacks ACCESS_FLAGS\|PKEY_INDEX\|PORT$/);
    toInit(s.qp);
    const link = await loopback();
    expectVerbsError(() => s.qp.modify(rtrAttr(link.client), RTR_MASK & ~M.MIN_RNR_TIMER), 'EINVAL',
      /INIT -> RTR requires AV\|PATH_MTU\|RQ_PSN\|MIN_RNR_TIMER\|MAX_DEST_RD_ATOMIC\|DEST_QPN; the mask lacks MIN_RNR_TIMER$/);
    expectVerbsError(() => s.qp.modify(rtrAttr(link.client), RTR_MASK & ~(M.AV | M.DEST_QPN)), 'EINVAL', /the mask lacks AV\|DEST_QPN$/);
    s.qp.modify(rtrAttr(link.client), RTR_MASK);
    expectVerbsError(() => s.qp.modify(rtsAttr(), RTS_MASK & ~M.SQ_PSN), 'EINVAL', /RTR -> RTS requires .*; the mask lacks SQ_PSN$/);
  });

  it('an attribute outside required and optional is named, with what the transition takes', () => {
    const s = setup();
    expectVerbsError(() => s.qp.modify(initAttr({ timeout: 14 }), INIT_MASK | M.TIMEOUT), 'EINVAL',
      /RESET -> INIT does not take TIMEOUT; it takes STATE\|ACCESS_FLAGS\|PKEY_INDEX\|PORT$/);
    expectVerbsError(() => s.qp.modify(initAttr(), INIT_MASK | (1 << 30)), 'EINVAL', /RESET -> INIT does not take 0x40000000/);
    toInit(s.qp);
    expectVerbsError(() => s.qp.modify({ qpState: 'ERR', sqPsn: 1 }, M.STATE | M.SQ_PSN), 'EINVAL', /INIT -> ERR does not take SQ_PSN; it takes STATE$/);
    expect(s.qp.query().qpState).toBe('INIT');
  });

  it('CUR_STATE is refused in INIT (only RTR, RTS, SQD, SQE take it), and a false claim is refused in RTR', async () => {
    const s = setup();
    toInit(s.qp);
    expectVerbsError(() => s.qp.modify({ qpState: 'INIT', curQpState: 'INIT' }, M.STATE | M.CUR_STATE), 'EINVAL',
      /IBV_QP_CUR_STATE is accepted only in RTR, RTS, SQD or SQE; the QP is in INIT/);
    const link = await loopback();
    s.qp.modify(rtrAttr(link.client), RTR_MASK);
    expectVerbsError(() => s.qp.modify(rtsAttr({ curQpState: 'RTS' }), RTS_MASK | M.CUR_STATE), 'EINVAL', /attr\.curQpState is "RTS" but the QP is in RTR/);
    s.qp.modify(rtsAttr({ curQpState: 'RTR' }), RTS_MASK | M.CUR_STATE);
    expect(s.qp.query().qpState).toBe('RTS');
  });

  it('without the STATE bit the target is the current state: fine in RESET and INIT, not in RTR', async () => {
    const s = setup();
    s.qp.modify({}, 0);
    expect(s.qp.query().qpState).toBe('RESET');
    toInit(s.qp);
    s.qp.modify({ pkeyIndex: 0 }, M.PKEY_INDEX);
    expect(s.qp.query().qpState).toBe('INIT');
    const link = await loopback();
    s.qp.modify(rtrAttr(link.client), RTR_MASK);
    expectVerbsError(() => s.qp.modify({}, 0), 'EINVAL', /RTR -> RTR is not a valid QP transition; from RTR the QP may go to RESET, ERR, RTS/);
  });

  it('ERR is reusable through RESET; RESET clears the attributes', () => {
    const s = setup();
    toInit(s.qp);
    toErr(s.qp);
    expect(s.qp.query().qpState).toBe('ERR');
    s.qp.modify({ qpState: 'RESET' }, M.STATE);
    expect(s.qp.query()).toMatchObject({ qpState: 'RESET', qpAccessFlags: 0 });
    toInit(s.qp);
    expect(s.qp.query().qpState).toBe('INIT');
  });

  describe('attribute values out of range are EINVAL, name the attribute and its range, and change nothing', () => {
    type ValueCase = { name: string; from: QpState; attr: (socket: net.Socket) => QpAttr; mask: number; message: RegExp };
    const cases: ValueCase[] = [
      { name: 'portNum 2', from: 'RESET', attr: () => initAttr({ portNum: 2 }), mask: INIT_MASK, message: /attr\.portNum must be an integer in 1\.\.1, got 2/ },
      { name: 'portNum 0', from: 'RESET', attr: () => initAttr({ portNum: 0 }), mask: INIT_MASK, message: /attr\.portNum must be an integer in 1\.\.1, got 0/ },
      { name: 'pkeyIndex 1', from: 'RESET', attr: () => initAttr({ pkeyIndex: 1 }), mask: INIT_MASK, message: /attr\.pkeyIndex must be an integer in 0\.\.0, got 1/ },
      { name: 'qpAccessFlags with an unknown bit', from: 'RESET', attr: () => initAttr({ qpAccessFlags: 1 << 5 }), mask: INIT_MASK, message: /attr\.qpAccessFlags has unknown bits 0x20; allowed: LOCAL_WRITE\|REMOTE_WRITE\|REMOTE_READ\|REMOTE_ATOMIC/ },
      { name: 'qpState not a state', from: 'RESET', attr: () => ({ ...initAttr(), qpState: 'READY' as QpState }), mask: INIT_MASK, message: /attr\.qpState must be one of RESET, INIT, RTR, RTS, SQD, SQE, ERR, got "READY"/ },
      { name: 'pathMtu 1000', from: 'INIT', attr: (socket) => rtrAttr(socket, { pathMtu: 1000 }), mask: RTR_MASK, message: /attr\.pathMtu must be one of 256, 512, 1024, 2048, 4096, got 1000/ },
      { name: 'destQpNum 2^24', from: 'INIT', attr: (socket) => rtrAttr(socket, { destQpNum: 0x1000000 }), mask: RTR_MASK, message: /attr\.destQpNum must be an integer in 0\.\.16777215, got 16777216/ },
      { name: 'rqPsn 2^24', from: 'INIT', attr: (socket) => rtrAttr(socket, { rqPsn: 0x1000000 }), mask: RTR_MASK, message: /attr\.rqPsn must be an integer in 0\.\.16777215/ },
      { name: 'rqPsn -1', from: 'INIT', attr: (socket) => rtrAttr(socket, { rqPsn: -1 }), mask: RTR_MASK, message: /attr\.rqPsn must be an integer in 0\.\.16777215, got -1/ },
      { name: 'maxDestRdAtomic 17', from: 'INIT', attr: (socket) => rtrAttr(socket, { maxDestRdAtomic: 17 }), mask: RTR_MASK, message: /attr\.maxDestRdAtomic must be an integer in 0\.\.16, got 17/ },
      { name: 'minRnrTimer 32', from: 'INIT', attr: (socket) => rtrAttr(socket, { minRnrTimer: 32 }), mask: RTR_MASK, message: /attr\.minRnrTimer must be an integer in 0\.\.31, got 32/ },
      { name: 'timeout 32', from: 'RTR', attr: () => rtsAttr({ timeout: 32 }), mask: RTS_MASK, message: /attr\.timeout must be an integer in 0\.\.31, got 32/ },
      { name: 'retryCnt 8', from: 'RTR', attr: () => rtsAttr({ retryCnt: 8 }), mask: RTS_MASK, message: /attr\.retryCnt must be an integer in 0\.\.7, got 8/ },
      { name: 'rnrRetry 8', from: 'RTR', attr: () => rtsAttr({ rnrRetry: 8 }), mask: RTS_MASK, message: /attr\.rnrRetry must be an integer in 0\.\.7, got 8/ },
      { name: 'sqPsn 2^24', from: 'RTR', attr: () => rtsAttr({ sqPsn: 0x1000000 }), mask: RTS_MASK, message: /attr\.sqPsn must be an integer in 0\.\.16777215, got 16777216/ },
      { name: 'maxRdAtomic 17', from: 'RTR', attr: () => rtsAttr({ maxRdAtomic: 17 }), mask: RTS_MASK, message: /attr\.maxRdAtomic must be an integer in 0\.\.16, got 17/ },
      { name: 'timeout 1.5', from: 'RTR', attr: () => rtsAttr({ timeout: 1.5 }), mask: RTS_MASK, message: /attr\.timeout must be an integer in 0\.\.31, got 1\.5/ },
    ];

    it.each(cases)('$name (from $from)', async ({ from, attr, mask, message }) => {
      const s = setup();
      const link = await loopback();
      if (from !== 'RESET') toInit(s.qp);
      if (from === 'RTR') s.qp.modify(rtrAttr(link.client), RTR_MASK);
      const before = s.qp.query();
      expectVerbsError(() => s.qp.modify(attr(link.client), mask), 'EINVAL', message);
      expect(s.qp.query()).toEqual(before);
      // The refusal took nothing: with the value fixed, the same modify goes through (and, before RTR, the socket is still ours to give).
      if (from === 'RESET') toInit(s.qp);
      if (from === 'INIT') s.qp.modify(rtrAttr(link.client), RTR_MASK);
      if (from === 'RTR') s.qp.modify(rtsAttr(), RTS_MASK);
      expect(s.qp.query().qpState).toBe(from === 'RESET' ? 'INIT' : from === 'INIT' ? 'RTR' : 'RTS');
    });
  });

  it('attr must be an object and mask a u32', () => {
    const s = setup();
    expectVerbsError(() => s.qp.modify(null as never, M.STATE), 'EINVAL', /attr must be an object, got null/);
    expectVerbsError(() => s.qp.modify(initAttr(), -1), 'EINVAL', /mask must be an integer in 0\.\.4294967295, got -1/);
    expectVerbsError(() => s.qp.modify(initAttr(), 2 ** 32), 'EINVAL', /mask must be an integer/);
  });
});

// ---- posting and states -------------------------------------------------------------------------------------

describe('posting in every state', () => {
  it.each(['RESET', 'INIT', 'RTR'] as const)('postSend in %s is EINVAL with badWr 0, and nothing is posted', async (state) => {
    const s = setup();
    if (state !== 'RESET') toInit(s.qp);
    if (state === 'RTR') s.qp.modify(rtrAttr((await loopback()).client), RTR_MASK);
    expect(s.qp.query().qpState).toBe(state);
    expectVerbsError(() => s.qp.postSend(send(s, 1n)), 'EINVAL', new RegExp(`postSend needs the QP in RTS or SQD \\(or ERR, to flush\\); it is in ${state}`), 0);
    expectVerbsError(() => s.qp.postSend([send(s, 1n), send(s, 2n), send(s, 3n)]), 'EINVAL', /postSend needs the QP in RTS/, 0);
    if (state !== 'RESET') expect(summary(await flushed(s))).toEqual([]);
  });

  it('postRecv in RESET is EINVAL with badWr 0', () => {
    const s = setup();
    expectVerbsError(() => s.qp.postRecv(recv(s, 1n)), 'EINVAL', /postRecv needs the QP in INIT or later; it is in RESET/, 0);
    expectVerbsError(() => s.qp.postRecv([recv(s, 1n), recv(s, 2n)]), 'EINVAL', /it is in RESET/, 0);
  });

  it('postRecv is accepted in INIT and RTR, and the receives stay posted (flushed in order by ERR)', async () => {
    const s = setup();
    toInit(s.qp);
    s.qp.postRecv([recv(s, 1n), recv(s, 2n)]);
    s.qp.modify(rtrAttr((await loopback()).client), RTR_MASK);
    s.qp.postRecv(recv(s, 3n));
    expect(s.cq.poll(8)).toEqual([]);
    expect(summary(await flushed(s))).toEqual([[1n, 'WR_FLUSH_ERR', 'RECV'], [2n, 'WR_FLUSH_ERR', 'RECV'], [3n, 'WR_FLUSH_ERR', 'RECV']]);
  });

  it('postSend is accepted in RTS; the WRs go on the wire and stay outstanding until ERR flushes them in order', async () => {
    const s = setup();
    const link = await toRts(s);
    s.qp.postSend([send(s, 1n), { ...send(s, 2n), sendFlags: 0 }]);
    expect(await waitFor(() => link.received().byteLength >= HELLO_BYTES + 2 * (HEADER_BYTES.SEND + 5))).toBe(true);
    expect(s.cq.poll(8)).toEqual([]); // no ACK from a raw peer: nothing completes
    // Flushed sends complete whether signaled or not.
    expect(summary(await flushed(s))).toEqual([[1n, 'WR_FLUSH_ERR', 'SEND'], [2n, 'WR_FLUSH_ERR', 'SEND']]);
  });

  it('posting in ERR is accepted and every WR completes WR_FLUSH_ERR, in posting order', async () => {
    const s = setup();
    toInit(s.qp);
    toErr(s.qp);
    s.qp.postSend([send(s, 1n), { ...send(s, 2n), sendFlags: 0 }, { wrId: 3n, opcode: 'RDMA_READ', sgList: [sge(s, 0, 8)], rdma: { remoteAddr: 0, rkey: 0 } }]);
    s.qp.postRecv([recv(s, 10n), recv(s, 11n)]);
    await settle();
    const wcs = s.cq.poll(16);
    expect(summary(wcs.filter((wc) => wc.opcode !== 'RECV'))).toEqual([[1n, 'WR_FLUSH_ERR', 'SEND'], [2n, 'WR_FLUSH_ERR', 'SEND'], [3n, 'WR_FLUSH_ERR', 'RDMA_READ']]);
    expect(summary(wcs.filter((wc) => wc.opcode === 'RECV'))).toEqual([[10n, 'WR_FLUSH_ERR', 'RECV'], [11n, 'WR_FLUSH_ERR', 'RECV']]);
    for (const wc of wcs) expect(wc).toMatchObject({ qpNum: s.qp.qpNum, byteLen: 0 });
  });
});

describe('queue limits: ENOMEM with badWr at the first WR that did not fit; the ones before stay posted', () => {
  it('receive queue (INIT): 6 WRs into maxRecvWr 4', async () => {
    const s = setup();
    toInit(s.qp);
    const wrs = [1n, 2n, 3n, 4n, 5n, 6n].map((id) => recv(s, id));
    expectVerbsError(() => s.qp.postRecv(wrs), 'ENOMEM', /the receive queue is full: 4 WRs outstanding \(cap\.maxRecvWr\)/, 4);
    expectVerbsError(() => s.qp.postRecv(recv(s, 7n)), 'ENOMEM', /receive queue is full/, 0);
    expect(summary(await flushed(s))).toEqual([1n, 2n, 3n, 4n].map((id) => [id, 'WR_FLUSH_ERR', 'RECV']));
  });

  it('send queue (RTS): 6 WRs into maxSendWr 4, then one more', async () => {
    const s = setup();
    await toRts(s);
    const wrs = [1n, 2n, 3n, 4n, 5n, 6n].map((id) => send(s, id));
    expectVerbsError(() => s.qp.postSend(wrs), 'ENOMEM', /the send queue is full: 4 WRs outstanding \(cap\.maxSendWr\)/, 4);
    expectVerbsError(() => s.qp.postSend([send(s, 7n)]), 'ENOMEM', /send queue is full/, 0);
    expect(summary(await flushed(s))).toEqual([1n, 2n, 3n, 4n].map((id) => [id, 'WR_FLUSH_ERR', 'SEND']));
  });

  it('send queue (RTS): the WRs accepted before the ENOMEM start executing without another post', async () => {
    const s = setup();
    const link = await toRts(s);
    expectVerbsError(() => s.qp.postSend([1n, 2n, 3n, 4n, 5n].map((id) => send(s, id))), 'ENOMEM', /send queue is full/, 4);
    // Four 5-byte SENDs: four SEND headers and their payloads after the HELLO.
    await waitFor(() => link.received().byteLength >= HELLO_BYTES + 4 * (HEADER_BYTES.SEND + 5), 300);
    expect(link.received().byteLength).toBe(HELLO_BYTES + 4 * (HEADER_BYTES.SEND + 5));
  });

  it('send queue (ERR): the WRs accepted before the ENOMEM are flushed without another post', async () => {
    const s = setup();
    toInit(s.qp);
    toErr(s.qp);
    expectVerbsError(() => s.qp.postSend([1n, 2n, 3n, 4n, 5n].map((id) => send(s, id))), 'ENOMEM', /send queue is full/, 4);
    await settle();
    expect(summary(s.cq.poll(16))).toEqual([1n, 2n, 3n, 4n].map((id) => [id, 'WR_FLUSH_ERR', 'SEND']));
    // ...and the queue is usable again.
    s.qp.postSend(send(s, 9n));
    await settle();
    expect(summary(s.cq.poll(16))).toEqual([[9n, 'WR_FLUSH_ERR', 'SEND']]);
  });

  it('receive queue (ERR): the WRs accepted before the ENOMEM are flushed without another post', async () => {
    const s = setup();
    toInit(s.qp);
    toErr(s.qp);
    expectVerbsError(() => s.qp.postRecv([1n, 2n, 3n, 4n, 5n].map((id) => recv(s, id))), 'ENOMEM', /receive queue is full/, 4);
    await settle();
    expect(summary(s.cq.poll(16))).toEqual([1n, 2n, 3n, 4n].map((id) => [id, 'WR_FLUSH_ERR', 'RECV']));
  });
});

describe('work request validation: EINVAL with badWr; the WRs before it stay posted', () => {
  type BadSend = { name: string; wr: (s: Setup) => unknown; message: RegExp };
  const badSends: BadSend[] = [
    { name: 'not an object', wr: () => null, message: /WR 1 must be an object, got null/ },
    { name: 'wrId a number', wr: (s) => ({ ...send(s, 0n), wrId: 5 }), message: /wr\[1\]\.wrId must be a bigint in 0\.\.2\^64-1, got 5/ },
    { name: 'wrId missing', wr: (s) => ({ ...send(s, 0n), wrId: undefined }), message: /wr\[1\]\.wrId must be a bigint in 0\.\.2\^64-1, got undefined/ },
    { name: 'wrId negative', wr: (s) => ({ ...send(s, 0n), wrId: -1n }), message: /wr\[1\]\.wrId must be a bigint in 0\.\.2\^64-1, got -1n/ },
    { name: 'wrId 2^64', wr: (s) => ({ ...send(s, 0n), wrId: 1n << 64n }), message: /wr\[1\]\.wrId must be a bigint/ },
    { name: 'unknown opcode', wr: (s) => ({ ...send(s, 2n), opcode: 'SEND_WITH_INV' }), message: /wr\[1\]\.opcode must be one of SEND, SEND_WITH_IMM, RDMA_WRITE, RDMA_WRITE_WITH_IMM, RDMA_READ, ATOMIC_CMP_AND_SWP, ATOMIC_FETCH_AND_ADD, got "SEND_WITH_INV"/ },
    { name: 'unknown sendFlags bits', wr: (s) => ({ ...send(s, 2n), sendFlags: SendFlags.SIGNALED | (1 << 4) }), message: /wr\[1\]\.sendFlags has unknown bits 0x10; allowed: FENCE\|SIGNALED\|SOLICITED\|INLINE/ },
    { name: 'sgList not an array', wr: (s) => ({ ...send(s, 2n), sgList: {} }), message: /wr\[1\]\.sgList must be an array, got an object/ },
    { name: 'more SGEs than maxSendSge', wr: (s) => ({ ...send(s, 2n), sgList: [sge(s, 0, 1), sge(s, 1, 1), sge(s, 2, 1)] }), message: /wr\[1\]\.sgList has 3 entries; the QP allows 2/ },
    { name: 'an SGE with a negative length', wr: (s) => ({ ...send(s, 2n), sgList: [{ ...sge(s, 0, 1), length: -1 }] }), message: /wr\[1\]\.sgList\[0\]\.length must be an integer in 0\.\.4294967295, got -1/ },
    { name: 'an SGE that is not an object', wr: (s) => ({ ...send(s, 2n), sgList: [7] }), message: /wr\[1\]\.sgList\[0\] must be \{ addr, length, lkey \}/ },
    { name: 'an SGE with addr -1', wr: (s) => ({ ...send(s, 2n), sgList: [{ ...sge(s, 0, 1), addr: -1 }] }), message: /wr\[1\]\.sgList\[0\]\.addr must be an integer in 0\.\.9007199254740991, got -1/ },
    { name: 'a message over maxMsgSize', wr: (s) => ({ ...send(s, 2n), sgList: [{ ...sge(s, 0, 1), length: DEVICE_LIMITS.maxMsgSize + 1 }] }), message: new RegExp(`wr\\[1\\] is ${DEVICE_LIMITS.maxMsgSize + 1} bytes; the largest message is ${DEVICE_LIMITS.maxMsgSize}`) },
    { name: 'RDMA_WRITE without rdma', wr: (s) => ({ ...send(s, 2n), opcode: 'RDMA_WRITE' }), message: /wr\[1\]\.rdma \{ remoteAddr, rkey \} is required for RDMA_WRITE/ },
    { name: 'RDMA_WRITE_WITH_IMM without rdma', wr: (s) => ({ ...send(s, 2n), opcode: 'RDMA_WRITE_WITH_IMM', immData: 1 }), message: /wr\[1\]\.rdma \{ remoteAddr, rkey \} is required for RDMA_WRITE_WITH_IMM/ },
    { name: 'RDMA_READ without rdma', wr: (s) => ({ ...send(s, 2n), opcode: 'RDMA_READ' }), message: /wr\[1\]\.rdma \{ remoteAddr, rkey \} is required for RDMA_READ/ },
    { name: 'RDMA_READ with an rkey over 32 bits', wr: (s) => ({ ...send(s, 2n), opcode: 'RDMA_READ', rdma: { remoteAddr: 0, rkey: 2 ** 32 } }), message: /wr\[1\]\.rdma\.rkey must be an integer in 0\.\.4294967295/ },
    { name: 'atomic without atomic', wr: (s) => ({ ...send(s, 2n), opcode: 'ATOMIC_FETCH_AND_ADD', sgList: [sge(s, 0, 8)] }), message: /wr\[1\]\.atomic \{ remoteAddr, rkey, compareAdd, swap \} is required for ATOMIC_FETCH_AND_ADD/ },
    { name: 'atomic with a 4-byte SGE', wr: (s) => ({ ...send(s, 2n), opcode: 'ATOMIC_CMP_AND_SWP', sgList: [sge(s, 0, 4)], atomic: { remoteAddr: 0, rkey: 1, compareAdd: 0n, swap: 1n } }), message: /wr\[1\]: an atomic needs exactly one 8-byte SGE for the original value/ },
    { name: 'atomic with two 4-byte SGEs', wr: (s) => ({ ...send(s, 2n), opcode: 'ATOMIC_FETCH_AND_ADD', sgList: [sge(s, 0, 4), sge(s, 4, 4)], atomic: { remoteAddr: 0, rkey: 1, compareAdd: 1n, swap: 0n } }), message: /an atomic needs exactly one 8-byte SGE/ },
    { name: 'atomic compareAdd a number', wr: (s) => ({ ...send(s, 2n), opcode: 'ATOMIC_FETCH_AND_ADD', sgList: [sge(s, 0, 8)], atomic: { remoteAddr: 0, rkey: 1, compareAdd: 1, swap: 0n } }), message: /wr\[1\]\.atomic\.compareAdd must be a bigint/ },
    { name: 'SEND_WITH_IMM without immData', wr: (s) => ({ ...send(s, 2n), opcode: 'SEND_WITH_IMM' }), message: /wr\[1\]\.immData must be an integer in 0\.\.4294967295, got undefined/ },
    { name: 'RDMA_WRITE_WITH_IMM with immData 2^32', wr: (s) => ({ ...send(s, 2n), opcode: 'RDMA_WRITE_WITH_IMM', immData: 2 ** 32, rdma: { remoteAddr: 0, rkey: 1 } }), message: /wr\[1\]\.immData must be an integer in 0\.\.4294967295, got 4294967296/ },
    { name: 'INLINE over maxInlineData', wr: (s) => ({ ...send(s, 2n, 17), sendFlags: SendFlags.INLINE }), message: /wr\[1\]: 17 inline bytes exceed cap\.maxInlineData \(16\)/ },
    { name: 'INLINE on an RDMA_READ', wr: (s) => ({ ...send(s, 2n, 8), opcode: 'RDMA_READ', sendFlags: SendFlags.INLINE, rdma: { remoteAddr: 0, rkey: 1 } }), message: /wr\[1\]: INLINE applies to SEND and RDMA_WRITE only, not RDMA_READ/ },
    { name: 'INLINE data outside registered memory', wr: () => ({ wrId: 2n, opcode: 'SEND', sendFlags: SendFlags.INLINE, sgList: [{ addr: 16, length: 4, lkey: 0 }] }), message: /wr\[1\]: inline data at 0x10 \(\+4\) is not inside any registered memory/ },
  ];

  it.each(badSends)('postSend: $name', async ({ wr, message }) => {
    const s = setup();
    await toRts(s);
    expectVerbsError(() => s.qp.postSend([send(s, 1n), wr(s) as SendWr, send(s, 3n)]), 'EINVAL', message, 1);
    expect(summary(await flushed(s))).toEqual([[1n, 'WR_FLUSH_ERR', 'SEND']]);
  });

  it('postSend: the WRs accepted before a refused one start executing without another post', async () => {
    const s = setup();
    const link = await toRts(s);
    expectVerbsError(() => s.qp.postSend([send(s, 1n), send(s, 2n), { ...send(s, 3n), opcode: 'NOPE' as never }]), 'EINVAL', /wr\[2\]\.opcode/, 2);
    await waitFor(() => link.received().byteLength >= HELLO_BYTES + 2 * (HEADER_BYTES.SEND + 5), 300);
    expect(link.received().byteLength).toBe(HELLO_BYTES + 2 * (HEADER_BYTES.SEND + 5));
  });

  it('INLINE data is copied at post time: the buffer is free again as soon as postSend returns', async () => {
    const s = setup();
    const link = await toRts(s);
    s.mr.buffer.set(new TextEncoder().encode('inline!'), 100);
    s.qp.postSend({ wrId: 1n, opcode: 'SEND', sendFlags: SendFlags.INLINE, sgList: [sge(s, 100, 7)] });
    s.mr.buffer.fill(0, 100, 107); // the application may reuse the buffer at once
    expect(await waitFor(() => link.received().byteLength >= HELLO_BYTES + HEADER_BYTES.SEND + 7)).toBe(true);
    expect(link.received().subarray(HELLO_BYTES + HEADER_BYTES.SEND).toString()).toBe('inline!');
  });

  it('INLINE does not lift the SGE limit: more SGEs than maxSendSge is EINVAL (rxe validate_send_wr)', async () => {
    const s = setup();
    await toRts(s);
    const threeSges = { wrId: 2n, opcode: 'SEND' as const, sendFlags: SendFlags.INLINE, sgList: [sge(s, 0, 1), sge(s, 1, 1), sge(s, 2, 1)] };
    expectVerbsError(() => s.qp.postSend([send(s, 1n), threeSges]), 'EINVAL', /wr\[1\]\.sgList has 3 entries; the QP allows 2/, 1);
  });

  type BadRecv = { name: string; wr: (s: Setup) => unknown; message: RegExp };
  const badRecvs: BadRecv[] = [
    { name: 'not an object', wr: () => 'x', message: /WR 1 must be an object, got "x"/ },
    { name: 'wrId a number', wr: (s) => ({ ...recv(s, 0n), wrId: 2 }), message: /wr\[1\]\.wrId must be a bigint in 0\.\.2\^64-1, got 2/ },
    { name: 'more SGEs than maxRecvSge', wr: (s) => ({ wrId: 2n, sgList: [sge(s, 0, 1), sge(s, 1, 1), sge(s, 2, 1)] }), message: /wr\[1\]\.sgList has 3 entries; the QP allows 2/ },
    { name: 'an SGE with an lkey over 32 bits', wr: (s) => ({ wrId: 2n, sgList: [{ ...sge(s, 0, 1), lkey: 2 ** 32 }] }), message: /wr\[1\]\.sgList\[0\]\.lkey must be an integer in 0\.\.4294967295/ },
    { name: 'wrId negative', wr: (s) => ({ ...recv(s, 0n), wrId: -1n }), message: /wr\[1\]\.wrId must be a bigint in 0\.\.2\^64-1, got -1n/ },
    { name: 'an SGE with a length of 2^32', wr: (s) => ({ wrId: 2n, sgList: [{ ...sge(s, 0, 1), length: 2 ** 32 }] }), message: /wr\[1\]\.sgList\[0\]\.length must be an integer in 0\.\.4294967295, got 4294967296/ },
    { name: 'an SGE with addr -1', wr: (s) => ({ wrId: 2n, sgList: [{ ...sge(s, 0, 1), addr: -1 }] }), message: /wr\[1\]\.sgList\[0\]\.addr must be an integer in 0\.\.9007199254740991, got -1/ },
  ];

  it.each(badRecvs)('postRecv: $name', async ({ wr, message }) => {
    const s = setup();
    toInit(s.qp);
    expectVerbsError(() => s.qp.postRecv([recv(s, 1n), wr(s) as RecvWr, recv(s, 3n)]), 'EINVAL', message, 1);
    expect(summary(await flushed(s))).toEqual([[1n, 'WR_FLUSH_ERR', 'RECV']]);
  });

  it.each(['SEND_WITH_IMM', 'RDMA_WRITE', 'RDMA_WRITE_WITH_IMM', 'RDMA_READ', 'ATOMIC_CMP_AND_SWP', 'ATOMIC_FETCH_AND_ADD'] as const)('a STREAM QP refuses %s (only SEND)', async (opcode) => {
    const s = setup({ qpType: 'STREAM' });
    toInit(s.qp);
    toErr(s.qp);
    const wr: SendWr = {
      wrId: 2n, opcode, sendFlags: SendFlags.SIGNALED, sgList: [sge(s, 0, 8)], immData: 1,
      rdma: { remoteAddr: 0, rkey: 1 }, atomic: { remoteAddr: 0, rkey: 1, compareAdd: 1n, swap: 2n },
    };
    expectVerbsError(() => s.qp.postSend([send(s, 1n), wr]), 'EINVAL', new RegExp(`^EINVAL: a STREAM QP sends raw bytes: only SEND is supported, not ${opcode}$`), 1);
    expect(() => s.qp.postSend(send(s, 3n))).not.toThrow();
  });
});

// ---- destroyed objects and closed contexts ---------------------------------------------------------------------

describe('destroyed QPs and closed contexts', () => {
  it('a destroyed QP refuses every verb with EINVAL naming it, and releases its CQ', () => {
    const s = setup();
    toInit(s.qp);
    s.qp.destroy();
    expect(s.qp.isDestroyed).toBe(true);
    const gone = new RegExp(`QP ${s.qp.qpNum} was destroyed`);
    expectVerbsError(() => s.qp.modify({ qpState: 'RESET' }, M.STATE), 'EINVAL', gone);
    expectVerbsError(() => s.qp.query(), 'EINVAL', gone);
    expectVerbsError(() => s.qp.postSend(send(s, 1n)), 'EINVAL', gone);
    expectVerbsError(() => s.qp.postRecv(recv(s, 1n)), 'EINVAL', gone);
    expectVerbsError(() => s.qp.destroy(), 'EINVAL', gone);
    s.cq.destroy();
  });

  it('destroying a connected QP closes its connection', async () => {
    const s = setup();
    const link = await toRts(s);
    s.qp.destroy();
    expect(await waitFor(() => link.peerClosed())).toBe(true);
  });

  it('after ctx.close() the context refuses every verb with ENODEV; close is idempotent', async () => {
    const ctx = open();
    const pending = ctx.getAsyncEvent();
    ctx.close();
    ctx.close();
    const closed = /device context tcpverbs0 was closed/;
    expectVerbsError(() => ctx.queryDevice(), 'ENODEV', closed);
    expectVerbsError(() => ctx.queryPort(1), 'ENODEV', closed);
    expectVerbsError(() => ctx.allocPd(), 'ENODEV', closed);
    expectVerbsError(() => ctx.createCq(4), 'ENODEV', closed);
    expectVerbsError(() => ctx.createCompChannel(), 'ENODEV', closed);
    await expectRejects(pending, 'ENODEV', closed);
    await expectRejects(ctx.getAsyncEvent(), 'ENODEV', closed);
  });

  it('ctx.close() closes the connections of its QPs', async () => {
    const s = setup();
    const link = await toRts(s);
    s.ctx.close();
    expect(await waitFor(() => link.peerClosed())).toBe(true);
  });

  it('after ctx.close(), the objects of that context refuse their verbs with ENODEV too (no silent success)', () => {
    const s = setup();
    s.ctx.close();
    const calls: Record<string, () => unknown> = {
      'pd.regMr': () => s.pd.regMr(new Uint8Array(8), Access.LOCAL_WRITE),
      'pd.createQp': () => s.pd.createQp({ qpType: 'RC', sendCq: s.cq, recvCq: s.cq, cap: CAP }),
      'pd.dealloc': () => s.pd.dealloc(),
      'cq.poll': () => s.cq.poll(1),
      'qp.postRecv': () => s.qp.postRecv(recv(s, 1n)),
      'qp.query': () => s.qp.query(),
      'qp.modify': () => s.qp.modify(initAttr(), INIT_MASK),
    };
    const outcomes = Object.fromEntries(Object.entries(calls).map(([name, call]) => {
      try {
        call();
        return [name, 'succeeded'];
      } catch (error) {
        return [name, error instanceof VerbsError ? error.errno : `${(error as Error).constructor.name}: ${(error as Error).message}`];
      }
    }));
    expect(outcomes).toEqual(Object.fromEntries(Object.keys(calls).map((name) => [name, 'ENODEV'])));
  });
});
