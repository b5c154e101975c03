import { Access } from '../abi/constants.js';
import { FrameFlag, psnAdd, psnDistance, type FrameHeader, type NakCodeName } from '../wire/frame.js';
import type { Registration, RemoteOp } from './memory.js';
import type { NicQp } from './qp.js';
import type { RcPath } from './rc-path.js';
import { DISCARD, type Placement } from './rx-parser.js';
import { LastResolution, resolveSglAgain, sglCapacity } from './sgl.js';

type RequestHeader = Exclude<FrameHeader, { opcode: 'ACK' | 'NAK' | 'RDMA_READ_RESPONSE' | 'ATOMIC_RESPONSE' | 'TERMINATE' }>;

/** The states in which a QP's responder takes requests (a switch: a Set lookup per frame measured ~3 % of the receive path). */
function receiving(state: string): boolean {
  switch (state) {
    case 'RTR':
    case 'RTS':
    case 'SQD':
    case 'SQE':
      return true;
    default:
      return false;
  }
}

/**
 * rxe's responder: checks each request against the PSN sequence, the negotiated limits, the
 * posted receives and the MR table before a payload byte is read, then points the read at the
 * final place. Errors are NAKed with the IB class the kernel uses and fail this QP too.
 */
export class Responder {
  private expectedPsn = 0;
  /** After a NAK the requester rewinds: requests until the NAKed PSN comes again are dropped. */
  private dropping = false;
  /**
   * Where the payload of the SEND or WRITE being read goes. The parser reads one payload at a
   * time and lets go of its placement at `done`, so one object serves every request of the QP
   * (no object or closure per message); `placed` says what `done` completes.
   */
  private readonly placing: { kind: 'place'; segments: readonly Uint8Array[]; regions: readonly Registration[]; done: () => void };
  private readonly placed = { psn: 0, length: 0, recv: null as 'RECV' | 'RECV_RDMA_WITH_IMM' | null, immData: undefined as number | undefined, solicited: false };
  /** The receive list resolved last (perftest reposts one list object). */
  private readonly lastResolution = new LastResolution();
  /** The one segment and region of a WRITE: an RDMA target is one contiguous MR range. */
  private readonly writeSegment: Uint8Array[] = [];
  private readonly writeRegion: Registration[] = [];

  constructor(private readonly qp: NicQp, private readonly path: RcPath) {
    this.placing = { kind: 'place', segments: this.writeSegment, regions: this.writeRegion, done: () => this.finishPlaced() };
  }

  reset(rqPsn: number): void {
    this.lastResolution.clear();
    this.expectedPsn = rqPsn;
    this.dropping = false;
  }

  onRequest(header: FrameHeader): Placement {
    const request = header as RequestHeader;
    const { qp } = this;
    if (this.path.peer === null) return this.fatal('invalid-request', `${request.opcode} before the peer's hello`);
    if (!receiving(qp.state)) return this.fatal('invalid-request', `${request.opcode} while the QP is ${qp.state}`);
    const distance = psnDistance(this.expectedPsn, request.psn);
    if (distance !== 0) {
      if (this.dropping && distance > 0) return DISCARD;
      if (distance < 0) {
        // A duplicate: acknowledge again what was already done (IB's duplicate handling).
        this.path.tx?.ack(psnAdd(this.expectedPsn, 0xffffff), 0);
        return DISCARD;
      }
      this.nak('PSN_SEQUENCE_ERROR', this.expectedPsn);
      this.dropping = true;
      return DISCARD;
    }
    this.dropping = false;
    const tooLong = this.exceedsMaxMessage(request);
    if (tooLong !== null) {
      this.nak('INVALID_REQUEST', request.psn);
      return this.fatal('invalid-request', tooLong, false);
    }
    switch (request.opcode) {
      case 'SEND':
      case 'SEND_WITH_IMM':
        return this.onSend(request);
      case 'RDMA_WRITE':
      case 'RDMA_WRITE_WITH_IMM':
        return this.onWrite(request);
      case 'RDMA_READ_REQUEST':
        return this.onRead(request);
      case 'ATOMIC_CMP_AND_SWP':
      case 'ATOMIC_FETCH_AND_ADD':
        return this.onAtomic(request);
    }
  }

  private onSend(request: Extract<RequestHeader, { opcode: 'SEND' | 'SEND_WITH_IMM' }>): Placement {
    const { qp } = this;
    const wqe = qp.rq.peek();
    if (wqe === undefined) return this.receiverNotReady(request.psn);
    const capacity = sglCapacity(wqe.sgList);
    const immData = request.opcode === 'SEND_WITH_IMM' ? request.immData : undefined;
    const solicited = (request.flags & FrameFlag.SOLICITED) !== 0;
    if (request.payloadLength > capacity) {
      qp.completer.completeRecv('LOC_LEN_ERR', 0, 'RECV', undefined, solicited);
      this.nak('INVALID_REQUEST', request.psn);
      return this.fatal('invalid-request', `a ${request.payloadLength}-byte SEND does not fit the posted receive of ${capacity} bytes`, false);
    }
    // The head receive's SGEs are checked now (at use, as hardware does) and cut to the payload.
    const resolved = resolveSglAgain(this.lastResolution, qp.services.memory, qp.init.pdHandle, wqe.sgList, 'write', request.payloadLength);
    if (!resolved.ok) {
      qp.completer.completeRecv('LOC_PROT_ERR', 0, 'RECV', undefined, solicited);
      this.nak('REMOTE_OPERATIONAL_ERROR', request.psn);
      return this.fatal('fatal', `receive WR ${wqe.wrId}: ${resolved.reason}`, false);
    }
    qp.services.observer?.started?.(qp.qpNum, 'recv', wqe.wrId);
    return this.place(resolved.views, resolved.regions, request.psn, request.payloadLength, 'RECV', immData, solicited);
  }

  private place(segments: readonly Uint8Array[], regions: readonly Registration[], psn: number, length: number, recv: 'RECV' | 'RECV_RDMA_WITH_IMM' | null, immData: number | undefined, solicited: boolean): Placement {
    const { placing, placed } = this;
    placing.segments = segments;
    placing.regions = regions;
    placed.psn = psn;
    placed.length = length;
    placed.recv = recv;
    placed.immData = immData;
    placed.solicited = solicited;
    return placing;
  }

  private finishPlaced(): void {
    const { psn, length, recv, immData, solicited } = this.placed;
    if (recv !== null) this.qp.completer.completeRecv('SUCCESS', length, recv, immData, solicited);
    this.accepted(psn, length);
  }

  /** A message larger than this end's maxMessage (announced in its HELLO) is an invalid request. */
  private exceedsMaxMessage(request: RequestHeader): string | null {
    const limit = this.qp.services.maxMessage;
    const length = request.opcode === 'RDMA_READ_REQUEST' ? request.length : request.payloadLength;
    return length > limit ? `${request.opcode}: payload of ${length} bytes exceeds the limit of ${limit} bytes (maxMessage)` : null;
  }

  private onWrite(request: Extract<RequestHeader, { opcode: 'RDMA_WRITE' | 'RDMA_WRITE_WITH_IMM' }>): Placement {
    const { qp } = this;
    const withImm = request.opcode === 'RDMA_WRITE_WITH_IMM';
    // The immediate consumes a receive: with none posted nothing may be placed yet.
    if (withImm && qp.rq.length === 0) return this.receiverNotReady(request.psn);
    const target = this.remote(request.remoteAddr, request.rkey, request.payloadLength, 'write', request.psn);
    if (target === null) return DISCARD;
    const solicited = (request.flags & FrameFlag.SOLICITED) !== 0;
    if (withImm) qp.services.observer?.started?.(qp.qpNum, 'recv', qp.rq.peek()!.wrId);
    this.writeSegment[0] = target.view;
    this.writeRegion[0] = target.region;
    return this.place(this.writeSegment, this.writeRegion, request.psn, request.payloadLength, withImm ? 'RECV_RDMA_WITH_IMM' : null, withImm ? (request.immData ?? 0) : undefined, solicited);
  }

  private onRead(request: Extract<RequestHeader, { opcode: 'RDMA_READ_REQUEST' }>): Placement {
    if (this.noReadCredits(request.psn)) return DISCARD;
    const source = this.remote(request.remoteAddr, request.rkey, request.length, 'read', request.psn);
    if (source === null) return DISCARD;
    this.expectedPsn = psnAdd(this.expectedPsn, 1);
    // Zero copy: the response's payload is a view of the MR, read by the kernel at send time.
    this.path.tx?.frame({ opcode: 'RDMA_READ_RESPONSE', flags: 0, psn: request.psn, payloadLength: request.length }, [source.view]);
    this.path.tx?.flushSoon();
    return DISCARD;
  }

  private onAtomic(request: Extract<RequestHeader, { opcode: 'ATOMIC_CMP_AND_SWP' | 'ATOMIC_FETCH_AND_ADD' }>): Placement {
    if (this.noReadCredits(request.psn)) return DISCARD;
    const target = this.remote(request.remoteAddr, request.rkey, 8, 'atomic', request.psn);
    if (target === null) return DISCARD;
    // The event loop makes this read-modify-write atomic with respect to every other QP.
    const word = new DataView(target.view.buffer, target.view.byteOffset, 8);
    const original = word.getBigUint64(0, true);
    if (request.opcode === 'ATOMIC_CMP_AND_SWP') {
      if (original === request.compareAdd) word.setBigUint64(0, request.swap, true);
    } else {
      word.setBigUint64(0, BigInt.asUintN(64, original + request.compareAdd), true);
    }
    this.expectedPsn = psnAdd(this.expectedPsn, 1);
    this.path.tx?.frame({ opcode: 'ATOMIC_RESPONSE', flags: 0, psn: request.psn, payloadLength: 0, original });
    this.path.tx?.flushSoon();
    return DISCARD;
  }

  /**
   * max_dest_rd_atomic 0 (announced in the HELLO) means this responder takes no READ or atomic at
   * all, as rxe's check_resource does. Requests within the credits are answered as they arrive,
   * so a responder never holds more than one.
   */
  private noReadCredits(psn: number): boolean {
    if (this.qp.attrs.maxDestRdAtomic > 0) return false;
    this.nak('INVALID_REQUEST', psn);
    this.fatal('invalid-request', 'READ or atomic request, but this QP has max_dest_rd_atomic 0', false);
    return true;
  }

  /** Checks QP access flags and the MR table; on refusal NAKs and fails the QP. */
  private remote(addr: number, rkey: number, length: number, op: RemoteOp, psn: number): { view: Uint8Array; region: Registration } | null {
    const { qp } = this;
    const qpFlag = op === 'read' ? Access.REMOTE_READ : op === 'write' ? Access.REMOTE_WRITE : Access.REMOTE_ATOMIC;
    if ((qp.attrs.accessFlags & qpFlag) === 0) {
      this.nak('REMOTE_ACCESS_ERROR', psn);
      this.fatal('access', `remote ${op} refused: the QP's access flags do not allow it`, false);
      return null;
    }
    const check = qp.services.memory.checkRemote(qp.init.pdHandle, rkey, addr, length, op);
    if (!check.ok) {
      const invalid = check.status === 'REM_INV_REQ_ERR';
      this.nak(invalid ? 'INVALID_REQUEST' : 'REMOTE_ACCESS_ERROR', psn);
      this.fatal(invalid ? 'invalid-request' : 'access', `remote ${op} refused: ${check.reason}`, false);
      return null;
    }
    return { view: check.view, region: check.region };
  }

  private receiverNotReady(psn: number): Placement {
    this.nak('RNR', psn);
    this.dropping = true;
    return DISCARD;
  }

  private accepted(psn: number, payloadBytes: number): void {
    this.expectedPsn = psnAdd(psn, 1);
    this.path.tx?.ack(psn, payloadBytes);
  }

  private nak(code: NakCodeName, psn: number): void {
    const rnrTimer = code === 'RNR' ? this.qp.attrs.minRnrTimer : 0;
    this.path.tx?.frame({ opcode: 'NAK', flags: 0, psn, payloadLength: 0, code, rnrTimer });
    this.path.tx?.flush();
  }

  private fatal(fault: 'access' | 'invalid-request' | 'fatal', reason: string, nakFirst = true): Placement {
    if (nakFirst) this.nak('INVALID_REQUEST', this.expectedPsn);
    this.qp.fail({ kind: 'LOCAL_ERROR', fault, reason });
    return DISCARD;
  }
}
