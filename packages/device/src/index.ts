/**
 * @carboncp/device: the platform-neutral device client (context sampling, cut policy, fallback)
 * behind the Runtime, Transport, Clock and power-source interfaces. It imports no runtime, no
 * socket library and nothing of Node: `./node` binds it to onnxruntime-node and ws, `./browser`
 * to onnxruntime-web and the browser's WebSocket; this entry is for other platforms and tests.
 */
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
  VariantTelemetry,
} from './client/types.js';
export { addFootprint, type FootprintOptions } from './client/request-footprint.js';
export { siteConditionsOf, type SiteState, type SiteTelemetry, type SiteView } from './client/site-pool.js';
export type { SiteEquityClientOptions, SiteOptions } from './client/site-options.js';
export { CalibratedPolicy, observationOf, recordObserved, type CalibratedPolicyOptions, type CalibratedContextOptions, type TelemetryDecision } from './client/calibrated-policy.js';
export { createCalibratedPolicy, serverHttpUrl, type CalibratorOptions } from './client/calibrator-setup.js';
export { FamilyClient, type FamilyInferOptions, type FamilyMember } from './client/family-client.js';
export { FamilyPolicy, type FamilyChoice, type FamilyRequestedDecision, type VariantView } from './client/family-policy.js';
export { createFamilyPolicy, type FamilyCalibratorOptions, type FamilyVariantModel } from './client/family-setup.js';
export { buildFamilyClient, type FamilyBuild, type VariantClient } from './client/family-build.js';
export { ClientBudget, checkBudgetOptions, type BudgetTelemetry, type ClientBudgetOptions } from './client/budget-pacer.js';
export { ShapedTransport, type ShapedTransportOptions } from './client/shaped-transport.js';
export {
  PowerSampler,
  counterDelta,
  energyOverWindow,
  integratePiecewiseLinear,
  modelWatts,
  powerModelOf,
  type PowerKind,
  type PowerModel,
  type PowerReading,
  type PowerSamplerOptions,
  type PowerSource,
  type WindowEnergy,
} from './client/power-source.js';
