/**
 * A broken implementation for the kit to catch: the requester takes an RNR NAK as an ACK, so a
 * SEND the responder had no receive for completes SUCCESS (and its data is gone).
 */
import { Requester } from '../../../src/nic/requester.js';
import { serveMutant } from './serve-mutant.js';

type Internals = { onNak(psn: number, code: string, rnrTimer: number): unknown; onAck(psn: number): unknown };
const proto = Requester.prototype as unknown as Internals;
const onNak = proto.onNak;
proto.onNak = function (this: Internals, psn: number, code: string, rnrTimer: number): unknown {
  return code === 'RNR' ? this.onAck(psn) : onNak.call(this, psn, code, rnrTimer);
};

await serveMutant();
