import { referenceDriver } from './nic/index.js';
import { registerDriver } from './verbs/device.js';

// The reference NIC is the default device, as a provider behind the verbs API.
registerDriver(referenceDriver);

export { listDevices, openDevice, registerDriver, type DeviceInfo } from './verbs/device.js';
export { REFERENCE_DEVICE_NAME as DEFAULT_DEVICE } from './nic/index.js';
export { Access, QpAttrMask, SendFlags, WcFlags } from './abi/constants.js';
export { DEVICE_LIMITS } from './abi/limits.js';
export { VerbsError, type Errno } from './abi/errors.js';
export type { Context, ContextOptions } from './verbs/context.js';
export type { ProtectionDomain, QpInitAttr } from './verbs/pd.js';
export type { MemoryRegion } from './verbs/mr.js';
export type { CompletionQueue, CompletionChannel } from './verbs/cq.js';
export type { QueuePair } from './verbs/qp.js';
export type { VerbsObserver, QpErrorCause, PostOutcome } from './abi/observer.js';
export type { Driver, ProviderOps } from './provider/ops.js';
export type * from './abi/types.js';
