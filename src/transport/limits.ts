/**
 * Limits shared by both transports, so code tested on the simulator meets the same contract on
 * real TCP.
 */

/**
 * Most chunks in one `writev` batch: Linux IOV_MAX. A larger batch cannot go out in one writev(2)
 * (libuv would split it), so the NIC splits bigger doorbell batches itself; both transports throw
 * a RangeError past it.
 */
export const MAX_BATCH_CHUNKS = 1024;
