export type { Features, Interval, IntervalPrediction, IntervalPredictor, PointPredictor } from './types.js';
export { ScoreWindow, conformalRank, checkAlpha, checkWindow, lowerBound, upperBound } from './conformal/score-window.js';
export { SplitConformal, DEFAULT_CALIBRATION_WINDOW, type SplitConformalOptions } from './conformal/split.js';
export { OnlineRidge, type OnlineRidgeOptions } from './predictors/online-ridge.js';
export {
  candidateId,
  candidatesFromProfile,
  checkCandidates,
  compressedBytesPerSample,
  type CandidatesFromProfileOptions,
  type DecisionCandidate,
} from './candidates/candidate.js';
export { FEATURE_COUNT, FEATURE_NAMES, checkContext, contextFeatures, type DecisionContext, type MeanSd } from './decision/context.js';
export {
  METRICS,
  METRIC_FEATURES,
  METRIC_FEATURE_INDICES,
  METRIC_FLOOR,
  isStructuralZero,
  metricFeatures,
  serverTailMs,
  structural,
  type Metric,
  type MetricFeatures,
  type PartPoints,
} from './decision/structural.js';
export { CandidateModel, type CandidateModelState, type CandidatePredictions, type DecisionFigures, type ModelConfig, type Observation } from './decision/candidate-model.js';
export { DecisionRecord, type DecisionFields } from './decision/decision-record.js';
export {
  DEFAULT_METHODS,
  METHOD_FAMILIES,
  registerIntervalMethod,
  restoreIntervalPredictor,
  restoreSplit,
  shortWindowSplitMethod,
  splitMethod,
  type MethodFactory,
  type MethodFamily,
  type MethodRestorer,
  type MethodSpec,
} from './decision/method-registry.js';
export {
  CONSTRAINTS,
  DECISION_MODES,
  DEFAULT_BATTERY_RULE,
  OBJECTIVES,
  OBJECTIVE_METRIC,
  type BatteryRule,
  type CandidateAssessment,
  type Constraint,
  type DecideOptions,
  type Decision,
  type DecisionMode,
  type Objective,
} from './decision/decision-types.js';
export { DEFAULT_EXPLORATION, type ExplorationOptions, type ExplorerState } from './decision/exploration.js';
export { SetCalibration, optimalIndex, setScores, type ObjectiveLatency, type SetCalibrationState } from './decision/set-mode.js';
export { explain, formatNumber } from './decision/explain.js';
export { CarbonAwareDecision, type DeciderOptions, type DeciderState } from './decision/decider.js';
