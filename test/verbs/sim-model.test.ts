import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SendFlags, type WorkCompletion } from '../../src/index.js';
import { VirtualClock } from '../../src/transport/clock.js';
import { createSimulatedPair } from '../../src/transport/simulated.js';
import { makeSide, sge, toRtr, toRts, type Side } from '../support/verbs-harness.js';

/**
 * Model-based test of the whole stack on the deterministic simulated stream: random command
 * sequences of verbs calls, checked step by step against a plain model of RC semantics (and, by
 * the monitor, against machines/). A failure shrinks to a short sequence and replays from its seed.
 */
const SLOT = 256;
const SLOTS = 64;

interface Model {
  /** Send WRs posted and not yet completed, in posting order. */
  sends: { wrId: bigint; opcode: 'SEND' | 'RDMA_WRITE' | 'RDMA_READ'; length: number; slot: number; signaled: boolean }[];
  /** Receive WRs posted on b, in posting order. */
  recvs: { wrId: bigint; slot: number }[];
  /** SENDs delivered, waiting for their receive completion check: payload expected per receive. */
  nextWrId: bigint;
  nextRecvSlot: number;
  expectedRecvPayloads: { length: number; pattern: number }[];
}

interface Real {
  a: Side;
  b: Side;
  clock: VirtualClock;
  sendWcs: WorkCompletion[];
  recvWcs: WorkCompletion[];
}

const pattern = (seed: number, i: number) => (seed * 31 + i * 7) & 0xff;

/**
 * Runs the simulation tick by tick until nothing is scheduled (bounded: an RNR loop with no
 * receive posted never ends). Every NIC task and link step is on the virtual clock.
 */
async function settle(real: Real, maxSteps = 20_000): Promise<void> {
  for (let i = 0; i < maxSteps; i++) {
    const due = real.clock.nextDue();
    if (due === undefined) break;
    // The ACK timer of an idle QP is the only thing left: nothing more will happen.
    if (due - real.clock.now() > 50 && real.a.qp.state === 'RTS' && i > 0) break;
    real.clock.advance(Math.max(0, due - real.clock.now()));
  }
  real.sendWcs.push(...real.a.cq.poll(1024));
  real.recvWcs.push(...real.b.cq.poll(1024));
}

class PostSend implements fc.AsyncCommand<Model, Real> {
  constructor(readonly opcode: 'SEND' | 'RDMA_WRITE' | 'RDMA_READ', readonly length: number, readonly signaled: boolean) {}
  check = (m: Model) => m.sends.length < 32;
  async run(m: Model, r: Real) {
    const wrId = m.nextWrId++;
    const slot = Number(wrId % BigInt(SLOTS));
    const p = Number(wrId & 0xffn);
    for (let i = 0; i < this.length; i++) r.a.mr.buffer[slot * SLOT + i] = pattern(p, i);
    const remote = { remoteAddr: r.b.mr.addr + (SLOTS + slot) * SLOT, rkey: r.b.mr.rkey };
    if (this.opcode === 'RDMA_READ') for (let i = 0; i < this.length; i++) r.b.mr.buffer[(SLOTS + slot) * SLOT + i] = pattern(p ^ 0x55, i);
    r.a.qp.postSend({
      wrId, opcode: this.opcode, sendFlags: this.signaled ? SendFlags.SIGNALED : 0, sgList: [sge(r.a, slot * SLOT, this.length)],
      ...(this.opcode === 'SEND' ? {} : { rdma: remote }),
    });
    m.sends.push({ wrId, opcode: this.opcode, length: this.length, slot, signaled: this.signaled });
    if (this.opcode === 'SEND') m.expectedRecvPayloads.push({ length: this.length, pattern: p });
  }
  toString = () => `PostSend(${this.opcode}, ${this.length}, ${this.signaled ? 'signaled' : 'unsignaled'})`;
}

class PostRecv implements fc.AsyncCommand<Model, Real> {
  check = (m: Model) => m.recvs.length < 32;
  async run(m: Model, r: Real) {
    const slot = m.nextRecvSlot++ % SLOTS;
    const wrId = BigInt(1_000_000 + m.nextRecvSlot);
    r.b.qp.postRecv({ wrId, sgList: [sge(r.b, slot * SLOT, SLOT)] });
    m.recvs.push({ wrId, slot });
  }
  toString = () => 'PostRecv';
}

/** Lets the simulation run and checks every completion that came out against the model. */
class Run implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real) {
    await settle(r);
    for (const wc of r.recvWcs.splice(0)) {
      const recv = m.recvs.shift();
      const expected = m.expectedRecvPayloads.shift();
      expect(recv, `unexpected receive completion ${wc.wrId}`).toBeDefined();
      expect(wc).toMatchObject({ wrId: recv!.wrId, status: 'SUCCESS', opcode: 'RECV', byteLen: expected!.length });
      for (let i = 0; i < expected!.length; i++) expect(r.b.mr.buffer[recv!.slot * SLOT + i]).toBe(pattern(expected!.pattern, i));
    }
    for (const wc of r.sendWcs.splice(0)) {
      // Unsignaled successes before this completion retire silently, in order.
      while (m.sends.length > 0 && m.sends[0]!.wrId !== wc.wrId) {
        expect(m.sends[0]!.signaled, `signaled WR ${m.sends[0]!.wrId} completed without a WC before ${wc.wrId}`).toBe(false);
        m.sends.shift();
      }
      const send = m.sends.shift();
      expect(send, `send completion ${wc.wrId} out of posting order`).toBeDefined();
      expect(wc.status).toBe('SUCCESS');
      if (send!.opcode === 'RDMA_READ') for (let i = 0; i < send!.length; i++) expect(r.a.mr.buffer[send!.slot * SLOT + i]).toBe(pattern(Number(send!.wrId & 0xffn) ^ 0x55, i));
      if (send!.opcode === 'RDMA_WRITE') for (let i = 0; i < send!.length; i++) expect(r.b.mr.buffer[(SLOTS + send!.slot) * SLOT + i]).toBe(pattern(Number(send!.wrId & 0xffn), i));
    }
    r.a.monitor.assertAgreement();
    r.b.monitor.assertAgreement();
  }
  toString = () => 'Run';
}

function setup(seed: number, maxChunk: number): Real {
  const clock = new VirtualClock();
  const [ta, tb] = createSimulatedPair({ clock, seed, maxChunk, maxDelayMs: 2 });
  const context = { clock };
  const a = makeSide({ mrBytes: 2 * SLOTS * SLOT, maxSendWr: 64, maxRecvWr: 64, context });
  const b = makeSide({ mrBytes: 2 * SLOTS * SLOT, maxSendWr: 64, maxRecvWr: 64, context });
  toRtr(a, b.qp.qpNum, { transport: ta }, { minRnrTimer: 1 });
  toRtr(b, a.qp.qpNum, { transport: tb }, { minRnrTimer: 1 });
  toRts(a, { timeout: 18, rnrRetry: 7 });
  toRts(b, { timeout: 18, rnrRetry: 7 });
  return { a, b, clock, sendWcs: [], recvWcs: [] };
}

describe('the stack on the simulated stream against an RC model (fast-check commands)', () => {
  it('sends, writes and reads complete in posting order with the right data, for any chunking and delay', async () => {
    const commands = fc.commands([
      fc.tuple(fc.constantFrom('SEND' as const, 'RDMA_WRITE' as const, 'RDMA_READ' as const), fc.integer({ min: 0, max: SLOT }), fc.boolean())
        .map(([opcode, length, signaled]) => new PostSend(opcode, length, signaled)),
      fc.constant(new PostRecv()),
      fc.constant(new Run()),
    ], { size: 'medium' });
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 600 }), commands, async (seed, maxChunk, cmds) => {
      const real = setup(seed, maxChunk);
      try {
        const model: Model = { sends: [], recvs: [], nextWrId: 1n, nextRecvSlot: 0, expectedRecvPayloads: [] };
        await fc.asyncModelRun(() => ({ model, real }), cmds);
        // Give every pending SEND a receive, let everything finish: nothing may be lost.
        for (let i = model.recvs.length; i < model.expectedRecvPayloads.length; i++) await new PostRecv().run(model, real);
        await new Run().run(model, real);
        await new Run().run(model, real);
        expect(model.sends.filter((s) => s.signaled)).toEqual([]);
        expect(model.expectedRecvPayloads).toEqual([]);
        // Payloads this small (below the copybreak) are copied from the staging ring, once each at most.
        expect(real.b.ctx.queryCounters().rxPayloadBytesCopied).toBeLessThanOrEqual(real.b.ctx.queryCounters().bytesReceived);
      } finally {
        real.a.ctx.close();
        real.b.ctx.close();
      }
    }), { numRuns: Number(process.env.SIM_RUNS ?? 40) });
  });
});

describe('nothing is lost when the stream breaks (simulated faults)', () => {
  it('every posted WR completes exactly once, in posting order, with SUCCESS or an error then flushes', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 40 }),
      async (seed, breakAfterBytes, sends, recvs) => {
        const clock = new VirtualClock();
        const [ta, tb] = createSimulatedPair({ clock, seed, maxChunk: 97, maxDelayMs: 1, faults: { aToB: { breakAfterBytes } } });
        const a = makeSide({ mrBytes: 64 * 128, context: { clock } });
        const b = makeSide({ mrBytes: 64 * 128, context: { clock } });
        try {
          toRtr(a, b.qp.qpNum, { transport: ta }, { minRnrTimer: 1 });
          toRtr(b, a.qp.qpNum, { transport: tb }, { minRnrTimer: 1 });
          toRts(a, { timeout: 12, retryCnt: 3, rnrRetry: 2 });
          toRts(b, { timeout: 12, retryCnt: 3, rnrRetry: 2 });
          b.qp.postRecv(Array.from({ length: recvs }, (_, i) => ({ wrId: BigInt(1000 + i), sgList: [sge(b, (i % 64) * 64, 64)] })));
          a.qp.postSend(Array.from({ length: sends }, (_, i) => ({ wrId: BigInt(i), opcode: 'SEND' as const, sendFlags: SendFlags.SIGNALED, sgList: [sge(a, (i % 64) * 64, 48)] })));
          const real: Real = { a, b, clock, sendWcs: [], recvWcs: [] };
          for (let round = 0; round < 20 && real.sendWcs.length < sends; round++) await settle(real);
          const wcs = real.sendWcs;
          expect(wcs.map((wc) => wc.wrId)).toEqual(Array.from({ length: sends }, (_, i) => BigInt(i)));
          const firstError = wcs.findIndex((wc) => wc.status !== 'SUCCESS');
          if (firstError >= 0) {
            expect(['RETRY_EXC_ERR', 'RNR_RETRY_EXC_ERR', 'WR_FLUSH_ERR']).toContain(wcs[firstError]!.status);
            expect(wcs.slice(firstError + 1).every((wc) => wc.status === 'WR_FLUSH_ERR')).toBe(true);
            expect(a.qp.state).toBe('ERR');
          }
          a.monitor.assertAgreement();
          b.monitor.assertAgreement();
        } finally {
          a.ctx.close();
          b.ctx.close();
        }
      },
    ), { numRuns: Number(process.env.SIM_RUNS ?? 40) });
  });
});
