import { WcFlags } from '../abi/constants.js';
import type { WcOpcode, WcStatus, WorkCompletion } from '../abi/types.js';
import type { CqRing } from './cq-ring.js';
import type { NicQp } from './qp.js';
import { SEND_WC_OPCODE, type SendWqe } from './work-queues.js';

/**
 * rxe's completer: builds every work completion of one QP, in posting order per queue, and
 * stores it in the QP's CQ. A send WQE completes once it is done and everything posted before it
 * has completed; an unsignaled success retires without a WC; an error fails the QP, and the
 * flush that follows completes everything behind it with WR_FLUSH_ERR.
 */
export class Completer {
  constructor(private readonly qp: NicQp) {}

  /** Completes send WQEs from the head while the head is done; an error fails the QP. */
  completeSends(): void {
    const { qp } = this;
    for (let wqe = qp.sq.shiftDone(); wqe !== undefined; wqe = qp.sq.shiftDone()) {
      const status = wqe.status ?? 'GENERAL_ERR';
      const generate = status !== 'SUCCESS' || wqe.signaled || qp.init.sqSigAll;
      // Read before storeSend calls out (an observer, a CQ event): a post from there may refill the slot.
      const { wrId, errorCause } = wqe;
      this.storeSend(wqe, status, generate);
      if (status !== 'SUCCESS' && status !== 'WR_FLUSH_ERR' && qp.state !== 'ERR') {
        qp.fail(errorCause ?? { kind: 'LOCAL_ERROR', fault: 'fatal', reason: `send WR ${wrId} completed with ${status}` });
        return;
      }
    }
    qp.checkDrained();
  }

  /** Completes the head receive WQE (receives are used, and complete, in posting order). */
  completeRecv(status: WcStatus, byteLen: number, opcode: WcOpcode, immData: number | undefined, solicited: boolean): void {
    const { qp } = this;
    const wqe = qp.rq.shift();
    if (wqe === undefined) throw new Error('Completer invariant: a receive completion without a posted receive');
    qp.services.observer?.completion?.(qp.qpNum, 'recv', wqe.wrId, status, true);
    const ok = status === 'SUCCESS';
    const wc: WorkCompletion = {
      wrId: wqe.wrId, status, opcode, byteLen: ok ? byteLen : 0, qpNum: qp.qpNum,
      wcFlags: immData !== undefined && ok ? WcFlags.WITH_IMM : 0, vendorErr: 0,
    };
    if (immData !== undefined && ok) wc.immData = immData;
    this.store(qp.init.recvCq, wc, solicited);
  }

  /**
   * ERR: every send WQE completes (a failed one keeps its status, the rest WR_FLUSH_ERR; flushed
   * sends always produce a WC, signaled or not), then every receive WQE with WR_FLUSH_ERR.
   */
  flush(): void {
    const { qp } = this;
    for (const wqe of qp.sq.flushAll()) this.storeSend(wqe, wqe.status ?? 'WR_FLUSH_ERR', true);
    if (qp.state === 'ERR') {
      while (qp.rq.length > 0) this.completeRecv('WR_FLUSH_ERR', 0, 'RECV', undefined, false);
    }
  }

  private storeSend(wqe: SendWqe, status: WcStatus, generate: boolean): void {
    const { qp } = this;
    // The WC is built before the observer runs: a post from the observer may refill the WQE's slot.
    const wc: WorkCompletion | null = generate
      ? { wrId: wqe.wrId, status, opcode: SEND_WC_OPCODE[wqe.opcode], byteLen: status === 'SUCCESS' ? wqe.length : 0, qpNum: qp.qpNum, wcFlags: 0, vendorErr: 0 }
      : null;
    qp.services.observer?.completion?.(qp.qpNum, 'send', wqe.wrId, status, generate);
    if (wc !== null) this.store(qp.init.sendCq, wc, false);
  }

  private store(cq: CqRing, wc: WorkCompletion, solicited: boolean): void {
    if (cq.push(wc, solicited)) this.qp.services.observer?.cqStored?.(cq.id, solicited);
  }
}
