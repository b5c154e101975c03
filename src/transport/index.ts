/** The transport layer (DESIGN.md §2): the byte pipe under a QP, real or simulated. */
export type { Clock, TimerHandle, Transport, TransportCloseReason, TransportCounters, TransportSink } from './types.js';
export { takeSocket } from './socket-transport.js';
export { createSimulatedPair, type LinkFaults, type SimulatedDirection, type SimulatedEvent, type SimulatedPairOptions } from './simulated.js';
export { realClock, VirtualClock } from './clock.js';
export { Prng, deriveSeed } from './prng.js';

