import { QpAttrMask } from '../../../machines/qp-attr-mask.js';
import type { QpState } from '../../../machines/qp-modify-table.js';
import type { AdapterClient } from './adapter-client.js';
import { INIT_MASK, RTR_MASK, RTS_MASK, attrValues } from './qp-attrs.js';

type R = Record<string, unknown>;
const M = QpAttrMask;

/** The peer QP number given to lone QPs: nothing answers it, which the cases do not need. */
export const LONE_PEER_QPN = 0x123;

/** The standard path from RESET to each state, as an application takes it. */
const PATH: Record<QpState, { to: QpState; mask: number }[]> = (() => {
  const init = { to: 'INIT' as QpState, mask: INIT_MASK };
  const rtr = { to: 'RTR' as QpState, mask: RTR_MASK };
  const rts = { to: 'RTS' as QpState, mask: RTS_MASK };
  return {
    RESET: [], INIT: [init], RTR: [init, rtr], RTS: [init, rtr, rts], SQD: [init, rtr, rts, { to: 'SQD', mask: M.STATE }], SQE: [],
    ERR: [init, { to: 'ERR', mask: M.STATE }],
  };
})();

/**
 * One IUT endpoint set up for the single-endpoint groups: a context, a PD, a CQ, and a TCP
 * listener whose connections the IUT holds both ends of, so that a lone QP can take a connected
 * socket at RTR. QPs are put in any state by the path an application takes.
 */
export class IutFixture {
  private constructor(
    readonly iut: AdapterClient,
    readonly context: string,
    readonly pd: string,
    readonly cq: string,
    private readonly listener: string,
    private readonly port: number,
  ) {}

  static async open(iut: AdapterClient): Promise<IutFixture> {
    const { context } = await iut.request('openDevice', {}) as R;
    const { pd } = await iut.request('allocPd', { context }) as R;
    const { cq } = await iut.request('createCq', { context, cqe: 256 }) as R;
    const { listener, port } = await iut.request('listen', {}) as R;
    return new IutFixture(iut, context as string, pd as string, cq as string, listener as string, port as number);
  }

  /** A connected socket whose other end the IUT keeps and never reads (the peer of a lone QP). */
  async socket(): Promise<string> {
    const [connected] = await Promise.all([this.iut.request('connect', { host: '127.0.0.1', port: this.port }) as Promise<R>, this.iut.request('accept', { listener: this.listener })]);
    return connected.socket as string;
  }

  /** Valid values for every attribute the mask names (a real socket for AV). */
  async attrFor(current: QpState, next: QpState, mask: number): Promise<R> {
    const attr = attrValues(current, next, mask, { destQpNum: LONE_PEER_QPN });
    // Always a real, connected socket: a refusal must come from the table, not from a bad value.
    if ((mask & M.AV) !== 0) attr.ahAttr = { socket: await this.socket() };
    return attr;
  }

  /** A new RC QP, moved to `state` by the standard path. */
  async qpIn(state: QpState): Promise<{ qp: string; qpNum: number }> {
    const created = await this.iut.request('createQp', { pd: this.pd, qpType: 'RC', sendCq: this.cq, recvCq: this.cq, cap: { maxSendWr: 8, maxRecvWr: 8, maxSendSge: 1, maxRecvSge: 1 } }) as R;
    const qp = created.qp as string;
    let at: QpState = 'RESET';
    for (const step of PATH[state]) {
      await this.iut.request('modifyQp', { qp, attr: await this.attrFor(at, step.to, step.mask), mask: step.mask });
      at = step.to;
    }
    return { qp, qpNum: created.qpNum as number };
  }

  async state(qp: string): Promise<string> {
    return ((await this.iut.request('queryQp', { qp })) as R).qpState as string;
  }

  async close(): Promise<void> {
    await this.iut.request('closeListener', { listener: this.listener });
    await this.iut.request('closeDevice', { context: this.context });
  }
}
