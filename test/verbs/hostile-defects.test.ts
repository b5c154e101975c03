/**
 * Regression tests for seven defects found by a hostile-peer campaign (IB RC semantics as
 * libibverbs and Linux define them; the wire is docs/wire.md). Each test reproduces its defect
 * exactly and asserts the correct behaviour.
 *
 * Most tests script the peer byte by byte: one real QP whose peer is a raw socket. The others run
 * two real QPs over loopback TCP. Peer input must never throw in the process, so every test that
 * could see an uncaught exception installs a listener for the duration of the test (vitest treats
 * an error some other listener received as handled) and asserts that it saw nothing.
 */
import { describe, expect, it } from 'vitest';
import { Access, QpAttrMask as M, SendFlags, VerbsError, openDevice } from '../../src/index.js';
import type { Errno, MemoryRegion, RecvWr, SendWr, Sge, WorkCompletion } from '../../src/index.js';
import { HEADER_BYTES } from '../../src/wire/frame.js';
import { ack, asyncEvents, frame, nak, rawPeer, type RawPeer } from '../support/raw-peer.js';
import { pollUntil, rcPair, sge, str, text, waitFor, type Side } from '../support/verbs-harness.js';

const SIGNALED = SendFlags.SIGNALED;
const KiB = 1024;
const MiB = 1024 * KiB;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `predicate` for up to `ms`; unlike waitFor it never throws, it says whether it held. */
async function settle(predicate: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await sleep(1);
  }
  return true;
}

// ---- uncaught exceptions -----------------------------------------------------------------------

interface UncaughtGuard {
  readonly seen: unknown[];
  messages(): string[];
  dispose(): void;
}

/**
 * Collects uncaught exceptions and unhandled rejections while installed. With a listener of ours
 * in place the process survives a throw from a timer or microtask, and vitest (which only reports
 * errors nobody else listened for) leaves the verdict to the test's own assertion.
 */
function guardUncaught(): UncaughtGuard {
  const seen: unknown[] = [];
  const listener = (error: unknown) => { seen.push(error); };
  process.on('uncaughtException', listener);
  process.on('unhandledRejection', listener);
  return {
    seen,
    messages: () => seen.map((e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e))),
    dispose: () => {
      process.off('uncaughtException', listener);
      process.off('unhandledRejection', listener);
    },
  };
}

/** Runs `body` under a guard; afterwards lets pending timers/microtasks run before removing it. */
async function withGuard(body: (guard: UncaughtGuard) => Promise<void>): Promise<void> {
  const guard = guardUncaught();
  try {
    await body(guard);
  } finally {
    await sleep(10);
    guard.dispose();
  }
}

// ---- errors --------------------------------------------------------------------------------------

function thrownBy(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  return undefined;
}

function expectVerbsError(error: unknown, errno: Errno, badWr?: number): VerbsError {
  expect(error, 'the call should have thrown a VerbsError; it returned normally').toBeDefined();
  expect(error).toBeInstanceOf(VerbsError);
  const verbs = error as VerbsError;
  expect({ errno: verbs.errno, ...(badWr === undefined ? {} : { badWr: verbs.badWr }) }).toEqual({ errno, ...(badWr === undefined ? {} : { badWr }) });
  return verbs;
}

const brief = (wcs: readonly WorkCompletion[]) => wcs.map((wc) => `${wc.wrId}:${wc.status}`).join(' ');

// ---- (a) ---------------------------------------------------------------------------------------

/**
 * sq_psn 100 and the peer's rq_psn 100; a signaled RDMA_READ (wrId 1, PSN 100) then a signaled
 * SEND (wrId 2, PSN 101), both seen on the wire by the raw peer. The ACK timer is off (timeout 0),
 * so the only way to ERR is the peer's bytes.
 */
async function readThenSend(): Promise<RawPeer> {
  const peer = await rawPeer({ sqPsn: 100, helloRqPsn: 100, timeout: 0 });
  const { side } = peer;
  peer.raw.write(peer.hello);
  side.qp.postSend([
    { wrId: 1n, opcode: 'RDMA_READ', sendFlags: SIGNALED, sgList: [sge(side, 0, 16)], rdma: { remoteAddr: 0x10000, rkey: 0x4242 } },
    { wrId: 2n, opcode: 'SEND', sendFlags: SIGNALED, sgList: [sge(side, 64, 8)] },
  ]);
  await waitFor(() => peer.frames().length >= 2, 2000, 'the READ request and the SEND on the wire');
  expect(peer.frames().map((f) => [f.header.opcode, f.header.psn])).toEqual([['RDMA_READ_REQUEST', 100], ['SEND', 101]]);
  return peer;
}

/**
 * docs/wire.md §6: a protocol error fails the QP: ERR, QP_REQ_ERR with the reason, a TERMINATE
 * (opcode 0x1f) carrying the reason text, the READ completed in error and the SEND flushed, in
 * posting order; and nothing thrown in the process.
 */
async function expectProtocolFailure(peer: RawPeer, guard: UncaughtGuard): Promise<void> {
  const { side } = peer;
  await settle(() => guard.seen.length > 0 || (side.qp.state === 'ERR' && peer.ended()), 1000);
  expect(guard.messages(), 'uncaught exceptions in the process').toEqual([]);
  expect(side.qp.state, 'QP state after the protocol violation').toBe('ERR');
  const events = asyncEvents(side);
  expect(events[0], 'the async event').toMatchObject({ type: 'QP_REQ_ERR', qp: { qpNum: side.qp.qpNum }, reason: expect.stringMatching(/^protocol error from the peer: /) });
  const bytes = peer.received();
  const terminate = peer.frames().find((f) => f.header.opcode === 'TERMINATE');
  expect(terminate, `a TERMINATE frame among the frames the peer received: ${peer.frames().map((f) => f.header.opcode).join(', ')}`).toBeDefined();
  expect(bytes[terminate!.offset], 'opcode byte of the TERMINATE (0x1f, docs/wire.md §7)').toBe(0x1f);
  expect(str(terminate!.payload)).toMatch(/^protocol error from the peer: /);
  const wcs = await pollUntil(side.cq, 2, 1000);
  expect(wcs, brief(wcs)).toMatchObject([
    { wrId: 1n, opcode: 'RDMA_READ', status: expect.not.stringMatching(/^SUCCESS$/) },
    { wrId: 2n, opcode: 'SEND', status: 'WR_FLUSH_ERR' },
  ]);
  side.monitor.assertAgreement();
}

describe('(a) a peer that acknowledges a READ wrongly fails the QP with a TERMINATE, never the process', () => {
  it('(a) ACK 101 over an outstanding READ 100, then an RNR NAK for the READ: ERR + TERMINATE, never an uncaught throw', async () => {
    await withGuard(async (guard) => {
      const peer = await readThenSend();
      try {
        peer.raw.write(Buffer.concat([ack(101), nak(100, 'RNR', 1)]));
        await expectProtocolFailure(peer, guard);
      } finally {
        peer.close();
      }
    });
  });

  it('(a) ACK 101 over an outstanding READ 100, then a PSN-sequence NAK for PSN 100: ERR + TERMINATE, not the transport catch-all', async () => {
    await withGuard(async (guard) => {
      const peer = await readThenSend();
      try {
        peer.raw.write(Buffer.concat([ack(101), nak(100, 'PSN_SEQUENCE_ERROR')]));
        await expectProtocolFailure(peer, guard);
      } finally {
        peer.close();
      }
    });
  });

  it('(a) an ACK covering an outstanding READ (ACK 100 for READ 100, no response) is a protocol error', async () => {
    await withGuard(async (guard) => {
      const peer = await readThenSend();
      try {
        peer.raw.write(ack(100));
        await expectProtocolFailure(peer, guard);
      } finally {
        peer.close();
      }
    });
  });

  it('(a) an RNR NAK for a READ (RNR NAK 100, READ 100 outstanding) is a protocol error', async () => {
    await withGuard(async (guard) => {
      const peer = await readThenSend();
      try {
        peer.raw.write(nak(100, 'RNR', 1));
        await expectProtocolFailure(peer, guard);
      } finally {
        peer.close();
      }
    });
  });
});

// ---- (b) ---------------------------------------------------------------------------------------

describe('(b) a received TERMINATE is read, not thrown on', () => {
  async function terminateCase(reasonText: string, expected: RegExp | string): Promise<void> {
    await withGuard(async (guard) => {
      const peer = await rawPeer();
      const { side } = peer;
      try {
        side.qp.postSend({ wrId: 7n, opcode: 'SEND', sendFlags: SIGNALED, sgList: [sge(side, 0, 8)] });
        const payload = text(reasonText);
        const bytes = frame({ opcode: 'TERMINATE', flags: 0, psn: 0, payloadLength: payload.byteLength, reason: 1 }, payload);
        // The text arrives in two pieces when it has any: the parser must assemble it.
        const cut = HEADER_BYTES.TERMINATE + Math.ceil(payload.byteLength / 2);
        peer.raw.write(Buffer.concat([peer.hello, bytes.subarray(0, cut)]));
        await sleep(2);
        if (cut < bytes.byteLength) peer.raw.write(bytes.subarray(cut));
        await waitFor(() => side.qp.state === 'ERR', 2000, 'ERR after the TERMINATE');
        expect(guard.messages(), 'uncaught exceptions').toEqual([]);
        const events = asyncEvents(side);
        expect(events[0], 'the async event').toMatchObject({ type: 'QP_FATAL', qp: { qpNum: side.qp.qpNum } });
        if (typeof expected === 'string') expect(events[0]?.reason).toBe(expected);
        else expect(events[0]?.reason).toMatch(expected);
        expect(await pollUntil(side.cq, 1, 1000)).toMatchObject([{ wrId: 7n, status: 'WR_FLUSH_ERR' }]);
        // docs/wire.md §7: a lost connection, so no TERMINATE is sent back.
        await settle(() => peer.ended(), 500);
        expect(peer.frames().map((f) => f.header.opcode)).not.toContain('TERMINATE');
        side.monitor.assertAgreement();
      } finally {
        peer.close();
      }
    });
  }

  it('(b) a TERMINATE with text "bye now": ERR, QP_FATAL "the peer terminated the connection: bye now"', async () => {
    await terminateCase('bye now', 'the peer terminated the connection: bye now');
  });

  it('(b) a TERMINATE with no text: ERR, QP_FATAL "the peer terminated the connection…"', async () => {
    await terminateCase('', /^the peer terminated the connection/);
  });
});

// ---- (c) ---------------------------------------------------------------------------------------

describe('(c) sparse sgLists and WR arrays are refused at post time', () => {
  // Holes, not undefined entries: Array#map/forEach skip them, a for..of does not.
  const holey = (first: Sge, last: Sge): Sge[] => [first, , last] as unknown as Sge[];
  const sparse = <T>(first: T, last: T): T[] => [first, , last] as unknown as T[];

  function write(side: Side, wrId: bigint, offset: number, remote: Side, sgList?: Sge[]): SendWr {
    return { wrId, opcode: 'RDMA_WRITE', sendFlags: SIGNALED, sgList: sgList ?? [sge(side, offset, 8)], rdma: { remoteAddr: remote.mr.addr + offset, rkey: remote.mr.rkey } };
  }

  it('(c) postSend: a WR whose sgList has a hole is refused with EINVAL and its index; the WR before it runs', async () => {
    await withGuard(async (guard) => {
      const pair = await rcPair();
      const { a, b } = pair;
      try {
        expect(holey(sge(a, 0, 8), sge(a, 8, 8)).length).toBe(3);
        const error = thrownBy(() => a.qp.postSend([write(a, 1n, 0, b), write(a, 2n, 64, b, holey(sge(a, 64, 8), sge(a, 72, 8)))]));
        await sleep(5); // the doorbell microtask has run
        expect(guard.messages(), 'uncaught exceptions after the post').toEqual([]);
        expectVerbsError(error, 'EINVAL', 1);
        const wcs = await pollUntil(a.cq, 1, 2000);
        expect(wcs, brief(wcs)).toMatchObject([{ wrId: 1n, status: 'SUCCESS' }]);
        await sleep(5);
        expect(a.cq.poll(8), 'no completion for the refused WR').toEqual([]);
        expect(a.qp.state).toBe('RTS');
        a.monitor.assertAgreement();
      } finally {
        pair.close();
      }
    });
  });

  it('(c) postSend: a sparse WR array is refused at the hole (badWr 1); the WR before it stays posted, the one after is not', async () => {
    await withGuard(async (guard) => {
      const pair = await rcPair();
      const { a, b } = pair;
      try {
        const error = thrownBy(() => a.qp.postSend(sparse(write(a, 1n, 0, b), write(a, 3n, 128, b))));
        await sleep(5);
        expect(guard.messages(), 'uncaught exceptions after the post').toEqual([]);
        expectVerbsError(error, 'EINVAL', 1);
        const wcs = await pollUntil(a.cq, 1, 2000);
        expect(wcs, brief(wcs)).toMatchObject([{ wrId: 1n, status: 'SUCCESS' }]);
        await sleep(5);
        expect(a.cq.poll(8), 'the WR after the hole must not have been posted').toEqual([]);
        a.monitor.assertAgreement();
      } finally {
        pair.close();
      }
    });
  });

  it('(c) postRecv: a WR whose sgList has a hole is refused with EINVAL and its index; the WR before it receives', async () => {
    await withGuard(async (guard) => {
      const pair = await rcPair();
      const { a, b } = pair;
      try {
        const recvs: RecvWr[] = [{ wrId: 10n, sgList: [sge(b, 0, 64)] }, { wrId: 11n, sgList: holey(sge(b, 64, 8), sge(b, 72, 8)) }];
        const error = thrownBy(() => b.qp.postRecv(recvs));
        a.mr.buffer.set(text('hello'), 0);
        a.qp.postSend({ wrId: 1n, opcode: 'SEND', sendFlags: SIGNALED, sgList: [sge(a, 0, 5)] });
        await pollUntil(a.cq, 1, 2000);
        await sleep(5);
        expect(guard.messages(), 'uncaught exceptions').toEqual([]);
        expectVerbsError(error, 'EINVAL', 1);
        expect(await pollUntil(b.cq, 1, 1000)).toMatchObject([{ wrId: 10n, status: 'SUCCESS', byteLen: 5 }]);
        expect(b.qp.state).toBe('RTS');
        b.monitor.assertAgreement();
      } finally {
        pair.close();
      }
    });
  });

  it('(c) postRecv: a sparse WR array is refused at the hole (badWr 1); the WR before it stays posted, the one after is not', async () => {
    await withGuard(async (guard) => {
      const pair = await rcPair();
      const { a, b } = pair;
      try {
        const error = thrownBy(() => b.qp.postRecv(sparse<RecvWr>({ wrId: 10n, sgList: [sge(b, 0, 64)] }, { wrId: 12n, sgList: [sge(b, 128, 64)] })));
        await sleep(5);
        expect(guard.messages(), 'uncaught exceptions').toEqual([]);
        expectVerbsError(error, 'EINVAL', 1);
        a.qp.postSend({ wrId: 1n, opcode: 'SEND', sendFlags: SIGNALED, sgList: [sge(a, 0, 5)] });
        expect(await pollUntil(b.cq, 1, 2000)).toMatchObject([{ wrId: 10n, status: 'SUCCESS' }]);
        // Only one receive was posted: moving the QP to ERR flushes exactly nothing more.
        b.qp.modify({ qpState: 'ERR' }, M.STATE);
        await sleep(5);
        expect(b.cq.poll(8), 'the WR after the hole must not have been posted').toEqual([]);
      } finally {
        pair.close();
      }
    });
  });
});

// ---- (d) ---------------------------------------------------------------------------------------

describe('(d) a NAK is not lost to the TCP reset that follows it', () => {
  /**
   * How the requester keeps posting the 16 good WRITEs behind the bad one: in a burst, or one per
   * event-loop turn, so that some of them are written while (or after) the responder fails, sends
   * its NAK and TERMINATE and closes with unread bytes (its kernel answers with a reset).
   */
  const patterns = [
    { name: 'burst', gap: async () => {} },
    { name: 'one per setImmediate', gap: () => new Promise<void>((resolve) => setImmediate(resolve)) },
    { name: 'one per setTimeout(0)', gap: () => sleep(0) },
  ];

  it('(d) a WRITE with a bad rkey followed by 16 x 64 KiB WRITEs completes REM_ACCESS_ERR in 40 of 40 trials, never WR_FLUSH_ERR (ECONNRESET)', async () => {
    await withGuard(async (guard) => {
      const trials = 40;
      const size = 64 * KiB;
      const failures: string[] = [];
      for (let trial = 0; trial < trials; trial++) {
        const pattern = patterns[trial % patterns.length]!;
        const pair = await rcPair({ mrBytes: 2 * MiB });
        const { a, b } = pair;
        try {
          const wr = (i: number): SendWr => ({
            wrId: BigInt(i + 1), opcode: 'RDMA_WRITE', sendFlags: SIGNALED, sgList: [sge(a, i * size, size)],
            rdma: { remoteAddr: b.mr.addr + i * size, rkey: i === 0 ? (b.mr.rkey ^ 0x5a5a) >>> 0 : b.mr.rkey },
          });
          a.qp.postSend(wr(0));
          if (pattern.name === 'burst') {
            a.qp.postSend(Array.from({ length: 16 }, (_, i) => wr(i + 1)));
          } else {
            for (let i = 1; i < 17; i++) {
              await pattern.gap();
              a.qp.postSend(wr(i)); // in ERR a post is accepted and flushed
            }
          }
          const wcs = await pollUntil(a.cq, 17, 3000);
          const ok = wcs.length === 17 && wcs[0]!.wrId === 1n && wcs[0]!.status === 'REM_ACCESS_ERR'
            && wcs.slice(1).every((wc, i) => wc.wrId === BigInt(i + 2) && wc.status === 'WR_FLUSH_ERR');
          if (!ok) {
            const events = asyncEvents(a).map((e) => `${e.type}: ${e.reason ?? ''}`).join('; ');
            failures.push(`trial ${trial + 1} (${pattern.name}): ${wcs.length} WCs, first ${wcs[0] ? `${wcs[0].wrId}:${wcs[0].status}` : 'none'}; ${events}`);
          }
        } finally {
          pair.close();
        }
      }
      expect(guard.messages(), 'uncaught exceptions').toEqual([]);
      expect(failures, `${failures.length} of ${trials} trials lost the NAK`).toEqual([]);
    });
  }, 30_000);

  it('(d) a requester reads the NAK already queued before it fails on a write error: a peer that NAKs, TERMINATEs and resets', async () => {
    await withGuard(async (guard) => {
      for (let trial = 0; trial < 10; trial++) {
        const peer = await rawPeer();
        try {
          const { side } = peer;
          peer.raw.write(peer.hello);
          side.qp.postSend({ wrId: 1n, opcode: 'RDMA_WRITE', sendFlags: SIGNALED, sgList: [sge(side, 0, 64)], rdma: { remoteAddr: 0x1000, rkey: 9 } });
          await waitFor(() => peer.frames().some((f) => f.header.opcode === 'RDMA_WRITE'), 2000, 'the WRITE on the wire');
          // In one synchronous stretch: the peer's NAK and TERMINATE land in our kernel, its reset
          // follows, and our next WRITE is written into the reset connection before anything is read.
          const reason = text('bad rkey');
          peer.raw.write(Buffer.concat([
            frame({ opcode: 'NAK', flags: 0, psn: 0, payloadLength: 0, code: 'REMOTE_ACCESS_ERROR', rnrTimer: 0 }),
            frame({ opcode: 'TERMINATE', flags: 0, psn: 0, payloadLength: reason.byteLength, reason: 1 }, reason),
          ]));
          peer.raw.resetAndDestroy();
          side.qp.postSend({ wrId: 2n, opcode: 'RDMA_WRITE', sendFlags: SIGNALED, sgList: [sge(side, 0, 64 * KiB)], rdma: { remoteAddr: 0x1000, rkey: 9 } });
          const wcs = await pollUntil(side.cq, 2, 3000);
          expect(brief(wcs), `trial ${trial + 1}: ${asyncEvents(side).map((e) => e.reason).join('; ')}`).toBe('1:REM_ACCESS_ERR 2:WR_FLUSH_ERR');
        } finally {
          peer.close();
        }
      }
      expect(guard.messages(), 'uncaught exceptions').toEqual([]);
    });
  }, 30_000);
});

// ---- (e) ---------------------------------------------------------------------------------------

type ResizableArrayBuffer = ArrayBuffer & { resize(byteLength: number): void; readonly resizable: boolean };
const ResizableArrayBuffer = ArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => ResizableArrayBuffer;

describe('(e) an MR never grows beyond what was registered', () => {
  const views = [
    { name: 'new Uint8Array(rab)', offset: 0, make: (rab: ArrayBuffer) => new Uint8Array(rab) },
    { name: 'new Uint8Array(rab, 1024)', offset: 1024, make: (rab: ArrayBuffer) => new Uint8Array(rab, 1024) },
  ];
  for (const view of views) {
    it(`(e) a length-tracking view over a resizable ArrayBuffer (${view.name}): refused with EINVAL, or the MR stays its registered size`, async () => {
      const pair = await rcPair();
      const { a, b } = pair;
      try {
        const rab = new ResizableArrayBuffer(4096, { maxByteLength: 65536 });
        expect(rab.resizable).toBe(true);
        const buffer = view.make(rab);
        const registered = buffer.byteLength;
        let mr: MemoryRegion;
        try {
          mr = b.pd.regMr(buffer, Access.LOCAL_WRITE | Access.REMOTE_WRITE);
        } catch (error) {
          // Behaviour 1: refused, with a message that says why.
          const verbs = expectVerbsError(error, 'EINVAL');
          expect(verbs.message).toMatch(/resizable|growable|length-tracking/i);
          return;
        }
        // Behaviour 2: the MR covers exactly the registered bytes for its whole life.
        expect(mr.length).toBe(registered);
        rab.resize(65536);
        expect(buffer.byteLength, 'precondition: the view tracks the buffer').toBe(65536 - view.offset);
        expect(mr.length, 'mr.length after the ArrayBuffer grew').toBe(registered);
        expect(mr.buffer.byteLength).toBe(registered);
        a.mr.buffer.fill(0xab, 0, 128);
        a.qp.postSend([
          // The last 64 registered bytes: allowed.
          { wrId: 1n, opcode: 'RDMA_WRITE', sendFlags: SIGNALED, sgList: [sge(a, 0, 64)], rdma: { remoteAddr: mr.addr + registered - 64, rkey: mr.rkey } },
          // The 64 bytes after them, which only exist because the buffer grew: refused.
          { wrId: 2n, opcode: 'RDMA_WRITE', sendFlags: SIGNALED, sgList: [sge(a, 64, 64)], rdma: { remoteAddr: mr.addr + registered, rkey: mr.rkey } },
        ]);
        const wcs = await pollUntil(a.cq, 2, 2000);
        expect(wcs, brief(wcs)).toMatchObject([{ wrId: 1n, status: 'SUCCESS' }, { wrId: 2n, status: 'REM_ACCESS_ERR' }]);
        const memory = new Uint8Array(rab);
        expect(memory.subarray(view.offset + registered - 64, view.offset + registered).every((byte) => byte === 0xab)).toBe(true);
        expect(memory.subarray(view.offset + registered).every((byte) => byte === 0), 'memory beyond the registration is untouched').toBe(true);
      } finally {
        pair.close();
      }
    });
  }
});

// ---- (f) ---------------------------------------------------------------------------------------

describe('(f) a destroyed CQ refuses every verb', () => {
  it('(f) cq.ackEvents() after cq.destroy() throws VerbsError EINVAL', () => {
    const ctx = openDevice();
    try {
      for (const channel of [null, ctx.createCompChannel()]) {
        const cq = ctx.createCq(4, { channel });
        cq.destroy();
        const verbs = expectVerbsError(thrownBy(() => cq.ackEvents(0)), 'EINVAL');
        expect(verbs.message).toMatch(/destroyed/);
      }
    } finally {
      ctx.close();
    }
  });
});

// ---- (g) ---------------------------------------------------------------------------------------

describe('(g) only progress restores the retry budget', () => {
  it('(g) a peer that only repeats a stale ACK (PSN 99 every 30 ms) cannot keep SEND PSN 100 alive: RETRY_EXC_ERR within 1.5 s', async () => {
    await withGuard(async (guard) => {
      const peer = await rawPeer({ sqPsn: 100, helloRqPsn: 100, timeout: 14, retryCnt: 1 });
      const { side } = peer;
      let ticker: ReturnType<typeof setInterval> | undefined;
      try {
        peer.raw.write(peer.hello);
        side.qp.postSend({ wrId: 1n, opcode: 'SEND', sendFlags: SIGNALED, sgList: [sge(side, 0, 8)] });
        const started = Date.now();
        await waitFor(() => peer.frames().length >= 1, 1000, 'the SEND on the wire');
        expect(peer.frames()[0]?.header).toMatchObject({ opcode: 'SEND', psn: 100 });
        ticker = setInterval(() => {
          if (!peer.raw.destroyed && peer.raw.writable) peer.raw.write(ack(99));
        }, 30);
        const wcs = await pollUntil(side.cq, 1, 1500);
        expect(wcs, `completions within 1.5 s: ${brief(wcs) || 'none'}`).toMatchObject([{ wrId: 1n, status: 'RETRY_EXC_ERR' }]);
        expect(Date.now() - started).toBeLessThan(1500);
        expect(side.qp.state).toBe('ERR');
        expect(asyncEvents(side)[0]).toMatchObject({ type: 'QP_FATAL' });
        expect(guard.messages(), 'uncaught exceptions').toEqual([]);
        side.monitor.assertAgreement();
      } finally {
        if (ticker !== undefined) clearInterval(ticker);
        peer.close();
      }
    });
  });
});
