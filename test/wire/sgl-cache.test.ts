import { describe, expect, test } from 'vitest';
import { Access } from '../../src/abi/constants.js';
import { MemoryTable } from '../../src/nic/memory.js';
import { LastResolution, resolveSgl, resolveSglAgain, type SglResolution } from '../../src/nic/sgl.js';
import type { Sge } from '../../src/abi/types.js';

type Resolve = (memory: MemoryTable, pdHandle: number, sgList: readonly Sge[], access: 'read' | 'write', length?: number) => SglResolution;
/** A requester's resolver: the list it resolved last (the same object, WR after WR) is answered first. */
const withLast = (): Resolve => {
  const last = new LastResolution();
  return (memory, pdHandle, sgList, access, length) => resolveSglAgain(last, memory, pdHandle, sgList, access, length);
};

/**
 * resolveSgl answers a one-SGE list from a cache (as a NIC caches its MTT), and a requester first
 * from the list it resolved last (resolveSglAgain). These pin down that a cached answer is never a
 * wrong one: every key the check depends on is part of the hit. The lists are one object reused,
 * as the verbs layer hands them over.
 */
describe.each([
  { name: 'resolveSgl', make: (): Resolve => resolveSgl },
  { name: 'resolveSglAgain', make: withLast },
])('$name: one-SGE resolutions come from a cache that never answers wrongly', ({ make }) => {
  const PD = 1;
  const resolveSgl = make();
  const setup = (access = Access.LOCAL_WRITE) => {
    const memory = new MemoryTable(16);
    const mr = memory.register(PD, new Uint8Array(4096), access)!;
    const sge = { addr: mr.addr + 100, length: 64, lkey: mr.lkey };
    return { memory, mr, sge, list: [sge] };
  };

  test('a deregistered key is refused although its SGE resolved a moment before', () => {
    const { memory, mr, sge, list } = setup();
    expect(resolveSgl(memory, PD, list, 'write').ok).toBe(true);
    memory.deregister(mr);
    const again = resolveSgl(memory, PD, list, 'write');
    expect(again.ok).toBe(false);
    expect(!again.ok && again.reason).toMatch(/names no live memory region/);
  });

  test('the same SGE from another PD is refused, and a read-only region refuses a write after a read was granted', () => {
    const { memory, list } = setup(0);
    expect(resolveSgl(memory, PD, list, 'read').ok).toBe(true);
    const otherPd = resolveSgl(memory, PD + 1, list, 'read');
    expect(!otherPd.ok && otherPd.reason).toMatch(/another protection domain/);
    const write = resolveSgl(memory, PD, list, 'write');
    expect(!write.ok && write.reason).toMatch(/without LOCAL_WRITE/);
  });

  test('the view covers exactly the bytes asked for, at the SGE\'s address, whatever was cached before', () => {
    const { memory, mr, sge, list } = setup();
    const whole = resolveSgl(memory, PD, list, 'write');
    const cut = resolveSgl(memory, PD, list, 'write', 8); // the same cache slot as 64 bytes
    const moved = resolveSgl(memory, PD, [{ ...sge, addr: sge.addr + 1 }], 'write');
    if (!whole.ok || !cut.ok || !moved.ok) throw new Error('expected all three to resolve');
    expect(whole.views[0]!.byteLength).toBe(64);
    expect(cut.views[0]!.byteLength).toBe(8);
    mr.buffer[101] = 7;
    expect(moved.views[0]![0]).toBe(7);
    expect(whole.views[0]![1]).toBe(7);
    expect(resolveSgl(memory, PD, [{ ...sge, length: 0 }], 'write')).toMatchObject({ ok: true, views: [], regions: [] });
  });

  test('a buffer detached under its MR is refused, as without the cache (its cached view reads 0 bytes)', () => {
    const { memory, mr, sge, list } = setup();
    expect(resolveSgl(memory, PD, list, 'write').ok).toBe(true);
    structuredClone(mr.buffer.buffer, { transfer: [mr.buffer.buffer] });
    const again = resolveSgl(memory, PD, list, 'write');
    expect(again.ok).toBe(false);
    expect(!again.ok && again.reason).toMatch(/outside the region/);
  });

  test('two tables never share an answer: the same key and address in another table is looked up there', () => {
    const a = setup();
    const b = new MemoryTable(16);
    expect(resolveSgl(a.memory, PD, a.list, 'read').ok).toBe(true);
    expect(resolveSgl(b, PD, a.list, 'read').ok).toBe(false);
  });

  test('a caller that changes a shared answer does not change what the next WR gets', () => {
    const { memory, sge, list } = setup();
    const first = resolveSgl(memory, PD, list, 'write');
    if (!first.ok) throw new Error('expected a resolution');
    const [view, region] = [first.views[0], first.regions[0]];
    (first.views as Uint8Array[]).push(new Uint8Array(1));
    const second = resolveSgl(memory, PD, list, 'write');
    expect(second.ok && second.views).toEqual([view]);
    if (!second.ok) throw new Error('expected a resolution');
    (second.views as Uint8Array[])[0] = new Uint8Array(sge.length);
    (second.regions as unknown[]).pop();
    const third = resolveSgl(memory, PD, list, 'write');
    expect(third.ok && third.views.length === 1 && third.views[0]!.buffer === view!.buffer && third.views[0]!.byteOffset === view!.byteOffset).toBe(true);
    expect(third.ok && third.regions).toEqual([region]);
  });

  test('an observer watching memory accesses is told of every resolution, cached or not, with the same key, offset, length and op', () => {
    const seen: unknown[] = [];
    const memory = new MemoryTable(16, { memoryAccess: (check) => seen.push(check) });
    const mr = memory.register(PD, new Uint8Array(256), Access.LOCAL_WRITE)!;
    const list = [{ addr: mr.addr + 16, length: 16, lkey: mr.lkey }];
    for (let i = 0; i < 5; i++) resolveSgl(memory, PD, list, 'write');
    const one = { side: 'local', key: mr.lkey, offset: 16, length: 16, op: 'write', granted: true };
    expect(seen).toEqual([one, one, one, one, one]);
  });
});
