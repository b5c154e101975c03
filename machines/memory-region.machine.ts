import { assign, setup } from 'xstate';

/** IBV_ACCESS_* bits with libibverbs' values. */
export const MrAccess = {
  LOCAL_WRITE: 1 << 0,
  REMOTE_WRITE: 1 << 1,
  REMOTE_READ: 1 << 2,
  REMOTE_ATOMIC: 1 << 3,
} as const;
const KNOWN_ACCESS = MrAccess.LOCAL_WRITE | MrAccess.REMOTE_WRITE | MrAccess.REMOTE_READ | MrAccess.REMOTE_ATOMIC;

/** ibv_reg_mr(3): REMOTE_WRITE or REMOTE_ATOMIC without LOCAL_WRITE is EINVAL. */
export function accessFlagsValid(access: number): boolean {
  if ((access & ~KNOWN_ACCESS) !== 0) return false;
  const needsLocalWrite = (access & (MrAccess.REMOTE_WRITE | MrAccess.REMOTE_ATOMIC)) !== 0;
  return !needsLocalWrite || (access & MrAccess.LOCAL_WRITE) !== 0;
}

export type RemoteOp = 'read' | 'write' | 'atomic';

export type MemoryRegionEvent =
  | { type: 'REGISTER'; access: number }
  /** A WR's SGE names this region by lkey. */
  | { type: 'LOCAL_ACCESS'; lkey: number; offset: number; length: number; write: boolean }
  /** A peer's RDMA READ/WRITE or atomic names this region by rkey. */
  | { type: 'REMOTE_ACCESS'; rkey: number; offset: number; length: number; op: RemoteOp }
  | { type: 'DEREGISTER' };

/** What the last access check concluded, with the WC status a refusal produces. */
export type AccessVerdict =
  | { readonly granted: true }
  | { readonly granted: false; readonly status: 'LOC_PROT_ERR' | 'REM_ACCESS_ERR' | 'REM_INV_REQ_ERR'; readonly reason: string };

export interface MemoryRegionContext {
  readonly lkey: number;
  readonly rkey: number;
  readonly length: number;
  readonly access: number;
  readonly lastAccess: AccessVerdict | null;
  readonly lastError: string | null;
}

const ATOMIC_SIZE = 8;

function inBounds(context: MemoryRegionContext, offset: number, length: number): boolean {
  return Number.isInteger(offset) && Number.isInteger(length) && offset >= 0 && length >= 0 && offset + length <= context.length;
}

export function judgeLocalAccess(context: MemoryRegionContext, event: Extract<MemoryRegionEvent, { type: 'LOCAL_ACCESS' }>): AccessVerdict {
  if (event.lkey !== context.lkey) return { granted: false, status: 'LOC_PROT_ERR', reason: 'lkey does not name this region' };
  if (!inBounds(context, event.offset, event.length)) return { granted: false, status: 'LOC_PROT_ERR', reason: 'SGE outside the region' };
  if (event.write && (context.access & MrAccess.LOCAL_WRITE) === 0) {
    return { granted: false, status: 'LOC_PROT_ERR', reason: 'region lacks LOCAL_WRITE' };
  }
  return { granted: true };
}

const REMOTE_FLAG: Record<RemoteOp, number> = {
  read: MrAccess.REMOTE_READ,
  write: MrAccess.REMOTE_WRITE,
  atomic: MrAccess.REMOTE_ATOMIC,
};

export function judgeRemoteAccess(context: MemoryRegionContext, event: Extract<MemoryRegionEvent, { type: 'REMOTE_ACCESS' }>): AccessVerdict {
  if (event.op === 'atomic' && (event.length !== ATOMIC_SIZE || event.offset % ATOMIC_SIZE !== 0)) {
    return { granted: false, status: 'REM_INV_REQ_ERR', reason: 'atomic target must be 8 bytes, 8-byte aligned' };
  }
  if (event.rkey !== context.rkey) return { granted: false, status: 'REM_ACCESS_ERR', reason: 'rkey does not name this region' };
  if (!inBounds(context, event.offset, event.length)) return { granted: false, status: 'REM_ACCESS_ERR', reason: 'range outside the region' };
  if ((context.access & REMOTE_FLAG[event.op]) === 0) {
    return { granted: false, status: 'REM_ACCESS_ERR', reason: `region lacks REMOTE_${event.op.toUpperCase()}` };
  }
  return { granted: true };
}

const DEAD_KEY: AccessVerdict = { granted: false, status: 'LOC_PROT_ERR', reason: 'region deregistered: its keys are dead' };
const DEAD_RKEY: AccessVerdict = { granted: false, status: 'REM_ACCESS_ERR', reason: 'region deregistered: its keys are dead' };

export const memoryRegionMachine = setup({
  types: {
    context: {} as MemoryRegionContext,
    events: {} as MemoryRegionEvent,
    input: {} as { lkey: number; rkey: number; length: number },
  },
  guards: {
    validAccessFlags: ({ event }) => event.type === 'REGISTER' && accessFlagsValid(event.access),
  },
  actions: {
    storeAccess: assign(({ event }) => (event.type === 'REGISTER' ? { access: event.access, lastError: null } : {})),
    refuseRegistration: assign({
      lastError: 'EINVAL: access flags must be a subset of LOCAL_WRITE|REMOTE_WRITE|REMOTE_READ|REMOTE_ATOMIC, and REMOTE_WRITE or REMOTE_ATOMIC need LOCAL_WRITE',
    }),
    checkLocal: assign(({ context, event }) => ({
      lastAccess: event.type === 'LOCAL_ACCESS' ? judgeLocalAccess(context, event) : null,
    })),
    checkRemote: assign(({ context, event }) => ({
      lastAccess: event.type === 'REMOTE_ACCESS' ? judgeRemoteAccess(context, event) : null,
    })),
    refuseLocalDead: assign({ lastAccess: DEAD_KEY }),
    refuseRemoteDead: assign({ lastAccess: DEAD_RKEY }),
  },
}).createMachine({
  id: 'memoryRegion',
  initial: 'unregistered',
  context: ({ input }) => ({ ...input, access: 0, lastAccess: null, lastError: null }),
  states: {
    unregistered: {
      on: {
        REGISTER: [{ guard: 'validAccessFlags', target: 'registered', actions: 'storeAccess' }, { actions: 'refuseRegistration' }],
      },
    },
    registered: {
      description: 'lkey and rkey are live; every access is checked against keys, bounds and flags.',
      on: {
        LOCAL_ACCESS: { actions: 'checkLocal' },
        REMOTE_ACCESS: { actions: 'checkRemote' },
        DEREGISTER: { target: 'deregistered' },
      },
    },
    deregistered: {
      description: 'Keys are dead for good: any use of them is refused.',
      on: {
        LOCAL_ACCESS: { actions: 'refuseLocalDead' },
        REMOTE_ACCESS: { actions: 'refuseRemoteDead' },
      },
    },
  },
});
