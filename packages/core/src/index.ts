export { CarboncpError, ErrorCode, isCarboncpError } from '@carboncp/protocol';
export { decodeModel, encodeModel } from './onnx/proto.js';
export type { ModelProto } from './onnx/proto.js';
export { bytesPerElement, dtypeOfElemType, type DType } from './onnx/dtype.js';
export { WIRE_ORT_TYPES, ortTypeOf, wireTypeOf, type OrtTensorType } from './onnx/ort-types.js';
export { loadModel, sha256Hex, type LoadedModel, type TensorInfo } from './model/load-model.js';
export { partition, getPlan, extractPlan } from './partition.js';
export { partitionFromPlanSet } from './partition-from-plans.js';
export { DEFAULT_MAX_WIDTH, type CrossingTensor, type Partition, type PartitionOptions, type Plan } from './plan/plan-types.js';
export { planSetFromJson, planSetOf, verifyPlanSet, type PlanSet } from './plan/plan-set.js';
export {
  checkAgainstSignature,
  type SignatureCheckOptions,
  type SignatureTensor,
  type SymbolBindings,
  type TensorFacts,
} from './plan/signature-check.js';
export { nodeFlops, type FlopsContext } from './flops/op-flops.js';
export { inputsNeedingShapes, parseInputShapeSpecs, resolveInputShapes, validateInputShapes } from './shapes/input-shapes.js';
export { BATCH_DIM } from './shapes/shape-table.js';
export { mulberry32, seedFromString, seededNormal, seededUniform } from './random.js';
// The fluent ONNX builder (model zoo generators and tests build graphs with it).
export * from './onnx/model-builder.js';
export { PROFILE_SCHEMA_VERSION, checkProfileFor, distributionOf, profileFromJson, profileKey, quantile, type LatencyDistribution, type ModelProfile, type PlanProfile, type ProfileDevice, type SegmentCheck, type SegmentGap } from './plan/profile.js';
export {
  MIN_QUALITY_SOURCE_LENGTH,
  checkModelFamily,
  modelFamilyFromJson,
  variantsWithQuality,
  type DeclaredQuality,
  type ModelFamily,
  type ModelVariant,
} from './family/model-family.js';
// The GPU power-cap rule, shared by the server (applies it) and the simulator (models it).
export { DEFAULT_POWER_CAP_POLICY, choosePowerCap, clampPowerCap, resolvePowerCapPolicy, type GpuLimits, type PowerCapPolicy } from './power-cap-policy.js';
