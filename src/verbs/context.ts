import type { Socket } from 'node:net';
import { VerbsError } from '../abi/errors.js';
import { DEVICE_LIMITS } from '../abi/limits.js';
import type { VerbsObserver } from '../abi/observer.js';
import type { AsyncEvent, Counters, DeviceAttr, PortAttr } from '../abi/types.js';
import { isProviderError, type CqHandle, type Driver, type ProviderOps } from '../provider/ops.js';
import type { Clock, Transport } from '../transport/types.js';
import { CompletionChannel, CompletionQueue } from './cq.js';
import { EventQueue } from './events.js';
import { ProtectionDomain } from './pd.js';
import { describe, requireInt } from './validate.js';

export interface ContextOptions {
  /** Timers for ACK timeouts and RNR waits, and the scheduler beside them; a virtual clock in simulation. */
  clock: Clock;
  /** Sees every observable step (the monitor, trace writers). */
  observer: VerbsObserver | null;
  /** Turns a connected socket into the QP's transport. */
  takeSocket: (socket: Socket) => Transport;
}

/** ibv_context: one open device with its resources, events and counters, over a provider table. */
export class Context {
  private readonly provider: ProviderOps;
  private readonly asyncEvents = new EventQueue<AsyncEvent>(DEVICE_LIMITS.maxPendingEvents);
  private readonly pds = new Set<ProtectionDomain>();
  private readonly cqs = new Map<CqHandle, CompletionQueue>();
  private closed = false;

  constructor(readonly deviceName: string, driver: Driver, private readonly options: ContextOptions) {
    this.provider = driver.open({
      clock: options.clock,
      observer: options.observer,
      onAsyncEvent: ({ type, qpNum, cq: cqHandle, reason }) => {
        options.observer?.asyncEvent?.(type, qpNum);
        const cq = cqHandle === undefined ? undefined : this.cqs.get(cqHandle);
        this.asyncEvents.push({ type, ...(qpNum === undefined ? {} : { qp: { qpNum } }), ...(cq === undefined ? {} : { cq }), reason });
      },
    });
  }

  private live(): ProviderOps {
    if (this.closed) throw new VerbsError('ENODEV', `device context ${this.deviceName} was closed`);
    return this.provider;
  }

  queryDevice(): DeviceAttr {
    return this.live().queryDevice();
  }

  queryPort(portNum: number): PortAttr {
    const provider = this.live();
    requireInt('portNum', portNum, 1, 1);
    return provider.queryPort(portNum);
  }

  allocPd(): ProtectionDomain {
    const provider = this.live();
    const handle = provider.allocPd();
    if (isProviderError(handle)) throw new VerbsError(handle.errno, handle.message);
    const pd = new ProtectionDomain(handle, {
      provider,
      observer: this.options.observer,
      takeSocket: this.options.takeSocket,
      contextClosed: () => this.closed,
      ownsCq: (cq) => cq instanceof CompletionQueue && this.cqs.get(cq.handle) === cq,
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
    const provider = this.live();
    requireInt('cqe', cqe, 1, DEVICE_LIMITS.maxCqe);
    const channel = options?.channel ?? null;
    if (channel !== null && !(channel instanceof CompletionChannel)) throw new VerbsError('EINVAL', `options.channel must come from createCompChannel(), got ${describe(channel)}`);
    if (channel !== null && channel.isDestroyed) throw new VerbsError('EINVAL', 'options.channel was destroyed; create a new one with createCompChannel()');
    let cq: CompletionQueue | null = null;
    const handle = provider.createCq(cqe, { onNotify: () => cq?.notified() });
    if (isProviderError(handle)) throw new VerbsError(handle.errno, handle.message);
    cq = new CompletionQueue(handle, cqe, channel, provider, (gone) => this.cqs.delete(gone.handle), () => this.closed);
    this.cqs.set(handle, cq);
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
    return this.provider.queryCounters();
  }

  /** Closes every connection of the context; pending getAsyncEvent() calls reject. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.provider.close();
    this.asyncEvents.close(new VerbsError('ENODEV', `device context ${this.deviceName} was closed`));
  }
}
