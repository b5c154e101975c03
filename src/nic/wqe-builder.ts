import type { SendRequest } from '../provider/ops.js';
import type { NicServices, QpInit } from './qp.js';
import type { SendWqe } from './work-queues.js';

/**
 * A posted send WR becomes a WQE. Inline data is copied now, as libibverbs providers do (the
 * SGEs' memory is the caller's again when post returns); everything else is resolved when the
 * WQE executes. Returns why the WR is refused (EINVAL) instead of a WQE.
 */
export function buildSendWqe(request: SendRequest, init: QpInit, services: NicServices): SendWqe | string {
  let inline: Uint8Array | null = null;
  if (request.inline) {
    inline = new Uint8Array(request.totalLength);
    let at = 0;
    for (const sge of request.sgList) {
      // libibverbs ignores the lkey of inline SGEs: the address alone names the memory.
      const source = services.memory.findByAddress(init.pdHandle, sge.addr, sge.length);
      if (source === null) return `inline data at 0x${sge.addr.toString(16)} (+${sge.length}) is not inside any registered memory`;
      inline.set(source, at);
      at += sge.length;
    }
    services.counters.txPayloadBytesCopied += request.totalLength;
  }
  const isAtomic = request.atomic !== null;
  return {
    wrId: request.wrId, opcode: request.opcode, signaled: request.signaled || init.sqSigAll, solicited: request.solicited,
    fence: request.fence, sgList: request.sgList, inline, length: isAtomic ? 8 : request.totalLength, immData: request.immData,
    remote: request.remote, atomic: request.atomic,
    phase: 'queued', psn: -1, status: null, errorCause: null, rnrRetriesLeft: 0, local: null, pinned: null,
  };
}
