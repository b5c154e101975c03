import { NIC_LIMITS } from '../abi/limits.js';
import type { Clock, Transport } from '../transport/types.js';

/**
 * Closes a failed QP's stream without losing what it said last: a FIN follows the bytes already
 * written (the NAK, the TERMINATE), and reading goes on until the peer's FIN, so the kernel never
 * answers the peer's bytes with a RST that would destroy them on the peer's side before it read
 * them. A peer that neither reads nor closes cannot hold the socket past closeLingerMs.
 * Returns the cancel for the linger timer (to be called when the transport reports its close).
 */
export function closeGracefully(transport: Transport, clock: Clock): () => void {
  let linger: ReturnType<Clock['setTimer']> | null = clock.setTimer(NIC_LIMITS.closeLingerMs, () => {
    linger = null;
    transport.close();
  });
  transport.shutdown();
  return () => {
    if (linger !== null) clock.clearTimer(linger);
    linger = null;
  };
}
