/**
 * An MR cannot be deregistered while the NIC may still write or read it (found by a fault
 * campaign: bytes of a READ response, an atomic's original value and the rest of a payload used
 * to land in memory after dereg() had returned). dereg refuses with EBUSY while a WR that resolved
 * the region is outstanding or a payload is being read into it, and succeeds once they are done.
 */
import { describe, expect, it } from 'vitest';
import { Access, SendFlags, VerbsError } from '../../src/index.js';
import { frame, rawPeer } from '../support/raw-peer.js';
import { pollUntil, rcPair, waitFor } from '../support/verbs-harness.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function deregError(call: () => void): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('dereg of a region the NIC may still touch is EBUSY', () => {
  it('a READ in flight: EBUSY, the MR stays usable; after the response lands, dereg succeeds', async () => {
    const peer = await rawPeer();
    try {
      const { side } = peer;
      peer.raw.write(peer.hello);
      const buffer = new Uint8Array(256);
      const mr = side.pd.regMr(buffer, Access.LOCAL_WRITE);
      side.qp.postSend({ wrId: 1n, opcode: 'RDMA_READ', sendFlags: SendFlags.SIGNALED, sgList: [{ addr: mr.addr, length: 64, lkey: mr.lkey }], rdma: { remoteAddr: 0x1000, rkey: 5 } });
      await waitFor(() => peer.frames().some((f) => f.header.opcode === 'RDMA_READ_REQUEST'), 2000, 'the READ on the wire');
      const error = deregError(() => mr.dereg());
      expect(error).toBeInstanceOf(VerbsError);
      expect(error).toMatchObject({ errno: 'EBUSY', message: expect.stringMatching(/in use by 1 work request/) });
      expect(mr.deregistered).toBe(false);
      peer.raw.write(frame({ opcode: 'RDMA_READ_RESPONSE', flags: 0, psn: 0, payloadLength: 64 }, new Uint8Array(64).fill(0xee)));
      expect(await pollUntil(side.cq, 1)).toMatchObject([{ wrId: 1n, status: 'SUCCESS' }]);
      expect(buffer.subarray(0, 64).every((b) => b === 0xee)).toBe(true);
      mr.dereg();
      expect(mr.deregistered).toBe(true);
      side.monitor.assertAgreement();
    } finally {
      peer.close();
    }
  });

  it('a SEND payload half read into a posted receive: EBUSY until the receive completes', async () => {
    const peer = await rawPeer();
    try {
      const { side } = peer;
      const buffer = new Uint8Array(65536);
      const mr = side.pd.regMr(buffer, Access.LOCAL_WRITE);
      side.qp.postRecv({ wrId: 7n, sgList: [{ addr: mr.addr, length: 65536, lkey: mr.lkey }] });
      peer.raw.write(peer.hello);
      peer.raw.write(Buffer.concat([frame({ opcode: 'SEND', flags: 0, psn: 0, payloadLength: 65536 }), Buffer.alloc(1000, 0x11)]));
      await sleep(50);
      expect(deregError(() => mr.dereg())).toMatchObject({ errno: 'EBUSY' });
      peer.raw.write(Buffer.alloc(65536 - 1000, 0x22));
      expect(await pollUntil(side.cq, 1)).toMatchObject([{ wrId: 7n, status: 'SUCCESS', byteLen: 65536 }]);
      mr.dereg();
    } finally {
      peer.close();
    }
  });

  it('a failed QP releases what it held: after ERR the region deregisters', async () => {
    const pair = await rcPair();
    try {
      const { a } = pair;
      const mr = a.pd.regMr(new Uint8Array(64), Access.LOCAL_WRITE);
      a.qp.postSend({ wrId: 1n, opcode: 'RDMA_READ', sendFlags: SendFlags.SIGNALED, sgList: [{ addr: mr.addr, length: 8, lkey: mr.lkey }], rdma: { remoteAddr: 1, rkey: 1 } });
      expect((await pollUntil(a.cq, 1))[0]?.status).toBe('REM_ACCESS_ERR');
      mr.dereg();
      expect(mr.deregistered).toBe(true);
    } finally {
      pair.close();
    }
  });
});
