import { QuantileRegressor, type QuantileRegressorOptions } from '../predictors/quantile-regressor.js';
import type { Features, IntervalPrediction, IntervalPredictor, PointPredictor } from '../types.js';
import { DEFAULT_CALIBRATION_WINDOW } from './split.js';
import { ScoreWindow, checkAlpha } from './score-window.js';

export interface ConformalizedQuantileRegressionOptions {
  /** Miscoverage: intervals hold the target with probability >= 1 - alpha. */
  alpha: number;
  /** Calibration scores kept (the newest); default 500. */
  window?: number;
  /** The point of each prediction; default the midpoint of the two quantile predictions. */
  median?: PointPredictor;
}

/** The band of a CQR prediction before its conformal correction. */
export interface CqrPrediction extends IntervalPrediction {
  /** The quantile regressors' band at x, in order (lower <= upper). */
  band: { lower: number; upper: number };
  /** The conformal correction q: the interval is [band.lower - q, band.upper + q]; q < 0 narrows it. */
  correction: number;
}

/**
 * Conformalised quantile regression (Romano, Patterson and Candès 2019): two quantile
 * regressors give a band [q_lo(x), q_hi(x)] that already adapts to heteroscedasticity; the
 * score max(q_lo(x) - y, y - q_hi(x)) measures how far y falls outside it (negative inside),
 * and the conformal quantile q of the scores widens (or narrows) the band to
 * [q_lo(x) - q, q_hi(x) + q], restoring the finite-sample guarantee the regressors lack.
 * Crossing predictions are put in order first (rearrangement, Chernozhukov et al. 2010); a
 * correction that would invert the band collapses it to its midpoint.
 */
export class ConformalizedQuantileRegression implements IntervalPredictor {
  readonly method: string = 'cqr';
  readonly alpha: number;
  private readonly scores: ScoreWindow;
  private readonly median: PointPredictor | undefined;

  constructor(
    private readonly lower: PointPredictor,
    private readonly upper: PointPredictor,
    options: ConformalizedQuantileRegressionOptions,
  ) {
    checkAlpha(options.alpha);
    this.alpha = options.alpha;
    this.scores = new ScoreWindow(options.window ?? DEFAULT_CALIBRATION_WINDOW);
    this.median = options.median;
  }

  /**
   * CQR over linear quantile regressors at alpha/2 and 1 - alpha/2 (Romano et al.'s choice of
   * levels), each fitted on its own sliding window of pairs.
   */
  static linear(
    options: ConformalizedQuantileRegressionOptions & { dimensions: number } & Pick<QuantileRegressorOptions, 'refitEvery' | 'iterations' | 'lambda'> & { fitWindow?: number },
  ): ConformalizedQuantileRegression {
    checkAlpha(options.alpha);
    const shared = { dimensions: options.dimensions, window: options.fitWindow, refitEvery: options.refitEvery, iterations: options.iterations, lambda: options.lambda };
    const lower = new QuantileRegressor({ ...shared, quantile: options.alpha / 2 });
    const upper = new QuantileRegressor({ ...shared, quantile: 1 - options.alpha / 2 });
    return new ConformalizedQuantileRegression(lower, upper, options);
  }

  predict(x: Features): CqrPrediction {
    const band = this.band(x);
    const q = this.scores.quantile(this.alpha);
    const point = this.median ? this.median.predict(x) : (band.lower + band.upper) / 2;
    let lower = band.lower - q;
    let upper = band.upper + q;
    if (lower > upper) lower = upper = (band.lower + band.upper) / 2;
    return { point, lower, upper, alpha: this.alpha, method: this.method, n: this.scores.size, band, correction: q };
  }

  observe(x: Features, y: number): void {
    const band = this.band(x);
    this.scores.add(Math.max(band.lower - y, y - band.upper));
    this.lower.update?.(x, y);
    this.upper.update?.(x, y);
    this.median?.update?.(x, y);
  }

  toJSON(): unknown {
    const state = (p: PointPredictor | undefined) => (p as { toJSON?: () => unknown } | undefined)?.toJSON?.() ?? null;
    return {
      method: this.method,
      alpha: this.alpha,
      window: this.scores.capacity,
      scores: this.scores.values(),
      lower: state(this.lower),
      upper: state(this.upper),
      median: state(this.median),
    };
  }

  private band(x: Features): { lower: number; upper: number } {
    const a = this.lower.predict(x);
    const b = this.upper.predict(x);
    return a <= b ? { lower: a, upper: b } : { lower: b, upper: a };
  }
}
