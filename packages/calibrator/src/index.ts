export type { Features, Interval, IntervalPrediction, IntervalPredictor, PointPredictor } from './types.js';
export { ScoreWindow, conformalRank, checkAlpha, checkWindow, lowerBound, upperBound } from './conformal/score-window.js';
export { SplitConformal, DEFAULT_CALIBRATION_WINDOW, type SplitConformalOptions } from './conformal/split.js';
export { OnlineRidge, type OnlineRidgeOptions } from './predictors/online-ridge.js';
export { createMethod, registerMethod, methodNames, type MethodSettings } from './methods.js';
export { parseTable, tableFormatOf, numericCell, binCell, type TableRow, type TableFormat } from './audit/table.js';
export { auditOnline, type AuditOptions, type AuditInterval, type AuditSummary } from './audit/online-audit.js';
export { absoluteResidual, scaledResidual, type ConformityScore } from './online/conformity-score.js';
export {
  OnlineConformal,
  thresholdAt,
  coverageLevel,
  type OnlineConformalOptions,
  type OnlineConformalState,
} from './online/online-conformal.js';
export { AdaptiveConformal, DEFAULT_ACI_GAMMA, type AdaptiveConformalOptions, type AdaptiveConformalState } from './online/aci.js';
export {
  DynamicallyTunedConformal,
  DEFAULT_DTACI_GAMMAS,
  DEFAULT_DTACI_HORIZON,
  defaultEta,
  pinballLoss,
  type DynamicallyTunedOptions,
  type DynamicallyTunedState,
} from './online/dtaci.js';
export {
  ConformalPid,
  DEFAULT_PID_LEARNING_RATE,
  DEFAULT_PID_INTEGRAL_GAIN,
  DEFAULT_PID_SATURATION,
  type ConformalPidOptions,
  type ConformalPidState,
} from './online/conformal-pid.js';
export { NormalizedConformal, type NormalizedConformalOptions, type NormalizedPrediction } from './conformal/normalized.js';
export { ConformalizedQuantileRegression, type ConformalizedQuantileRegressionOptions, type CqrPrediction } from './conformal/cqr.js';
export { MondrianConformal, type MondrianConformalOptions, type MondrianPrediction } from './conformal/mondrian.js';
export { WeightedConformal, type WeightedConformalOptions, type WeightedPrediction } from './conformal/weighted.js';
export { WeightedScoreWindow } from './conformal/weighted-window.js';
export { QuantileRegressor, DEFAULT_QUANTILE_WINDOW, type QuantileRegressorOptions, type QuantileRegressorState } from './predictors/quantile-regressor.js';
export { LogisticRegression, type LogisticRegressionOptions, type LogisticRegressionState } from './predictors/logistic-regression.js';
export {
  candidateId,
  candidatesFromProfile,
  checkCandidates,
  compressedBytesPerSample,
  type CandidatesFromProfileOptions,
  type DecisionCandidate,
} from './candidates/candidate.js';
export { candidatesForSites, type SiteSpec } from './candidates/site-candidates.js';
export { candidatesFromFamily, type CandidatesFromFamilyOptions, type VariantCandidateOptions } from './candidates/family-candidates.js';
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
  adaptiveMethod,
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
export { CarbonBudget, type CarbonBudgetOptions, type CarbonBudgetState, type ForecastSlot } from './decision/carbon-budget.js';
export { BudgetPacer } from './decision/budget-pacer.js';
export { ConformalForecast, type ConformalForecastOptions } from './decision/conformal-forecast.js';
export { SloBudget, type SloBudgetOptions, type SloBudgetState } from './decision/slo-budget.js';
export { allowedByLimits, preferenceOf, withinErrorLimit, withinQualityFloor } from './decision/rules.js';
export { SetCalibration, optimalIndex, setScores, type ObjectiveLatency, type SetCalibrationState } from './decision/set-mode.js';
export { explain, formatNumber } from './decision/explain.js';
export { checkSites, rttFor, serverEnergyJ, serverIntensityFor, siteDown, siteFootprintG, siteObjectiveExtra, siteWaterL, type SiteConditions } from './decision/site-conditions.js';
export { SiteEquity, type SiteEquityOptions, type SiteEquityState } from './decision/site-equity.js';
export { CarbonAwareDecision, type DeciderOptions, type DeciderState } from './decision/decider.js';
export { CoverageTracker, type CoverageStats } from './audit/coverage-tracker.js';
