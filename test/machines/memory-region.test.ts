import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createActor } from 'xstate';
import { MrAccess, accessFlagsValid, memoryRegionMachine, type RemoteOp } from '../../machines/memory-region.machine.js';

const LKEY = 0x51;
const RKEY = 0x93;
const LENGTH = 256;

function region(access: number) {
  const actor = createActor(memoryRegionMachine, { input: { lkey: LKEY, rkey: RKEY, length: LENGTH } }).start();
  actor.send({ type: 'REGISTER', access });
  return actor;
}

const ALL = MrAccess.LOCAL_WRITE | MrAccess.REMOTE_WRITE | MrAccess.REMOTE_READ | MrAccess.REMOTE_ATOMIC;

describe('memory region', () => {
  it('registration follows ibv_reg_mr: REMOTE_WRITE or REMOTE_ATOMIC need LOCAL_WRITE; unknown bits refused', () => {
    for (let access = 0; access <= ALL; access++) {
      const remoteNeedsLocal = (access & (MrAccess.REMOTE_WRITE | MrAccess.REMOTE_ATOMIC)) !== 0;
      const expected = !remoteNeedsLocal || (access & MrAccess.LOCAL_WRITE) !== 0;
      expect(accessFlagsValid(access), `access ${access}`).toBe(expected);
      const mr = region(access);
      expect(mr.getSnapshot().value).toBe(expected ? 'registered' : 'unregistered');
      if (!expected) expect(mr.getSnapshot().context.lastError).toMatch(/^EINVAL: .*need LOCAL_WRITE/);
    }
    expect(accessFlagsValid(1 << 9)).toBe(false);
  });

  it('property: an access is granted iff key, bounds and flag all hold', () => {
    const op = fc.constantFrom<RemoteOp>('read', 'write', 'atomic');
    fc.assert(fc.property(
      fc.integer({ min: 0, max: ALL }).filter(accessFlagsValid), op, fc.boolean(),
      fc.integer({ min: -8, max: LENGTH + 8 }), fc.integer({ min: 0, max: LENGTH + 8 }),
      (access, remoteOp, rightKey, offset, length) => {
        const mr = region(access);
        mr.send({ type: 'REMOTE_ACCESS', rkey: rightKey ? RKEY : LKEY, offset, length, op: remoteOp });
        const verdict = mr.getSnapshot().context.lastAccess!;
        const flag = { read: MrAccess.REMOTE_READ, write: MrAccess.REMOTE_WRITE, atomic: MrAccess.REMOTE_ATOMIC }[remoteOp];
        const atomicShapeOk = remoteOp !== 'atomic' || (length === 8 && offset % 8 === 0);
        const granted = atomicShapeOk && rightKey && offset >= 0 && offset + length <= LENGTH && (access & flag) !== 0;
        expect(verdict.granted).toBe(granted);
        if (!granted) expect(verdict).toMatchObject({ status: atomicShapeOk ? 'REM_ACCESS_ERR' : 'REM_INV_REQ_ERR' });
        mr.send({ type: 'LOCAL_ACCESS', lkey: rightKey ? LKEY : RKEY, offset, length, write: true });
        const local = mr.getSnapshot().context.lastAccess!;
        expect(local.granted).toBe(rightKey && offset >= 0 && offset + length <= LENGTH && (access & MrAccess.LOCAL_WRITE) !== 0);
      },
    ), { numRuns: 1000 });
  });

  it('keys die with deregistration: every later access is refused', () => {
    const mr = region(ALL);
    mr.send({ type: 'REMOTE_ACCESS', rkey: RKEY, offset: 0, length: 8, op: 'atomic' });
    expect(mr.getSnapshot().context.lastAccess).toEqual({ granted: true });
    mr.send({ type: 'DEREGISTER' });
    mr.send({ type: 'REMOTE_ACCESS', rkey: RKEY, offset: 0, length: 8, op: 'atomic' });
    expect(mr.getSnapshot().context.lastAccess).toMatchObject({ granted: false, status: 'REM_ACCESS_ERR', reason: expect.stringContaining('deregistered') });
    mr.send({ type: 'LOCAL_ACCESS', lkey: LKEY, offset: 0, length: 1, write: false });
    expect(mr.getSnapshot().context.lastAccess).toMatchObject({ granted: false, status: 'LOC_PROT_ERR' });
    expect(mr.getSnapshot().can({ type: 'REGISTER', access: ALL })).toBe(false);
  });
});
