export { startServer, type CarboncpServer, type ServerInternals } from './server.js';
export { AGENT_REFERENCE_WAIT_MS, agentReply, agentWeight, type AgentLoad } from './agent-check.js';
export type { ServerOptions, CarbonIntensity, Executor } from './options.js';
export { DEFAULTS as SERVER_DEFAULTS, resolveOptions as resolveServerOptions, type ResolvedOptions as ResolvedServerOptions } from './options.js';
export type { BatchingOptions } from './request-queue.js';
export type { ServedModel } from './model-registry.js';
export { HTTP_PATHS, modelMetadata } from './http-routes.js';
export type { ServerIntensitySource, ServerIntensityPoint, ServerPowerSource, ServerPowerReading, ResponseFootprint } from './server-carbon.js';
export { nvidiaSmiPowerSource, parseNvidiaSmiPower, NVIDIA_SMI_ARGS } from './nvidia-smi.js';
export {
  NVIDIA_SMI_LIMITS_ARGS,
  nvidiaSmiRunner,
  nvidiaSmiSetLimitArgs,
  parseNvidiaSmiPowerLimits,
  type GpuPowerLimits,
  type NvidiaSmiRunner,
} from './nvidia-smi.js';
export {
  DEFAULT_POWER_CAP_POLICY,
  ServerPowerCap,
  choosePowerCap,
  resolvePowerCap,
  resolvePowerCapPolicy,
  type PowerCapMode,
  type PowerCapOptions,
  type PowerCapPolicy,
  type PowerCapState,
  type ResolvedPowerCap,
} from './power-cap.js';
export type { TailBackendOptions } from './options.js';
export { tailModelName, checkTritonModelName, kserveTargets, TAIL_INFIX, type KserveTarget } from './kserve/model-names.js';
export {
  decodeInferRequest,
  decodeInferResponse,
  encodeInferRequest,
  encodeInferResponse,
  wantsBinary,
  type EncodedBody,
  type KserveInferRequest,
  type KserveInferResponse,
  type RequestedOutput,
} from './kserve/kserve-messages.js';
export { HEADER_LENGTH_HEADER, BINARY_CONTENT_TYPE } from './kserve/kserve-body.js';
export { FORWARDED_PROVIDER } from './kserve/forward-backend.js';
