import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { LogisticRegression } from '../predictors/logistic-regression.js';
import { checkPositiveInteger } from '../predictors/linear-system.js';
import type { Features, IntervalPrediction, IntervalPredictor, PointPredictor } from '../types.js';
import { checkAlpha, checkWindow } from './score-window.js';
import { DEFAULT_CALIBRATION_WINDOW } from './split.js';
import { WeightedScoreWindow } from './weighted-window.js';

export interface WeightedConformalOptions {
  /** Miscoverage: intervals hold the target with probability >= 1 - alpha under covariate shift. */
  alpha: number;
  /** Calibration scores kept with their contexts (the newest); default 500. */
  window?: number;
  /** Recent contexts kept: the distribution the weights shift the calibration towards; default 100. */
  recent?: number;
  /** Below this many recent contexts every weight is 1 (split conformal); default 20. */
  minRecent?: number;
  /** Refit the classifier after this many new contexts and scores together; default 50. */
  refitEvery?: number;
  /** Weights are clipped to [minWeight, maxWeight]; defaults 0 and 20 (no score counts for more than 20). */
  minWeight?: number;
  maxWeight?: number;
  /** L2 penalty of the logistic classifier on standardised features; default 1. */
  lambda?: number;
  /** predict(x) records x as a recent context (the deployment case); default true. Else call addContext. */
  trackPredictions?: boolean;
}

/** A weighted conformal prediction, with the weights it rests on. */
export interface WeightedPrediction extends IntervalPrediction {
  /** The test context's weight, w(x) = p_recent(x) / p_calibration(x) after clipping. */
  weight: number;
  /** Kish's effective sample size of the calibration weights; n when they are all equal. */
  effectiveSampleSize: number;
}

/**
 * Weighted split conformal prediction under covariate shift (Tibshirani, Barber, Candès and
 * Ramdas 2019) with the absolute residual score. When contexts now come from a distribution Q
 * while the calibration scores were drawn under P, each score i is weighted by the likelihood
 * ratio w(x_i) = dQ/dP(x_i), the test point by w(x), and the interval uses the 1 - alpha
 * quantile of sum_i p_i delta(V_i) + p_test delta(+Infinity), p = w / (sum_j w(x_j) + w(x)).
 * The ratio is estimated by a logistic classifier between the calibration window's contexts
 * (label 0) and the recent contexts (label 1): w(x) = odds(x) n_calibration / n_recent. The
 * weights are clipped, which bounds any single score's influence at the price of a bias where
 * the true ratio exceeds the clip. The classifier is refitted lazily, at a predict() after
 * `refitEvery` changes, so an observe() stays O(window).
 */
export class WeightedConformal implements IntervalPredictor {
  readonly method: string = 'weighted';
  readonly alpha: number;
  private readonly scores: WeightedScoreWindow;
  private readonly recentCapacity: number;
  private recent: Float64Array = new Float64Array(0);
  /** The feature count, fixed by the first context seen (-1 before). */
  private dims = -1;
  private recentSize = 0;
  private recentNext = 0;
  private readonly minRecent: number;
  private readonly refitEvery: number;
  private readonly minWeight: number;
  private readonly maxWeight: number;
  private readonly lambda: number;
  private readonly trackPredictions: boolean;
  private classifier: LogisticRegression | null = null;
  /** n_calibration / n_recent at the last fit: turns the classifier's odds into a density ratio. */
  private priorRatio = 1;
  private changes = 0;

  constructor(private readonly predictor: PointPredictor, options: WeightedConformalOptions) {
    checkAlpha(options.alpha);
    this.alpha = options.alpha;
    this.scores = new WeightedScoreWindow(options.window ?? DEFAULT_CALIBRATION_WINDOW);
    this.recentCapacity = options.recent ?? 100;
    checkWindow(this.recentCapacity);
    this.minRecent = options.minRecent ?? 20;
    if (!Number.isInteger(this.minRecent) || this.minRecent < 1 || this.minRecent > this.recentCapacity) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `minRecent must be an integer in [1, recent], got ${this.minRecent}`);
    }
    this.refitEvery = checkPositiveInteger('refitEvery', options.refitEvery ?? 50);
    this.minWeight = options.minWeight ?? 0;
    this.maxWeight = options.maxWeight ?? 20;
    if (!(this.minWeight >= 0 && this.maxWeight > 0 && this.minWeight <= this.maxWeight && Number.isFinite(this.maxWeight))) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `weights must be clipped to 0 <= minWeight <= maxWeight < Infinity, got [${this.minWeight}, ${this.maxWeight}]`);
    }
    this.lambda = options.lambda ?? 1;
    this.trackPredictions = options.trackPredictions ?? true;
  }

  /** Records a context of the current distribution (predict() does so itself by default). */
  addContext(x: Features): void {
    this.fixDimensions(x);
    this.recent.set(x, this.recentNext * this.dims);
    this.recentNext = (this.recentNext + 1) % this.recentCapacity;
    if (this.recentSize < this.recentCapacity) this.recentSize += 1;
    this.changes += 1;
  }

  /** w(x) = p_recent(x) / p_calibration(x), clipped; 1 before there are enough recent contexts. */
  weight(x: Features): number {
    if (!this.classifier) return 1;
    return this.clip(Math.exp(this.classifier.logit(x)) * this.priorRatio);
  }

  /** Kish's effective sample size of the calibration weights as they stand. */
  effectiveSampleSize(): number {
    this.refitIfDue();
    return this.scores.effectiveSampleSize();
  }

  predict(x: Features): WeightedPrediction {
    if (this.trackPredictions) this.addContext(x);
    this.refitIfDue();
    const point = this.predictor.predict(x);
    const weight = this.weight(x);
    const q = this.scores.quantile(this.alpha, weight);
    return {
      point,
      lower: point - q,
      upper: point + q,
      alpha: this.alpha,
      method: this.method,
      n: this.scores.size,
      weight,
      effectiveSampleSize: this.scores.effectiveSampleSize(),
    };
  }

  observe(x: Features, y: number): void {
    this.fixDimensions(x);
    this.scores.add(Math.abs(y - this.predictor.predict(x)), x, this.weight(x));
    this.changes += 1;
    this.predictor.update?.(x, y);
  }

  toJSON(): unknown {
    return {
      method: this.method,
      alpha: this.alpha,
      window: this.scores.capacity,
      recent: this.recentCapacity,
      minRecent: this.minRecent,
      refitEvery: this.refitEvery,
      minWeight: this.minWeight,
      maxWeight: this.maxWeight,
      lambda: this.lambda,
      trackPredictions: this.trackPredictions,
      calibration: this.scores.entries(),
      recentContexts: this.recentContexts(),
      classifier: this.classifier?.toJSON() ?? null,
      priorRatio: this.priorRatio,
      changes: this.changes,
    };
  }

  /** The recent contexts, oldest first. */
  recentContexts(): number[][] {
    const d = Math.max(this.dims, 0);
    const start = this.recentSize < this.recentCapacity ? 0 : this.recentNext;
    return Array.from({ length: this.recentSize }, (_, k) => {
      const slot = (start + k) % this.recentCapacity;
      return Array.from(this.recent.subarray(slot * d, (slot + 1) * d));
    });
  }

  private refitIfDue(): void {
    const n = this.scores.size;
    if (this.recentSize < this.minRecent || n === 0) return;
    if (this.classifier && this.changes < this.refitEvery) return;
    const d = this.dims;
    const m = this.recentSize;
    const features = new Float64Array((n + m) * d);
    features.set(this.scores.contextRows(), 0);
    features.set(this.recent.subarray(0, m * d), n * d);
    const labels = new Float64Array(n + m).fill(1, n);
    this.classifier ??= new LogisticRegression({ dimensions: d, lambda: this.lambda });
    this.classifier.fit(features, labels, n + m);
    this.priorRatio = n / m;
    const classifier = this.classifier;
    this.scores.reweigh((rows, offset) => this.clip(Math.exp(classifier.logit(rows.subarray(offset, offset + d))) * this.priorRatio));
    this.changes = 0;
  }

  private clip(w: number): number {
    return Math.min(this.maxWeight, Math.max(this.minWeight, w));
  }

  private fixDimensions(x: Features): void {
    if (this.dims < 0) {
      this.dims = x.length;
      this.recent = new Float64Array(this.recentCapacity * this.dims);
    } else if (x.length !== this.dims) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `expected ${this.dims} features, got ${x.length}`);
    }
  }
}
