/**
 * The slot of position `index` (head + offset, below 2 × capacity) in a ring of `capacity` slots:
 * wrapped by a compare, not `%`, which is an integer division on every push, pop and ACK scan.
 * The send queue, the receive queue and the CQ ring all index their slots through it.
 */
export function ringSlot(index: number, capacity: number): number {
  return index < capacity ? index : index - capacity;
}
