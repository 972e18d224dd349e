export type { Features, Interval, IntervalPrediction, IntervalPredictor, PointPredictor } from './types.js';
export { ScoreWindow, conformalRank, checkAlpha, checkWindow, lowerBound, upperBound } from './conformal/score-window.js';
export { SplitConformal, DEFAULT_CALIBRATION_WINDOW, type SplitConformalOptions } from './conformal/split.js';
export { OnlineRidge, type OnlineRidgeOptions } from './predictors/online-ridge.js';
