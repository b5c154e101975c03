/** The reference NIC as a driver: what `openDevice('tcpverbs0')` opens behind the provider table. */
import type { Driver } from '../provider/ops.js';
import { ReferenceDevice } from './device.js';

export const REFERENCE_DEVICE_NAME = 'tcpverbs0';

export const referenceDriver: Driver = {
  name: REFERENCE_DEVICE_NAME,
  guid: 0x7463_7076_6572_6273n,
  open: (options) => new ReferenceDevice(options),
};
