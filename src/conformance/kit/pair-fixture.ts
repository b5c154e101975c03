import type { AdapterClient } from './adapter-client.js';
import { INIT_MASK, RTR_MASK, RTS_MASK, attrValues } from './qp-attrs.js';

type R = Record<string, unknown>;

export interface Endpoint {
  readonly iut: AdapterClient;
  readonly context: string;
  readonly pd: string;
  readonly cq: string;
}

export interface ConnectedPair {
  readonly qpA: string;
  readonly qpB: string;
}


/**
 * Two endpoints of the two-endpoint groups — the IUT and its peer (the IUT again by default, or
 * another implementation) — each with a context, a PD and a CQ, connected over real TCP on
 * 127.0.0.1 the way rc_pingpong connects them: B listens, A connects, each QP takes its socket at
 * RTR with the other's QP number.
 */
export class PairFixture {
  private constructor(readonly a: Endpoint, readonly b: Endpoint, private readonly listener: string, private readonly port: number) {}

  static async open(a: AdapterClient, b: AdapterClient): Promise<PairFixture> {
    const endpoint = async (iut: AdapterClient): Promise<Endpoint> => {
      const { context } = await iut.request('openDevice', {}) as R;
      const { pd } = await iut.request('allocPd', { context }) as R;
      const { cq } = await iut.request('createCq', { context, cqe: 256 }) as R;
      return { iut, context: context as string, pd: pd as string, cq: cq as string };
    };
    const [ea, eb] = [await endpoint(a), await endpoint(b)];
    const { listener, port } = await b.request('listen', {}) as R;
    return new PairFixture(ea, eb, listener as string, port as number);
  }

  /** A new RC QP on each side, both in RTS and connected; B's QP grants `accessB` to A. */
  async connect(accessB: number, cap: R = { maxSendWr: 8, maxRecvWr: 8, maxSendSge: 1, maxRecvSge: 1 }): Promise<ConnectedPair> {
    const create = async (e: Endpoint, access: number) => {
      const created = await e.iut.request('createQp', { pd: e.pd, qpType: 'RC', sendCq: e.cq, recvCq: e.cq, cap }) as R;
      await e.iut.request('modifyQp', { qp: created.qp, attr: attrValues('RESET', 'INIT', INIT_MASK, { destQpNum: 0, accessFlags: access }), mask: INIT_MASK });
      return { qp: created.qp as string, qpNum: created.qpNum as number };
    };
    const [qa, qb] = [await create(this.a, 0), await create(this.b, accessB)];
    const [accepted, connected] = await Promise.all([
      this.b.iut.request('accept', { listener: this.listener }) as Promise<R>,
      this.a.iut.request('connect', { host: '127.0.0.1', port: this.port }) as Promise<R>,
    ]);
    const up = async (e: Endpoint, qp: string, socket: unknown, destQpNum: number) => {
      await e.iut.request('modifyQp', { qp, attr: { ...attrValues('INIT', 'RTR', RTR_MASK, { destQpNum }), ahAttr: { socket } }, mask: RTR_MASK });
      await e.iut.request('modifyQp', { qp, attr: attrValues('RTR', 'RTS', RTS_MASK, { destQpNum }), mask: RTS_MASK });
    };
    await up(this.a, qa.qp, connected.socket, qb.qpNum);
    await up(this.b, qb.qp, accepted.socket, qa.qpNum);
    return { qpA: qa.qp, qpB: qb.qp };
  }

  /** Polls `e`'s CQ until `count` completions came or `ms` passed. */
  async poll(e: Endpoint, count: number, ms = 3000): Promise<R[]> {
    const wcs: R[] = [];
    const deadline = Date.now() + ms;
    while (wcs.length < count && Date.now() < deadline) {
      wcs.push(...((await e.iut.request('pollCq', { cq: e.cq, max: Math.min(64, count - wcs.length) }) as { wcs: R[] }).wcs));
      if (wcs.length < count) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    return wcs;
  }

  /** Takes every completion left in both CQs (so the next case starts from empty CQs). */
  async drain(): Promise<void> {
    for (const e of [this.a, this.b]) {
      for (let n = 1; n > 0; ) n = ((await e.iut.request('pollCq', { cq: e.cq, max: 64 }) as { wcs: R[] }).wcs).length;
    }
  }

  async close(): Promise<void> {
    await this.b.iut.request('closeListener', { listener: this.listener });
    await this.a.iut.request('closeDevice', { context: this.a.context });
    await this.b.iut.request('closeDevice', { context: this.b.context });
  }
}
