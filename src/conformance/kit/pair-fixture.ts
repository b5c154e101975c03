import type { AdapterClient } from './adapter-client.js';
import { pollCqUntil } from './poll-cq.js';
import { INIT_MASK, RTR_MASK, RTS_MASK, attrValues } from './qp-attrs.js';

type R = Record<string, unknown>;

export interface Endpoint {
  readonly iut: AdapterClient;
  readonly context: string;
  readonly pd: string;
  /** Bound to `channel`: events flow only after reqNotifyCq. */
  readonly cq: string;
  readonly channel: string;
}

export interface ConnectedPair {
  readonly qpA: string;
  readonly qpB: string;
  readonly qpNumA: number;
  readonly qpNumB: number;
  /** The capacities A's QP was created with (at least those asked). */
  readonly capA: R;
}

/** Connection attributes a case may choose instead of the defaults of qp-attrs.ts. */
export interface LinkAttrs {
  readonly timeout?: number;
  readonly retryCnt?: number;
  readonly rnrRetry?: number;
  readonly minRnrTimer?: number;
  readonly maxDestRdAtomic?: number;
  /** The first PSN of A's requests (A's sq_psn, B's rq_psn); 0 when absent. */
  readonly psnAToB?: number;
  /** The first PSN of B's requests (B's sq_psn, A's rq_psn). */
  readonly psnBToA?: number;
  /** B's rq_psn, when a case makes it differ from A's sq_psn. */
  readonly rqPsnForB?: number;
  /** A's own min_rnr_timer, when a case makes it differ from B's (the requester must wait B's, from the NAK). */
  readonly minRnrTimerForA?: number;
  /** A is given B's QP number plus one, as a wrong dest_qp_num. */
  readonly wrongDestQpNumForA?: boolean;
}

export const DEFAULT_CAP: R = { maxSendWr: 8, maxRecvWr: 8, maxSendSge: 1, maxRecvSge: 1 };

/**
 * Two endpoints of the two-endpoint groups — the IUT and its peer (the IUT again by default, or
 * another implementation) — each with a context, a PD and a CQ on a completion channel, connected
 * over real TCP on 127.0.0.1 the way rc_pingpong connects them: B listens, A connects, each QP
 * takes its socket at RTR with the other's QP number.
 */
export class PairFixture {
  /** What the fixture saw go wrong outside any one check (a poll that returned more than asked). */
  readonly violations: string[] = [];

  private constructor(readonly a: Endpoint, readonly b: Endpoint, private readonly listener: string, private readonly port: number) {}

  static async open(a: AdapterClient, b: AdapterClient): Promise<PairFixture> {
    const endpoint = async (iut: AdapterClient): Promise<Endpoint> => {
      const { context } = await iut.request('openDevice', {}) as R;
      const { pd } = await iut.request('allocPd', { context }) as R;
      const { channel } = await iut.request('createCompChannel', { context }) as R;
      const { cq } = await iut.request('createCq', { context, cqe: 256, channel }) as R;
      return { iut, context: context as string, pd: pd as string, cq: cq as string, channel: channel as string };
    };
    const [ea, eb] = [await endpoint(a), await endpoint(b)];
    const { listener, port } = await b.request('listen', {}) as R;
    return new PairFixture(ea, eb, listener as string, port as number);
  }

  /** A new RC QP in INIT on `e`, granting `access` to its peer. */
  async createQp(e: Endpoint, access: number, cap: R = DEFAULT_CAP, sqSigAll = false, qpType: 'RC' | 'STREAM' = 'RC'): Promise<{ qp: string; qpNum: number; cap: R }> {
    const created = await e.iut.request('createQp', { pd: e.pd, qpType, sendCq: e.cq, recvCq: e.cq, cap, ...(sqSigAll ? { sqSigAll } : {}) }) as R;
    await this.init(e, created.qp as string, access);
    return { qp: created.qp as string, qpNum: created.qpNum as number, cap: created.cap as R };
  }

  /** Takes a QP in RESET back to INIT, granting `access` to its peer. */
  async init(e: Endpoint, qp: string, access: number): Promise<void> {
    await e.iut.request('modifyQp', { qp, attr: attrValues('RESET', 'INIT', INIT_MASK, { destQpNum: 0, accessFlags: access }), mask: INIT_MASK });
  }

  /** A new QP on each side (RC unless asked), both in RTS and connected; B's QP grants `accessB` to A; A's signals every WR when `sqSigAllA`. */
  async connect(accessB: number, cap: R = DEFAULT_CAP, link: LinkAttrs = {}, sqSigAllA = false, qpType: 'RC' | 'STREAM' = 'RC'): Promise<ConnectedPair> {
    const [qa, qb] = [await this.createQp(this.a, 0, cap, sqSigAllA, qpType), await this.createQp(this.b, accessB, cap, false, qpType)];
    const pair = { qpA: qa.qp, qpB: qb.qp, qpNumA: qa.qpNum, qpNumB: qb.qpNum, capA: qa.cap };
    await this.join(pair, link);
    return pair;
  }

  /** Takes two QPs in INIT to RTS over a new TCP connection (after a RESET, the same QPs again). */
  async join(pair: ConnectedPair, link: LinkAttrs = {}): Promise<void> {
    const { accepted, connected } = await this.connection();
    const [ab, ba] = [link.psnAToB ?? 0, link.psnBToA ?? 0];
    const linkA = link.minRnrTimerForA === undefined ? link : { ...link, minRnrTimer: link.minRnrTimerForA };
    await this.up(this.a, pair.qpA, connected.socket, link.wrongDestQpNumForA === true ? (pair.qpNumB + 1) & 0xffffff : pair.qpNumB, linkA, { sqPsn: ab, rqPsn: ba });
    await this.up(this.b, pair.qpB, accepted.socket, pair.qpNumA, link, { sqPsn: ba, rqPsn: link.rqPsnForB ?? ab });
  }

  /**
   * A QP of A in RTS whose TCP connection B accepted and never gives to a QP: whatever A sends
   * meets silence (no ACK, no NAK), as from a peer that is gone without closing.
   */
  async connectSilent(cap: R = DEFAULT_CAP, link: LinkAttrs = {}): Promise<{ qp: string; qpNum: number; cap: R }> {
    const qa = await this.createQp(this.a, 0, cap);
    const { connected } = await this.connection();
    await this.up(this.a, qa.qp, connected.socket, 0x123, link, { sqPsn: 0, rqPsn: 0 });
    return qa;
  }

  /** A new TCP connection from A to B's listener: each side's socket handle. */
  private async connection(): Promise<{ accepted: R; connected: R }> {
    const [accepted, connected] = await Promise.all([
      this.b.iut.request('accept', { listener: this.listener }) as Promise<R>,
      this.a.iut.request('connect', { host: '127.0.0.1', port: this.port }) as Promise<R>,
    ]);
    return { accepted, connected };
  }

  private async up(e: Endpoint, qp: string, socket: unknown, destQpNum: number, link: LinkAttrs, psns: { sqPsn: number; rqPsn: number }): Promise<void> {
    const rtr = { ...attrValues('INIT', 'RTR', RTR_MASK, { destQpNum }), ahAttr: { socket }, rqPsn: psns.rqPsn, ...pick(link, ['minRnrTimer', 'maxDestRdAtomic']) };
    await e.iut.request('modifyQp', { qp, attr: rtr, mask: RTR_MASK });
    await e.iut.request('modifyQp', { qp, attr: { ...attrValues('RTR', 'RTS', RTS_MASK, { destQpNum }), sqPsn: psns.sqPsn, ...pick(link, ['timeout', 'retryCnt', 'rnrRetry']) }, mask: RTS_MASK });
  }

  /** Polls `e`'s CQ until `count` completions came or `ms` passed. */
  poll(e: Endpoint, count: number, ms = 3000): Promise<R[]> {
    return pollCqUntil(e.iut, e.cq, count, ms, (problem) => this.violations.push(problem));
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

function pick(link: LinkAttrs, keys: readonly (keyof LinkAttrs)[]): R {
  const out: R = {};
  for (const key of keys) if (link[key] !== undefined) out[key] = link[key];
  return out;
}

/** The events `iut` sent from index `from` on that match, waiting up to `ms` for the first. */
export async function eventsAfter(iut: AdapterClient, from: number, match: (event: R) => boolean, ms: number): Promise<R[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = iut.events.slice(from).filter(match);
    if (found.length > 0 || Date.now() >= deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
