import type { Socket } from 'node:net';
import { Nic } from '../nic/nic.js';
import type { CqRing } from '../nic/cq-ring.js';
import type { Clock, Transport } from '../transport/types.js';
import { DEVICE_LIMITS } from '../abi/limits.js';
import { CompletionChannel, CompletionQueue } from './cq.js';
import { VerbsError } from '../abi/errors.js';
import { EventQueue } from './events.js';
import type { VerbsObserver } from '../abi/observer.js';
import { ProtectionDomain } from './pd.js';
import type { AsyncEvent, Counters, DeviceAttr, PortAttr } from '../abi/types.js';
import { describe, requireInt } from './validate.js';

export interface ContextOptions {
  /** Timers for ACK timeouts and RNR waits; a virtual clock in simulation. */
  clock: Clock;
  /** Sees every observable step (the monitor, trace writers). */
  observer: VerbsObserver | null;
  /** Turns a connected socket into the QP's transport. */
  takeSocket: (socket: Socket) => Transport;
}

/** ibv_context: one open device with its resources, events and counters. */
export class Context {
  readonly nic: Nic;
  private readonly asyncEvents = new EventQueue<AsyncEvent>(DEVICE_LIMITS.maxPendingEvents);
  private readonly pds = new Set<ProtectionDomain>();
  private readonly cqs = new Set<CompletionQueue>();
  private readonly cqByRing = new Map<CqRing, CompletionQueue>();
  private nextHandle = 1;
  private closed = false;

  constructor(readonly deviceName: string, private readonly options: ContextOptions) {
    this.nic = new Nic({
      clock: options.clock,
      observer: options.observer,
      maxMessage: DEVICE_LIMITS.maxMsgSize,
      maxRegistrations: DEVICE_LIMITS.maxMr,
      raiseAsync: (type, qpNum, reason, ring) => {
        options.observer?.asyncEvent?.(type, qpNum);
        const cq = ring === undefined ? undefined : this.cqByRing.get(ring);
        this.asyncEvents.push({ type, ...(qpNum === undefined ? {} : { qp: { qpNum } }), ...(cq === undefined ? {} : { cq }), reason });
      },
    });
  }

  private live(): void {
    if (this.closed) throw new VerbsError('ENODEV', `device context ${this.deviceName} was closed`);
  }

  queryDevice(): DeviceAttr {
    this.live();
    return {
      fwVer: '0.1.0', nodeGuid: 0x7463_7076_6572_6273n, vendorId: 0, vendorPartId: 0, hwVer: 1,
      maxQp: DEVICE_LIMITS.maxQp, maxQpWr: DEVICE_LIMITS.maxQpWr, maxSge: DEVICE_LIMITS.maxSge, maxCq: DEVICE_LIMITS.maxCq,
      maxCqe: DEVICE_LIMITS.maxCqe, maxMr: DEVICE_LIMITS.maxMr, maxMrSize: DEVICE_LIMITS.maxMrSize, maxPd: DEVICE_LIMITS.maxPd,
      maxQpRdAtom: DEVICE_LIMITS.maxQpRdAtom, maxQpInitRdAtom: DEVICE_LIMITS.maxQpInitRdAtom,
      // Atomics run on the event loop: atomic with respect to every QP of the process (HCA).
      atomicCap: 'HCA', maxInlineData: DEVICE_LIMITS.maxInlineData, maxMsgSize: DEVICE_LIMITS.maxMsgSize, physPortCnt: 1,
    };
  }

  queryPort(portNum: number): PortAttr {
    this.live();
    requireInt('portNum', portNum, 1, 1);
    return { state: 'ACTIVE', maxMtu: 4096, activeMtu: 4096, gidTblLen: 1, pkeyTblLen: 1, linkLayer: 'ETHERNET', maxMsgSz: DEVICE_LIMITS.maxMsgSize };
  }

  allocPd(): ProtectionDomain {
    this.live();
    if (this.pds.size >= DEVICE_LIMITS.maxPd) throw new VerbsError('ENOMEM', `the device holds at most ${DEVICE_LIMITS.maxPd} protection domains`);
    const pd = new ProtectionDomain(this.nextHandle++, {
      nic: this.nic,
      observer: this.options.observer,
      takeSocket: this.options.takeSocket,
      ownsCq: (cq) => this.cqs.has(cq as CompletionQueue),
      onDealloc: (gone) => this.pds.delete(gone),
    });
    this.pds.add(pd);
    return pd;
  }

  createCompChannel(): CompletionChannel {
    this.live();
    return new CompletionChannel(DEVICE_LIMITS.maxPendingEvents);
  }

  /** ibv_create_cq: `cq.cqe` is at least `cqe`. */
  createCq(cqe: number, options: { channel?: CompletionChannel | null } = {}): CompletionQueue {
    this.live();
    requireInt('cqe', cqe, 1, DEVICE_LIMITS.maxCqe);
    const channel = options?.channel ?? null;
    if (channel !== null && !(channel instanceof CompletionChannel)) throw new VerbsError('EINVAL', `options.channel must come from createCompChannel(), got ${describe(channel)}`);
    if (channel !== null && channel.isDestroyed) throw new VerbsError('EINVAL', 'options.channel was destroyed; create a new one with createCompChannel()');
    if (this.cqs.size >= DEVICE_LIMITS.maxCq) throw new VerbsError('ENOMEM', `the device holds at most ${DEVICE_LIMITS.maxCq} CQs`);
    const id = this.nextHandle++;
    const cq = new CompletionQueue(id, cqe, channel, this.options.observer, (ring) => this.nic.cqOverrun(ring), (gone) => {
      this.cqs.delete(gone);
      this.cqByRing.delete(gone.ring);
      this.nic.unregisterCq(gone.ring);
      this.options.observer?.cqDestroyed?.(gone.id);
    }, () => this.closed);
    this.cqs.add(cq);
    this.cqByRing.set(cq.ring, cq);
    this.nic.registerCq(cq.ring, id);
    this.options.observer?.cqCreated?.(id, cqe);
    return cq;
  }

  /** ibv_get_async_event: resolves with the next affiliated or unaffiliated event. */
  getAsyncEvent(): Promise<AsyncEvent> {
    return this.asyncEvents.next();
  }

  /** The next async event if one is pending (for polling loops and tests). */
  pollAsyncEvent(): AsyncEvent | undefined {
    return this.asyncEvents.tryNext();
  }

  queryCounters(): Counters {
    return this.nic.queryCounters();
  }

  /** Closes every connection of the context; pending getAsyncEvent() calls reject. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.nic.shutdown();
    this.asyncEvents.close(new VerbsError('ENODEV', `device context ${this.deviceName} was closed`));
  }
}
