import type { SendRequest } from '../provider/ops.js';
import type { NicServices, QpInit } from './qp.js';
import type { SendWqe } from './work-queues.js';

/**
 * A posted send WR fills the send queue's next WQE (`wqe`, from SendQueue.claim). Inline data is
 * copied now, as libibverbs providers do (the SGEs' memory is the caller's again when post
 * returns); everything else is resolved when the WQE executes. Returns why the WR is refused
 * (EINVAL), or null; a refused WR leaves `wqe` unposted, to be filled again by the next post.
 */
export function fillSendWqe(wqe: SendWqe, request: SendRequest, init: QpInit, services: NicServices): string | null {
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
  wqe.serial++;
  wqe.wrId = request.wrId;
  wqe.opcode = request.opcode;
  wqe.signaled = request.signaled || init.sqSigAll;
  wqe.solicited = request.solicited;
  wqe.fence = request.fence;
  wqe.sgList = request.sgList;
  wqe.inline = inline;
  wqe.length = request.atomic !== null ? 8 : request.totalLength;
  wqe.immData = request.immData;
  wqe.remote = request.remote;
  wqe.atomic = request.atomic;
  wqe.phase = 'queued';
  wqe.psn = -1;
  wqe.status = null;
  wqe.errorCause = null;
  wqe.rnrRetriesLeft = 0;
  wqe.local = null;
  wqe.pinned = null;
  return null;
}
