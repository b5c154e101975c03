import { VerbsError } from '../abi/errors.js';
import type { WorkCompletion } from '../abi/types.js';
import type { CqHandle, ProviderOps } from '../provider/ops.js';
import { EventQueue } from './events.js';
import { requireInt } from './validate.js';

/** ibv_comp_channel: completion events of the CQs armed with reqNotify. */
export class CompletionChannel {
  readonly events: EventQueue<{ cq: CompletionQueue }>;
  users = 0;
  private destroyed = false;

  get isDestroyed(): boolean {
    return this.destroyed;
  }

  constructor(limit: number) {
    this.events = new EventQueue(limit);
  }

  /** ibv_get_cq_event: resolves with the CQ whose armed notification fired. */
  getEvent(): Promise<{ cq: CompletionQueue }> {
    if (this.destroyed) return Promise.reject(new VerbsError('EINVAL', 'the completion channel was destroyed'));
    return this.events.next();
  }

  destroy(): void {
    if (this.destroyed) throw new VerbsError('EINVAL', 'the completion channel was already destroyed');
    if (this.users > 0) throw new VerbsError('EBUSY', `${this.users} CQ(s) still use this completion channel; destroy them first`);
    this.destroyed = true;
    this.events.close(new VerbsError('EINVAL', 'the completion channel was destroyed'));
  }
}

/** ibv_cq: poll completions; arm the channel with reqNotify. The ring itself lives in the provider. */
export class CompletionQueue {
  /** QPs that complete into this CQ (as send or receive CQ). */
  users = 0;
  private destroyed = false;
  private unackedEvents = 0;

  constructor(
    readonly handle: CqHandle,
    readonly cqe: number,
    readonly channel: CompletionChannel | null,
    private readonly provider: ProviderOps,
    private readonly onDestroy: (cq: CompletionQueue) => void,
    private readonly contextClosed: () => boolean,
  ) {
    if (channel !== null) channel.users++;
  }

  /** The provider's notification fired: one channel event, counted until acknowledged. */
  notified(): void {
    this.unackedEvents++;
    this.channel?.events.push({ cq: this });
  }

  private live(): ProviderOps {
    if (this.contextClosed()) throw new VerbsError('ENODEV', 'the device context of this CQ was closed');
    if (this.destroyed) throw new VerbsError('EINVAL', 'the CQ was destroyed');
    return this.provider;
  }

  /** ibv_poll_cq: up to `maxEntries` completions, oldest first. */
  poll(maxEntries: number): WorkCompletion[] {
    const provider = this.live();
    requireInt('maxEntries', maxEntries, 0, 1 << 20);
    return provider.pollCq(this.handle, maxEntries);
  }

  /** ibv_req_notify_cq: one channel event for the next (solicited, or any) completion. */
  reqNotify(solicitedOnly = false): void {
    const provider = this.live();
    if (this.channel === null) throw new VerbsError('EINVAL', 'the CQ was created without a completion channel; pass { channel } to createCq');
    provider.reqNotifyCq(this.handle, solicitedOnly === true);
  }

  /** ibv_ack_cq_events. */
  ackEvents(count: number): void {
    this.live();
    requireInt('count', count, 0, this.unackedEvents);
    this.unackedEvents -= count;
  }

  get depth(): number {
    return this.live().queryCq(this.handle).depth;
  }

  get inError(): boolean {
    return this.live().queryCq(this.handle).inError;
  }

  destroy(): void {
    const provider = this.live();
    if (this.users > 0) throw new VerbsError('EBUSY', `${this.users} QP(s) still use this CQ; destroy them first`);
    this.destroyed = true;
    if (this.channel !== null) this.channel.users--;
    provider.destroyCq(this.handle);
    this.onDestroy(this);
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }
}
