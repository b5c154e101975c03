// Two RC QPs in one process, connected over a loopback TCP socket: a SEND and an RDMA_WRITE.
import net from 'node:net';
import { openDevice, Access, QpAttrMask as M, SendFlags } from 'tcpverbs';

function endpoint() {
  const ctx = openDevice();
  const pd = ctx.allocPd();
  const mr = pd.regMr(new Uint8Array(4096), Access.LOCAL_WRITE | Access.REMOTE_WRITE);
  const cq = ctx.createCq(16);
  const qp = pd.createQp({ qpType: 'RC', sendCq: cq, recvCq: cq,
    cap: { maxSendWr: 16, maxRecvWr: 16, maxSendSge: 1, maxRecvSge: 1 } });
  qp.modify({ qpState: 'INIT', pkeyIndex: 0, portNum: 1, qpAccessFlags: Access.REMOTE_WRITE },
    M.STATE | M.PKEY_INDEX | M.PORT | M.ACCESS_FLAGS);
  return { ctx, mr, cq, qp };
}

// The control path is ordinary sockets: connect, then hand the socket to the QP at RTR.
const server = net.createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
const socketA = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
await new Promise((resolve) => socketA.once('connect', resolve));
const socketB = await accepted;

const a = endpoint();
const b = endpoint();
for (const [me, peer, socket] of [[a, b, socketA], [b, a, socketB]] as const) {
  me.qp.modify({ qpState: 'RTR', ahAttr: { socket }, pathMtu: 4096, destQpNum: peer.qp.qpNum, rqPsn: 0,
    maxDestRdAtomic: 1, minRnrTimer: 12 },
    M.STATE | M.AV | M.PATH_MTU | M.DEST_QPN | M.RQ_PSN | M.MAX_DEST_RD_ATOMIC | M.MIN_RNR_TIMER);
  me.qp.modify({ qpState: 'RTS', sqPsn: 0, timeout: 14, retryCnt: 7, rnrRetry: 7, maxRdAtomic: 1 },
    M.STATE | M.SQ_PSN | M.TIMEOUT | M.RETRY_CNT | M.RNR_RETRY | M.MAX_QP_RD_ATOMIC);
}

b.qp.postRecv({ wrId: 1n, sgList: [{ addr: b.mr.addr, length: 64, lkey: b.mr.lkey }] });
a.mr.buffer.set(new TextEncoder().encode('hello over TCP'));
a.qp.postSend([
  { wrId: 1n, opcode: 'SEND', sendFlags: SendFlags.SIGNALED, sgList: [{ addr: a.mr.addr, length: 14, lkey: a.mr.lkey }] },
  { wrId: 2n, opcode: 'RDMA_WRITE', sendFlags: SendFlags.SIGNALED,
    sgList: [{ addr: a.mr.addr, length: 5, lkey: a.mr.lkey }], rdma: { remoteAddr: b.mr.addr + 100, rkey: b.mr.rkey } },
]);

// Completions arrive asynchronously: poll between turns of the event loop.
const wcs = [];
while (wcs.length < 3) {
  wcs.push(...a.cq.poll(4), ...b.cq.poll(4));
  await new Promise((resolve) => setImmediate(resolve));
}
const text = (from: number, to: number) => new TextDecoder().decode(b.mr.buffer.subarray(from, to));
console.log(wcs.map((wc) => `${wc.opcode} wr ${wc.wrId}: ${wc.status}`).join('\n'));
console.log(`b received "${text(0, 14)}", and "${text(100, 105)}" was written into its memory`);
a.ctx.close();
b.ctx.close();
server.close();
