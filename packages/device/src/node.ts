/**
 * @carboncp/device/node: the device SDK for Node and Electron's main process.
 * The client logic is platform-neutral (../client); this entry binds it to onnxruntime-node
 * and ws.
 */
export { createClient, type CreateClientOptions, type CarboncpClient } from './node/create-client.js';
export { OrtRuntime, type OrtRuntimeOptions } from './node/ort-runtime.js';
export { WorkerRuntime, DEFAULT_WORKER_CALL_TIMEOUT_MS, DEFAULT_WORKER_MAX_WAITING_CALLS, type WorkerRuntimeOptions } from './node/worker-runtime.js';
export { WsTransport, type WsTransportOptions } from './node/ws-transport.js';
export { SplitClient, type SplitClientOptions } from './client/split-client.js';
export { ServerLink, type ServerLinkOptions } from './client/server-link.js';
export { splitModelFromPartition } from './client/split-model.js';
export { Backoff } from './client/backoff.js';
export { ManualClock, systemClock, type Clock, type ClockTimer } from './client/clock.js';
export { defaultCutPolicy, type Candidate, type CutContext, type CutPolicy, type PolicyOutcome, type RequestedDecision } from './client/cut-policy.js';
export { NetworkEstimator, NETWORK_DEFAULTS, type NetworkEstimate, type NetworkDistribution, type NetworkEstimatorOptions } from './client/network-estimator.js';
export { PROBE_DEFAULTS, type NetworkProbeOptions, type ProbeOutcome, type ProbeRefusal } from './client/network-probe.js';
export type {
  ClientPlan,
  ClientStats,
  ConnectionState,
  InferOptions,
  InferResult,
  ReconnectOptions,
  RequestPath,
  RequestTelemetry,
  ServerEnergy,
  DeviceEnergy,
  Runtime,
  RuntimeSession,
  RuntimeTensor,
  ServerContext,
  ServerContextOptions,
  SplitModel,
  TensorData,
  Transport,
  TransportConnection,
  TransportHandlers,
} from './client/types.js';
export { addFootprint, type FootprintOptions } from './client/request-footprint.js';
export { createCalibratedPolicy, serverHttpUrl, type NodeCalibratorOptions } from './node/calibrator-setup.js';
export { CalibratedPolicy, observationOf, recordObserved, type CalibratedPolicyOptions, type CalibratedContextOptions, type TelemetryDecision } from './client/calibrated-policy.js';
export { TelemetryLog } from './node/telemetry-log.js';
export { ShapedTransport, type ShapedTransportOptions } from './client/shaped-transport.js';
export * from './node/power/index.js';
