export type QpState = 'RESET' | 'INIT' | 'RTR' | 'RTS' | 'SQD' | 'SQE' | 'ERR';
export type QpType = 'RC' | 'STREAM';

export type WrOpcode =
  | 'SEND' | 'SEND_WITH_IMM' | 'RDMA_WRITE' | 'RDMA_WRITE_WITH_IMM' | 'RDMA_READ'
  | 'ATOMIC_CMP_AND_SWP' | 'ATOMIC_FETCH_AND_ADD';

export type WcStatus =
  | 'SUCCESS' | 'LOC_LEN_ERR' | 'LOC_QP_OP_ERR' | 'LOC_PROT_ERR' | 'WR_FLUSH_ERR' | 'REM_INV_REQ_ERR'
  | 'REM_ACCESS_ERR' | 'REM_OP_ERR' | 'RETRY_EXC_ERR' | 'RNR_RETRY_EXC_ERR' | 'FATAL_ERR' | 'GENERAL_ERR';

export type WcOpcode = 'SEND' | 'RDMA_WRITE' | 'RDMA_READ' | 'COMP_SWAP' | 'FETCH_ADD' | 'RECV' | 'RECV_RDMA_WITH_IMM';

export interface Sge {
  addr: number;
  length: number;
  lkey: number;
}

export interface SendWr {
  wrId: bigint;
  opcode: WrOpcode;
  sendFlags?: number;
  sgList?: readonly Sge[];
  immData?: number;
  rdma?: { remoteAddr: number; rkey: number };
  atomic?: { remoteAddr: number; rkey: number; compareAdd: bigint; swap: bigint };
}

export interface RecvWr {
  wrId: bigint;
  sgList?: readonly Sge[];
}

export interface WorkCompletion {
  wrId: bigint;
  status: WcStatus;
  opcode: WcOpcode;
  byteLen: number;
  immData?: number;
  qpNum: number;
  wcFlags: number;
  vendorErr: number;
}

export interface QpCap {
  maxSendWr: number;
  maxRecvWr: number;
  maxSendSge: number;
  maxRecvSge: number;
  maxInlineData: number;
}

export interface AhAttr {
  /** The connected TCP socket; from RTR on the stack owns it. */
  socket: import('node:net').Socket;
}

/** ibv_qp_attr: every field optional; the mask says which ones a modify applies. */
export interface QpAttr {
  qpState?: QpState;
  curQpState?: QpState;
  enSqdAsyncNotify?: boolean;
  qpAccessFlags?: number;
  pkeyIndex?: number;
  portNum?: number;
  qkey?: number;
  ahAttr?: AhAttr;
  pathMtu?: number;
  timeout?: number;
  retryCnt?: number;
  rnrRetry?: number;
  rqPsn?: number;
  maxRdAtomic?: number;
  altAhAttr?: unknown;
  minRnrTimer?: number;
  sqPsn?: number;
  maxDestRdAtomic?: number;
  pathMigState?: 'MIGRATED' | 'REARM' | 'ARMED';
  cap?: QpCap;
  destQpNum?: number;
  rateLimit?: number;
}

export interface DeviceAttr {
  fwVer: string;
  nodeGuid: bigint;
  vendorId: number;
  vendorPartId: number;
  hwVer: number;
  maxQp: number;
  maxQpWr: number;
  maxSge: number;
  maxCq: number;
  maxCqe: number;
  maxMr: number;
  maxMrSize: number;
  maxPd: number;
  maxQpRdAtom: number;
  maxQpInitRdAtom: number;
  atomicCap: 'NONE' | 'HCA' | 'GLOB';
  maxInlineData: number;
  maxMsgSize: number;
  physPortCnt: number;
}

export interface PortAttr {
  state: 'DOWN' | 'INIT' | 'ARMED' | 'ACTIVE';
  maxMtu: number;
  activeMtu: number;
  gidTblLen: number;
  pkeyTblLen: number;
  linkLayer: 'ETHERNET';
  maxMsgSz: number;
}

export type AsyncEventType =
  | 'QP_FATAL' | 'QP_REQ_ERR' | 'QP_ACCESS_ERR' | 'COMM_EST' | 'SQ_DRAINED' | 'PATH_MIG' | 'PATH_MIG_ERR'
  | 'CQ_ERR' | 'QP_LAST_WQE_REACHED' | 'DEVICE_FATAL' | 'PORT_ACTIVE' | 'PORT_ERR';

export interface AsyncEvent {
  type: AsyncEventType;
  qp?: { qpNum: number };
  cq?: object;
  /** Why, in words (not in libibverbs; added so that a failure explains itself). */
  reason?: string;
}

/** What the data path counts (DESIGN.md §5). */
export interface Counters {
  /** Payload bytes the stack copied in user space on receive (the target is 0). */
  rxPayloadBytesCopied: number;
  /** Payload bytes copied in user space on transmit (inline data only: libibverbs copies it at post). */
  txPayloadBytesCopied: number;
  /** writev batches handed to the kernel. */
  writeSyscalls: number;
  /** read() completions delivered by the kernel. */
  readCallbacks: number;
  framesSent: number;
  framesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Payload bytes received and thrown away (RNR, protocol errors). */
  bytesDiscarded: number;
  doorbells: number;
}
