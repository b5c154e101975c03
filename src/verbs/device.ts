import { takeSocket } from '../transport/socket-transport.js';
import { realClock } from '../transport/clock.js';
import { Context, type ContextOptions } from './context.js';
import { VerbsError } from '../abi/errors.js';

export const DEFAULT_DEVICE = 'tcpverbs0';

export interface DeviceInfo {
  name: string;
  guid: bigint;
  transport: 'TCP';
}

/** ibv_get_device_list: tcpverbs has one device, the host's TCP stack. */
export function listDevices(): DeviceInfo[] {
  return [{ name: DEFAULT_DEVICE, guid: 0x7463_7076_6572_6273n, transport: 'TCP' }];
}

/**
 * ibv_open_device. `options` (an addition to libibverbs) injects a clock and an observer; with
 * none, real time and no observer (src/monitor makes the model monitor one).
 */
export function openDevice(name: string = DEFAULT_DEVICE, options: Partial<ContextOptions> = {}): Context {
  if (!listDevices().some((d) => d.name === name)) {
    throw new VerbsError('ENODEV', `no device named ${JSON.stringify(name)}; devices: ${listDevices().map((d) => d.name).join(', ')}`);
  }
  return new Context(name, {
    clock: options.clock ?? realClock,
    observer: options.observer ?? null,
    takeSocket: options.takeSocket ?? takeSocket,
  });
}
