import { randomInt } from 'node:crypto';
import type { Clock, Transport, TransportCounters } from '../transport/types.js';
import type { VerbsObserver } from '../abi/observer.js';
import type { AsyncEventType, Counters } from '../abi/types.js';
import type { CqRing } from './cq-ring.js';
import { MemoryTable } from './memory.js';
import type { NicServices, QpEngine } from './qp-engine.js';

export interface NicOptions {
  readonly clock: Clock;
  readonly observer: VerbsObserver | null;
  readonly maxMessage: number;
  readonly maxRegistrations: number;
  readonly raiseAsync: (type: AsyncEventType, qpNum: number | undefined, reason: string, cq?: CqRing) => void;
}

const TRANSPORT_COUNTERS: readonly (keyof TransportCounters)[] = ['writeBatches', 'readCallbacks', 'bytesWritten', 'bytesRead', 'bytesCopied'];

/**
 * The reference "hardware" of one device context: QP engines, the memory table, CQ rings and the
 * doorbell. Doorbells are coalesced per QP into one microtask, so everything posted in one
 * synchronous stretch of the program leaves in one writev.
 */
export class Nic implements NicServices {
  readonly memory: MemoryTable;
  readonly clock: Clock;
  readonly observer: VerbsObserver | null;
  readonly maxMessage: number;
  closed = false;
  readonly counters = { framesSent: 0, bytesSent: 0, framesReceived: 0, bytesReceived: 0, bytesDiscarded: 0, rxPayloadBytesCopied: 0, txPayloadBytesCopied: 0, doorbells: 0 };
  private readonly engines = new Map<number, QpEngine>();
  private readonly cqIds = new Map<CqRing, number>();
  private readonly pendingDoorbells = new Set<QpEngine>();
  private readonly liveTransports = new Set<Transport>();
  private readonly retired: TransportCounters = { writeBatches: 0, readCallbacks: 0, bytesWritten: 0, bytesRead: 0, bytesCopied: 0 };

  constructor(private readonly options: NicOptions) {
    this.memory = new MemoryTable(options.maxRegistrations, options.observer);
    this.clock = options.clock;
    this.observer = options.observer;
    this.maxMessage = options.maxMessage;
  }

  /** A fresh, unused 24-bit QP number (0 and 1 are special in IB). */
  allocQpNum(): number {
    for (;;) {
      const qpNum = randomInt(2, 0x1000000);
      if (!this.engines.has(qpNum)) return qpNum;
    }
  }

  addEngine(engine: QpEngine): void {
    this.engines.set(engine.qpNum, engine);
  }

  removeEngine(engine: QpEngine): void {
    this.engines.delete(engine.qpNum);
    this.pendingDoorbells.delete(engine);
  }

  get engineCount(): number {
    return this.engines.size;
  }

  ringDoorbell(engine: QpEngine): void {
    this.counters.doorbells++;
    if (this.pendingDoorbells.has(engine)) return;
    this.pendingDoorbells.add(engine);
    queueMicrotask(() => {
      if (!this.pendingDoorbells.delete(engine)) return;
      engine.onDoorbell();
    });
  }

  registerCq(ring: CqRing, id: number): void {
    this.cqIds.set(ring, id);
  }

  unregisterCq(ring: CqRing): void {
    this.cqIds.delete(ring);
  }

  cqOf(ring: CqRing): { id: number } {
    const id = this.cqIds.get(ring);
    if (id === undefined) throw new Error('Nic invariant: completion for an unknown CQ');
    return { id };
  }

  /** CQ overrun: CQ_ERR, then every QP that completes into that CQ fails (after the current turn). */
  cqOverrun(ring: CqRing): void {
    const id = this.cqIds.get(ring);
    if (id !== undefined) this.observer?.cqOverrun?.(id);
    this.options.raiseAsync('CQ_ERR', undefined, `CQ overrun: more than ${ring.capacity} completions were not polled`, ring);
    queueMicrotask(() => {
      for (const engine of this.engines.values()) {
        if (engine.init.sendCq === ring || engine.init.recvCq === ring) {
          engine.fail({ kind: 'CQ_OVERRUN', reason: `completion queue overrun (capacity ${ring.capacity})` });
        }
      }
    });
  }

  raiseAsync(type: AsyncEventType, qpNum: number, reason: string): void {
    this.options.raiseAsync(type, qpNum, reason);
  }

  trackTransport(transport: Transport): void {
    this.liveTransports.add(transport);
  }

  /** Keeps a closed transport's counts in the device totals. */
  retireTransport(transport: Transport): void {
    if (!this.liveTransports.delete(transport)) return;
    for (const key of TRANSPORT_COUNTERS) this.retired[key] += transport.counters[key];
  }

  queryCounters(): Counters {
    const total = { ...this.retired };
    for (const transport of this.liveTransports) for (const key of TRANSPORT_COUNTERS) total[key] += transport.counters[key];
    return {
      rxPayloadBytesCopied: this.counters.rxPayloadBytesCopied + total.bytesCopied,
      txPayloadBytesCopied: this.counters.txPayloadBytesCopied,
      writeSyscalls: total.writeBatches,
      readCallbacks: total.readCallbacks,
      framesSent: this.counters.framesSent,
      framesReceived: this.counters.framesReceived,
      bytesSent: total.bytesWritten,
      bytesReceived: total.bytesRead,
      bytesDiscarded: this.counters.bytesDiscarded,
      doorbells: this.counters.doorbells,
    };
  }

  shutdown(): void {
    this.closed = true;
    for (const engine of [...this.engines.values()]) engine.reset();
    this.engines.clear();
  }
}
