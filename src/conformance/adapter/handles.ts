/** An error an adapter returns for a request: the errno, what was wrong, and badWr for posts. */
export class AdapterError extends Error {
  constructor(readonly errno: string, message: string, readonly badWr?: number) {
    super(message);
  }
}

/**
 * The objects an adapter hands out, by opaque handle ("qp-3"): the kit never sees anything but
 * these strings, so an implementation in any language can use any representation behind them.
 */
export class Handles {
  private readonly objects = new Map<string, { readonly kind: string; readonly value: unknown }>();
  private next = 1;

  add(kind: string, value: unknown): string {
    const handle = `${kind}-${this.next++}`;
    this.objects.set(handle, { kind, value });
    return handle;
  }

  get<T>(kind: string, handle: string): T {
    const entry = this.objects.get(handle);
    if (entry === undefined || entry.kind !== kind) throw new AdapterError('EINVAL', `no ${kind} has the handle ${JSON.stringify(handle)}`);
    return entry.value as T;
  }

  delete(handle: string): void {
    this.objects.delete(handle);
  }

  /** Every live object of a kind (to close them at exit). */
  all<T>(kind: string): T[] {
    return [...this.objects.values()].filter((e) => e.kind === kind).map((e) => e.value as T);
  }

  /** The handle of an object already handed out. */
  handleOf(kind: string, value: unknown): string | undefined {
    for (const [handle, entry] of this.objects) if (entry.kind === kind && entry.value === value) return handle;
    return undefined;
  }
}
