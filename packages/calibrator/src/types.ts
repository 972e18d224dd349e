/**
 * The calibrator's shared vocabulary. Every conformal method, predictor and the decision speak
 * these types, so that a method can wrap any point predictor and the decision can weigh any
 * method's intervals.
 */

/** A context's numeric features (CPU load, bandwidth, RTT, queue, intensities, ...), in a fixed order per predictor. */
export type Features = readonly number[];

/** A two-sided interval; `lower` may be -Infinity and `upper` +Infinity (too little calibration data to bound it). */
export interface Interval {
  lower: number;
  upper: number;
}

/** A point predictor: any function of the features. Conformal methods wrap it; they never look inside. */
export interface PointPredictor {
  predict(x: Features): number;
  /** Optional online learning: called with each revealed target after the conformal method has scored it. */
  update?(x: Features, y: number): void;
}

/**
 * A prediction with its interval at miscoverage `alpha`: with probability at least 1 - alpha
 * (marginally, under the method's assumptions) the target lies in [lower, upper].
 */
export interface IntervalPrediction extends Interval {
  /** The point predictor's value. */
  point: number;
  /** The miscoverage the interval was built for (for adaptive methods, the nominal target). */
  alpha: number;
  /** The method that produced it: 'split', 'normalized', 'cqr', 'mondrian', 'weighted', 'aci', ... */
  method: string;
  /** Calibration scores the interval rests on (its bin's, for Mondrian). */
  n: number;
}

/**
 * A conformal method in deployment order: an interval for x before its target is known, then
 * the target, which it learns from (and which a sliding window may later forget). Every method
 * of the package implements this, so the decision, the SDK, the simulator and `carboncp
 * calibrate` run any of them the same way.
 */
export interface IntervalPredictor {
  readonly method: string;
  readonly alpha: number;
  predict(x: Features): IntervalPrediction;
  /** Reveals the target for x (the features of a predict() call, or any observed pair). */
  observe(x: Features, y: number): void;
  /** Its whole state as JSON-safe data; `restore` of the same method rebuilds it. */
  toJSON(): unknown;
}
