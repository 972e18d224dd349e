/**
 * @carboncp/device/node: the device SDK for Node and Electron's main process.
 * The client logic is platform-neutral (the package's `.` entry, re-exported here); this entry
 * binds it to onnxruntime-node and ws.
 */
export * from './index.js';
export { createClient, type CreateClientOptions, type CarboncpClient } from './node/create-client.js';
export { createFamilyClient, type CreateFamilyClientOptions, type CarboncpFamilyClient, type FamilyVariantSource, type NodeFamilyCalibratorOptions } from './node/create-family-client.js';
export { OrtRuntime, type OrtRuntimeOptions } from './node/ort-runtime.js';
export { WorkerRuntime, DEFAULT_WORKER_CALL_TIMEOUT_MS, DEFAULT_WORKER_MAX_WAITING_CALLS, type WorkerRuntimeOptions } from './node/worker-runtime.js';
export { WsTransport, type WsTransportOptions } from './node/ws-transport.js';
export { fetchTrusting, describeTlsFailure, resolveTrustedCa, type TrustedCa, type FetchLike } from './node/tls-trust.js';
export { createNodeCalibratedPolicy, resolveDeviceProfile, type NodeCalibratorOptions } from './node/calibrator-setup.js';
export { TelemetryLog } from './node/telemetry-log.js';
export {
  detectPowerSource,
  LayeredPowerSource,
  LinuxPowerSupplySource,
  RaplSource,
  JetsonIna3221Source,
  MacIoregSource,
  WindowsWmiSource,
  CpuModelSource,
  execCommand,
  type DetectPowerSourceOptions,
  type DetectedPowerSource,
  type SysfsSourceOptions,
  type CommandSourceOptions,
  type CpuModelSourceOptions,
  type CommandRunner,
} from './node/power/index.js';
