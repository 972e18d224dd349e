export type { Features, Interval, IntervalPrediction, IntervalPredictor, PointPredictor } from './types.js';
export { ScoreWindow, conformalRank, checkAlpha, checkWindow, lowerBound, upperBound } from './conformal/score-window.js';
export { SplitConformal, DEFAULT_CALIBRATION_WINDOW, type SplitConformalOptions } from './conformal/split.js';
export { OnlineRidge, type OnlineRidgeOptions } from './predictors/online-ridge.js';
export { createMethod, registerMethod, methodNames, type MethodSettings } from './methods.js';
export { parseTable, tableFormatOf, numericCell, binCell, type TableRow, type TableFormat } from './audit/table.js';
export { auditOnline, type AuditOptions, type AuditInterval, type AuditSummary } from './audit/online-audit.js';
