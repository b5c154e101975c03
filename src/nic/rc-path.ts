import type { Transport, TransportCloseReason, TransportSink } from '../transport/types.js';
import { HELLO_BYTES, MAX_TERMINATE_TEXT, encodeHello, type FrameHeader, type Hello } from '../wire/frame.js';
import { closeGracefully } from './graceful-close.js';
import type { DataPath, NicQp } from './qp.js';
import { Requester } from './requester.js';
import { Responder } from './responder.js';
import { DISCARD, RxParser, type FrameHandler, type Placement } from './rx-parser.js';
import { TxBatch } from './tx-batch.js';

/** The decoder accepts any u32 payload length; the responder refuses what exceeds maxMessage with the IB error. */
const WIRE_MAX_PAYLOAD = 0xffff_ffff;

/** The longest UTF-8 prefix of `text` that fits `limit` bytes, cut at a character boundary. */
function utf8Prefix(text: string, limit: number): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  if (bytes.byteLength <= limit) return bytes;
  let end = limit;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * The RC data path of one QP (siw's qp_tx and qp_rx around a socket): the HELLO handshake, the
 * framed stream in both directions, the requester and the responder. Everything the peer sends
 * enters through `sink`, which turns any exception into a failure of this QP, never of the
 * process.
 */
export class RcPath implements DataPath, FrameHandler {
  transport: Transport | null = null;
  tx: TxBatch | null = null;
  private rx: RxParser | null = null;
  /** The peer's HELLO, once it arrived and named this pair of QPs. */
  peer: Hello | null = null;
  readonly requester: Requester;
  readonly responder: Responder;
  private psnAgreed = false;
  private cancelLinger: (() => void) | null = null;

  constructor(readonly qp: NicQp) {
    this.requester = new Requester(qp, this);
    this.responder = new Responder(qp, this);
  }

  get inFlight(): number {
    return this.qp.sq.inFlight;
  }

  // ---- negotiated limits (docs/wire.md §2: what the HELLO values mean) ----------------------

  /**
   * READ/atomic requests in flight: the minimum of our max_rd_atomic and the peer's
   * max_dest_rd_atomic, at least 1 (a responder with none NAKs the request, the IB error). Until
   * the peer's HELLO arrived its resources are unknown: 1, which any responder that takes READs at
   * all can hold; the HELLO's arrival pumps again.
   */
  get readCredits(): number {
    if (this.peer === null) return 1;
    return Math.max(1, Math.min(this.qp.attrs.maxRdAtomic, this.peer.maxDestRdAtomic));
  }

  /** The largest message the peer accepts (ours until its HELLO arrived; its responder enforces it anyway). */
  get peerMaxMessage(): number {
    return this.peer === null ? this.qp.services.maxMessage : this.peer.maxMessage;
  }

  // ---- DataPath --------------------------------------------------------------------------------

  attach(transport: Transport): void {
    if (this.transport !== null) throw new Error('RcPath invariant: a transport is already attached');
    const { qp } = this;
    this.transport = transport;
    qp.services.trackTransport(transport);
    this.tx = new TxBatch(transport, qp.services.counters, qp.services.clock, () => qp.fail({ kind: 'LOCAL_ERROR', fault: 'fatal', reason: 'the peer stopped reading: too many unwritten batches' }));
    this.responder.reset(qp.attrs.rqPsn);
    this.rx = new RxParser(this, qp.services.counters, WIRE_MAX_PAYLOAD, true);
    const hello = new Uint8Array(HELLO_BYTES);
    encodeHello({ srcQpn: qp.qpNum, destQpn: qp.attrs.destQpNum, rqPsn: qp.attrs.rqPsn, maxMessage: qp.services.maxMessage, maxDestRdAtomic: qp.attrs.maxDestRdAtomic }, hello);
    this.tx.raw(hello);
    this.tx.flush();
    // Bytes the socket buffered before the handover are read after the modify returns, so a
    // malformed HELLO fails the QP in RTR, not inside the modify call that is taking it there.
    const rx = this.rx;
    qp.services.clock.defer(() => {
      if (this.rx === rx) transport.start(this.sink(rx));
    });
  }

  startSending(): void {
    this.requester.reset(this.qp.attrs.sqPsn);
    // Checked after the modify returns, so that the consumer sees RTS and then the failure.
    this.qp.services.clock.defer(() => this.checkPsnAgreement());
  }

  transmit(): void {
    this.guard(() => this.requester.pump());
  }

  onRecvPosted(): void {
    // RC takes receives as requests arrive: nothing to do.
  }

  stopTimers(): void {
    this.requester.stopTimers();
  }

  /** ERR: the NAK (already queued) and the TERMINATE leave, then the stream closes gracefully. */
  shutdown(terminateReason: string | null): void {
    this.rx?.kill();
    const transport = this.transport;
    if (transport === null || transport.closed || this.cancelLinger !== null) return;
    // The next read may be lent to a posted receive or an MR range already: take it back, so
    // that bytes read while the stream drains land in the discard area.
    transport.retarget();
    if (terminateReason !== null && this.tx !== null) {
      const text = utf8Prefix(terminateReason, MAX_TERMINATE_TEXT);
      this.tx.frame({ opcode: 'TERMINATE', flags: 0, psn: 0, payloadLength: text.byteLength, reason: 1 }, [text]);
    }
    this.tx?.flush();
    this.cancelLinger = closeGracefully(transport, this.qp.services.clock);
  }

  detach(): void {
    this.rx?.kill();
    this.rx = null;
    this.stopLinger();
    const transport = this.transport;
    this.transport = null;
    this.tx = null;
    this.peer = null;
    this.psnAgreed = false;
    if (transport !== null) {
      transport.close();
      this.qp.services.retireTransport(transport);
    }
  }

  // ---- the receive stream ------------------------------------------------------------------------

  /** The transport's view of the parser: an exception in our code fails this QP only. */
  private sink(rx: RxParser): TransportSink {
    return {
      nextReadTarget: () => {
        try {
          return rx.nextReadTarget();
        } catch (error) {
          this.internalError(error);
          return rx.nextReadTarget();
        }
      },
      onBytes: (count) => this.guard(() => rx.onBytes(count)),
      // A transport detached by RESET may report its close after a new one was attached.
      onClose: (reason) => {
        if (this.rx === rx) this.guard(() => rx.onClose(reason));
      },
    };
  }

  /** Runs `body`; an exception (a bug of ours, never a peer's input) fails this QP with its message. */
  guard(body: () => void): void {
    try {
      body();
    } catch (error) {
      this.internalError(error);
    }
  }

  private internalError(error: unknown): void {
    this.rx?.kill();
    this.transport?.retarget();
    this.qp.fail({ kind: 'LOCAL_ERROR', fault: 'fatal', reason: `internal error: ${describe(error)}` });
  }

  onHello(hello: Hello): void {
    const { qp } = this;
    if (hello.srcQpn !== qp.attrs.destQpNum || hello.destQpn !== qp.qpNum) {
      qp.fail({ kind: 'LOCAL_ERROR', fault: 'fatal', reason: `peer is QP ${hello.srcQpn} talking to QP ${hello.destQpn}; expected QP ${qp.attrs.destQpNum} talking to QP ${qp.qpNum}` });
      return;
    }
    this.peer = hello;
    this.checkPsnAgreement();
    // The peer's credits are known now: READs held back for them may go.
    if (qp.state === 'RTS') this.requester.pump();
  }

  /** Our sq_psn must be the PSN the peer's responder expects (its rq_psn, from its HELLO). */
  private checkPsnAgreement(): void {
    const { qp, peer } = this;
    // RTS and SQD are reached only through RTR→RTS, where startSending ran.
    if (this.psnAgreed || peer === null || (qp.state !== 'RTS' && qp.state !== 'SQD')) return;
    if (peer.rqPsn !== qp.attrs.sqPsn) {
      qp.fail({ kind: 'LOCAL_ERROR', fault: 'fatal', reason: `PSN mismatch: this QP sends from PSN ${qp.attrs.sqPsn} (sq_psn) but the peer expects PSN ${peer.rqPsn} (its rq_psn)` });
      return;
    }
    this.psnAgreed = true;
  }

  onHeader(header: FrameHeader): Placement {
    const { qp } = this;
    if (qp.state === 'ERR' || qp.state === 'RESET') return DISCARD;
    switch (header.opcode) {
      case 'ACK':
      case 'NAK':
      case 'RDMA_READ_RESPONSE':
      case 'ATOMIC_RESPONSE':
        return this.requester.onResponse(header);
      case 'TERMINATE':
        return {
          kind: 'text',
          done: (text) => qp.fail({ kind: 'CONNECTION_LOST', reason: `the peer terminated the connection: ${text || 'no reason given'}` }),
        };
      default:
        return this.responder.onRequest(header);
    }
  }

  onMalformed(reason: string): void {
    this.qp.fail({ kind: 'LOCAL_ERROR', fault: 'invalid-request', reason: `malformed stream from the peer: ${reason}` });
  }

  onClose(reason: TransportCloseReason): void {
    this.stopLinger();
    if (this.transport !== null) this.qp.services.retireTransport(this.transport);
    if (reason.kind === 'local') return;
    const why = reason.kind === 'peer-closed' ? 'the peer closed the connection' : `the connection failed: ${reason.message}`;
    this.qp.fail({ kind: 'CONNECTION_LOST', reason: why });
  }

  private stopLinger(): void {
    this.cancelLinger?.();
    this.cancelLinger = null;
  }
}
