/**
 * A bounded FIFO of events with promise-based waiting (ibv_get_async_event / ibv_get_cq_event in
 * Node style). When full, the oldest event is dropped and counted: a consumer that never reads
 * must not grow the process without limit.
 */
export class EventQueue<T> {
  private readonly events: T[] = [];
  private readonly waiters: { resolve: (event: T) => void; reject: (error: Error) => void }[] = [];
  dropped = 0;
  private closedWith: Error | null = null;

  constructor(private readonly limit: number) {}

  push(event: T): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      waiter.resolve(event);
      return;
    }
    if (this.events.length >= this.limit) {
      this.events.shift();
      this.dropped++;
    }
    this.events.push(event);
  }

  next(): Promise<T> {
    if (this.events.length > 0) return Promise.resolve(this.events.shift()!);
    if (this.closedWith !== null) return Promise.reject(this.closedWith);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Non-blocking read: the next event, or undefined. */
  tryNext(): T | undefined {
    return this.events.shift();
  }

  get pending(): number {
    return this.events.length;
  }

  close(error: Error): void {
    this.closedWith = error;
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }
}
