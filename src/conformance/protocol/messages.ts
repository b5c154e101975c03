import { ADAPTER_LIMITS, DEVICE_LIMITS } from '../../abi/limits.js';
import { s, type Schema } from './schema.js';

/**
 * The adapter protocol, version 1 (docs/adapter.md): every operation with its arguments and its
 * result, as schemas the kit checks every reply against. The names and shapes follow the verbs
 * API (../shared/API.md §1); objects are opaque handle strings chosen by the adapter; u64 values
 * are decimal strings; bytes are base64.
 */
export const PROTOCOL_VERSION = 1;

const U32 = 0xffff_ffff;
const BATCH = ADAPTER_LIMITS.maxBatch;
const QP_STATE = s.enum(['RESET', 'INIT', 'RTR', 'RTS', 'SQD', 'SQE', 'ERR']);
const QP_TYPE = s.enum(['RC', 'STREAM']);
const WR_OPCODE = s.enum(['SEND', 'SEND_WITH_IMM', 'RDMA_WRITE', 'RDMA_WRITE_WITH_IMM', 'RDMA_READ', 'ATOMIC_CMP_AND_SWP', 'ATOMIC_FETCH_AND_ADD']);
const WC_STATUS = s.enum(['SUCCESS', 'LOC_LEN_ERR', 'LOC_QP_OP_ERR', 'LOC_PROT_ERR', 'WR_FLUSH_ERR', 'REM_INV_REQ_ERR', 'REM_ACCESS_ERR', 'REM_OP_ERR', 'RETRY_EXC_ERR', 'RNR_RETRY_EXC_ERR', 'FATAL_ERR', 'GENERAL_ERR']);
const WC_OPCODE = s.enum(['SEND', 'RDMA_WRITE', 'RDMA_READ', 'COMP_SWAP', 'FETCH_ADD', 'RECV', 'RECV_RDMA_WITH_IMM']);
export const ASYNC_EVENT_TYPES = ['QP_FATAL', 'QP_REQ_ERR', 'QP_ACCESS_ERR', 'COMM_EST', 'SQ_DRAINED', 'PATH_MIG', 'PATH_MIG_ERR', 'CQ_ERR', 'QP_LAST_WQE_REACHED', 'DEVICE_FATAL', 'PORT_ACTIVE', 'PORT_ERR'] as const;
const ADDR = s.int(0, Number.MAX_SAFE_INTEGER, 'virtual address');
const SGE = s.obj({ addr: ADDR, length: s.int(0, U32), lkey: s.int(0, U32) });
const CAP = s.obj({ maxSendWr: s.int(0, DEVICE_LIMITS.maxQpWr * 16), maxRecvWr: s.int(0, DEVICE_LIMITS.maxQpWr * 16), maxSendSge: s.int(0, 1024), maxRecvSge: s.int(0, 1024), maxInlineData: s.int(0, 1 << 20) }, ['maxSendWr', 'maxRecvWr']);
const EMPTY = s.obj({});

const SEND_WR = s.obj({
  wrId: s.u64('wr_id'),
  opcode: WR_OPCODE,
  sendFlags: s.int(0, U32, 'IBV_SEND_* bits'),
  sgList: s.arr(SGE, 1024),
  immData: s.int(0, U32),
  rdma: s.obj({ remoteAddr: ADDR, rkey: s.int(0, U32) }),
  atomic: s.obj({ remoteAddr: ADDR, rkey: s.int(0, U32), compareAdd: s.u64(), swap: s.u64() }),
}, ['wrId', 'opcode']);
const RECV_WR = s.obj({ wrId: s.u64('wr_id'), sgList: s.arr(SGE, 1024) }, ['wrId']);

const WC = s.obj({
  wrId: s.u64('wr_id'), status: WC_STATUS, opcode: WC_OPCODE, byteLen: s.int(0, U32), immData: s.int(0, U32),
  qpNum: s.int(0, 0xffffff), wcFlags: s.int(0, U32), vendorErr: s.int(0, U32),
}, ['wrId', 'status', 'opcode', 'byteLen', 'qpNum', 'wcFlags']);

/** The attributes of a modify; the u8 fields take any u8 (struct ibv_qp_attr), so the IUT judges the value. */
const QP_ATTR = s.obj({
  qpState: QP_STATE, curQpState: QP_STATE, enSqdAsyncNotify: s.bool(), qpAccessFlags: s.int(0, U32), pkeyIndex: s.int(0, 0xffff),
  portNum: s.int(0, 255), qkey: s.int(0, U32), ahAttr: s.obj({ socket: s.handle('connected socket') }), pathMtu: s.int(0, 65536),
  timeout: s.int(0, 255), retryCnt: s.int(0, 255), rnrRetry: s.int(0, 255), rqPsn: s.int(0, 0xffffff), maxRdAtomic: s.int(0, 255),
  minRnrTimer: s.int(0, 255), sqPsn: s.int(0, 0xffffff), maxDestRdAtomic: s.int(0, 255), destQpNum: s.int(0, 0xffffff),
}, []);

const QUERIED_QP = s.openObj({ qpState: QP_STATE }, ['qpState']);

export interface OpDefinition {
  /** One line for the table in docs/adapter.md. */
  readonly summary: string;
  readonly args: Schema;
  readonly result: Schema;
}

/** Every operation of protocol version 1. */
export const OPS = {
  hello: {
    summary: 'first request: the kit\'s protocol version; the reply names the implementation and what it claims',
    args: s.obj({ protocol: s.int(1, 1000) }),
    result: s.obj({
      name: s.str('the implementation, e.g. "tcpverbs reference 0.1.0"'),
      protocolVersion: s.int(1, 1000),
      capabilities: s.obj({
        qpTypes: s.arr(QP_TYPE, 2),
        opcodes: s.arr(WR_OPCODE, 7),
        features: s.arr(s.str(), 64, 'e.g. completion-channel, inline, sqd, atomics, srq'),
        limits: s.openObj({ maxQpWr: s.int(1, U32), maxSge: s.int(1, U32), maxCqe: s.int(1, U32), maxMrSize: s.int(1, Number.MAX_SAFE_INTEGER), maxInlineData: s.int(0, U32), maxQpRdAtom: s.int(0, 255) }),
      }),
    }),
  },
  openDevice: { summary: 'ibv_open_device (the default device when name is absent)', args: s.obj({ name: s.str() }, []), result: s.obj({ context: s.handle('context') }) },
  closeDevice: { summary: 'ibv_close_device: closes every connection of the context', args: s.obj({ context: s.handle('context') }), result: EMPTY },
  queryDevice: { summary: 'ibv_query_device', args: s.obj({ context: s.handle('context') }), result: s.openObj({ maxQp: s.int(0, U32), maxQpWr: s.int(0, U32), maxSge: s.int(0, U32), maxCqe: s.int(0, U32), maxMr: s.int(0, U32) }) },
  queryPort: { summary: 'ibv_query_port', args: s.obj({ context: s.handle('context'), portNum: s.int(0, 255) }), result: s.openObj({ state: s.str() }) },
  allocPd: { summary: 'ibv_alloc_pd', args: s.obj({ context: s.handle('context') }), result: s.obj({ pd: s.handle('PD') }) },
  deallocPd: { summary: 'ibv_dealloc_pd (EBUSY while MRs or QPs use it)', args: s.obj({ pd: s.handle('PD') }), result: EMPTY },
  regMr: {
    summary: 'ibv_reg_mr over `length` zeroed bytes the adapter allocates',
    args: s.obj({ pd: s.handle('PD'), length: s.int(0, Number.MAX_SAFE_INTEGER), access: s.int(0, U32, 'IBV_ACCESS_* bits') }),
    result: s.obj({ mr: s.handle('MR'), lkey: s.int(0, U32), rkey: s.int(0, U32), addr: ADDR, length: s.int(0, Number.MAX_SAFE_INTEGER) }),
  },
  deregMr: { summary: 'ibv_dereg_mr: the keys die', args: s.obj({ mr: s.handle('MR') }), result: EMPTY },
  writeMr: { summary: 'the process writes its registered memory', args: s.obj({ mr: s.handle('MR'), offset: s.int(0, Number.MAX_SAFE_INTEGER), data: s.bytes(ADAPTER_LIMITS.maxTransferBytes) }), result: EMPTY },
  readMr: { summary: 'the process reads its registered memory', args: s.obj({ mr: s.handle('MR'), offset: s.int(0, Number.MAX_SAFE_INTEGER), length: s.int(0, ADAPTER_LIMITS.maxTransferBytes) }), result: s.obj({ data: s.bytes(ADAPTER_LIMITS.maxTransferBytes) }) },
  createCompChannel: { summary: 'ibv_create_comp_channel', args: s.obj({ context: s.handle('context') }), result: s.obj({ channel: s.handle('completion channel') }) },
  destroyCompChannel: { summary: 'ibv_destroy_comp_channel (EBUSY while CQs use it)', args: s.obj({ channel: s.handle('completion channel') }), result: EMPTY },
  createCq: {
    summary: 'ibv_create_cq; the reply\'s cqe is at least the requested',
    args: s.obj({ context: s.handle('context'), cqe: s.int(0, U32), channel: s.handle('completion channel') }, ['context', 'cqe']),
    result: s.obj({ cq: s.handle('CQ'), cqe: s.int(1, U32) }),
  },
  destroyCq: { summary: 'ibv_destroy_cq (EBUSY while QPs use it)', args: s.obj({ cq: s.handle('CQ') }), result: EMPTY },
  pollCq: { summary: 'ibv_poll_cq: up to max completions, oldest first', args: s.obj({ cq: s.handle('CQ'), max: s.int(0, BATCH) }), result: s.obj({ wcs: s.arr(WC, BATCH) }) },
  reqNotifyCq: { summary: 'ibv_req_notify_cq: the next (solicited) completion sends a cqEvent', args: s.obj({ cq: s.handle('CQ'), solicitedOnly: s.bool() }), result: EMPTY },
  ackCqEvents: { summary: 'ibv_ack_cq_events', args: s.obj({ cq: s.handle('CQ'), count: s.int(0, U32) }), result: EMPTY },
  createQp: {
    summary: 'ibv_create_qp; the reply\'s caps are at least the requested',
    args: s.obj({ pd: s.handle('PD'), qpType: QP_TYPE, sendCq: s.handle('CQ'), recvCq: s.handle('CQ'), sqSigAll: s.bool(), cap: CAP }, ['pd', 'qpType', 'sendCq', 'recvCq', 'cap']),
    result: s.obj({ qp: s.handle('QP'), qpNum: s.int(0, 0xffffff), cap: CAP }),
  },
  modifyQp: { summary: 'ibv_modify_qp; ahAttr.socket is a handle from connect/accept', args: s.obj({ qp: s.handle('QP'), attr: QP_ATTR, mask: s.int(0, U32, 'IBV_QP_* bits') }), result: EMPTY },
  queryQp: { summary: 'ibv_query_qp', args: s.obj({ qp: s.handle('QP') }), result: QUERIED_QP },
  destroyQp: { summary: 'ibv_destroy_qp', args: s.obj({ qp: s.handle('QP') }), result: EMPTY },
  postSend: { summary: 'ibv_post_send; a refusal carries badWr, the WRs before it stay posted', args: s.obj({ qp: s.handle('QP'), wrs: s.arr(SEND_WR, BATCH) }), result: EMPTY },
  postRecv: { summary: 'ibv_post_recv, with postSend\'s rules', args: s.obj({ qp: s.handle('QP'), wrs: s.arr(RECV_WR, BATCH) }), result: EMPTY },
  listen: { summary: 'a TCP listener on 127.0.0.1 (port 0: any free port)', args: s.obj({ port: s.int(0, 65535) }, []), result: s.obj({ listener: s.handle('listener'), port: s.int(1, 65535) }) },
  accept: { summary: 'the next connection of a listener (waits for it)', args: s.obj({ listener: s.handle('listener') }), result: s.obj({ socket: s.handle('connected socket') }) },
  connect: { summary: 'a TCP connection (waits until connected)', args: s.obj({ host: s.str(), port: s.int(1, 65535) }), result: s.obj({ socket: s.handle('connected socket') }) },
  closeListener: { summary: 'stops listening', args: s.obj({ listener: s.handle('listener') }), result: EMPTY },
  exit: { summary: 'last request: the adapter replies, then exits with status 0', args: EMPTY, result: EMPTY },
} as const satisfies Record<string, OpDefinition>;

export type OpName = keyof typeof OPS;
export const OP_NAMES = Object.keys(OPS) as OpName[];

/** `{"errno": ..., "message": ...}` (plus `badWr` for posts). */
export const ERROR = s.obj({ errno: s.str('EINVAL, ENOMEM, EBUSY, EPERM, ENOTCONN, EOPNOTSUPP, ENODEV, EAGAIN, ENOSYS, EPROTO, ...'), message: s.str(), badWr: s.int(0, BATCH) }, ['errno', 'message']);

export const REQUEST = s.obj({ id: s.int(1, Number.MAX_SAFE_INTEGER), op: s.enum(OP_NAMES), args: s.openObj({}, []) });
/** A reply: the request's id and a result, or an error; `id` null for a line that was not a request. */
export const REPLY = s.anyOf(
  s.obj({ id: s.int(1, Number.MAX_SAFE_INTEGER), result: s.openObj({}, []) }),
  s.obj({ id: s.anyOf(s.int(1, Number.MAX_SAFE_INTEGER), s.null()), error: ERROR }),
);
/** Unsolicited lines: a completion-channel event, or an async event of a context. */
export const EVENT = s.obj({
  event: s.anyOf(
    s.obj({ type: s.enum(['cqEvent']), channel: s.handle('completion channel'), cq: s.handle('CQ') }),
    s.obj({ type: s.enum(['asyncEvent']), context: s.handle('context'), event: s.enum(ASYNC_EVENT_TYPES), qpNum: s.int(0, 0xffffff), cq: s.handle('CQ'), reason: s.str() }, ['type', 'context', 'event']),
  ),
});
