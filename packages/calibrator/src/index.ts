export type { Features, Interval, IntervalPrediction, IntervalPredictor, PointPredictor } from './types.js';
