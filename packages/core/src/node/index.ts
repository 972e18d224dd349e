export { readModelFile } from './read-model.js';
export { ocrModelPath, type OcrModelFile } from './ocr-model-path.js';
export { createSession, cudaProviderLibrary, type CreateSessionOptions, type ExecutionProvider } from './session.js';
export { probeShapes, type ProbeResult } from './probe.js';
export { partitionWithProbe, needsProbe } from './partition-with-probe.js';
export { seededInputs, seededTensor } from './seeded-inputs.js';
export { runPlanLocally } from './run-plan.js';
export { verifyPlans, maxAbsDiff, type VerifyOptions, type VerifyResult } from './verify.js';
export { writePlanFiles, jsonNumbers, type PlanFile } from './plan-files.js';
