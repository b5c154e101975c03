import { VerbsError } from '../abi/errors.js';
import type { Driver } from '../provider/ops.js';
import { realClock } from '../transport/clock.js';
import { takeSocket } from '../transport/socket-transport.js';
import { Context, type ContextOptions } from './context.js';
import { describe } from './validate.js';

export interface DeviceInfo {
  name: string;
  guid: bigint;
  transport: 'TCP';
}

/** The drivers this process knows, by device name (libibverbs loads its providers the same way). */
const drivers = new Map<string, Driver>();

/** Makes a driver's device visible to listDevices() and openDevice(). The first registered is the default. */
export function registerDriver(driver: Driver): void {
  if (drivers.has(driver.name)) throw new VerbsError('EBUSY', `a driver for device ${JSON.stringify(driver.name)} is already registered`);
  drivers.set(driver.name, driver);
}

/** ibv_get_device_list. */
export function listDevices(): DeviceInfo[] {
  return [...drivers.values()].map((d) => ({ name: d.name, guid: d.guid, transport: 'TCP' as const }));
}

/**
 * ibv_open_device. `options` (an addition to libibverbs) injects a clock and an observer; with
 * none, real time and no observer (src/monitor makes the model monitor one).
 */
export function openDevice(name?: string, options: Partial<ContextOptions> = {}): Context {
  if (name !== undefined && typeof name !== 'string') throw new VerbsError('EINVAL', `the device name must be a string, got ${describe(name)}; devices: ${listDevices().map((d) => d.name).join(', ') || 'none'}`);
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw new VerbsError('EINVAL', `options must be an object { clock?, observer?, takeSocket? }, got ${describe(options)}`);
  options ??= {};
  const driver = name === undefined ? drivers.values().next().value : drivers.get(name);
  if (driver === undefined) {
    throw new VerbsError('ENODEV', `no device named ${JSON.stringify(name)}; devices: ${listDevices().map((d) => d.name).join(', ') || 'none'}`);
  }
  return new Context(driver.name, driver, {
    clock: options.clock ?? realClock,
    observer: options.observer ?? null,
    takeSocket: options.takeSocket ?? takeSocket,
  });
}
