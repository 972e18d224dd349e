import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { Features, IntervalPrediction, IntervalPredictor } from '../types.js';
import { checkAlpha } from './score-window.js';

export interface MondrianConformalOptions {
  /** Miscoverage of every bin's intervals. */
  alpha: number;
  /** The bin (Mondrian category) of a context: power source, network class, ... */
  bin: (x: Features) => string;
  /**
   * Makes the inner method of a bin (any IntervalPredictor at the same alpha), and with `null`
   * the pooled one that sees every observation and stands in for bins with too few scores.
   * Give each its own point predictor: each one learns from what it observes.
   */
  create: (bin: string | null) => IntervalPredictor;
  /**
   * A bin answers for itself from this many calibration scores; below it the pooled method
   * answers. Default: the fewest scores that give a finite interval at alpha,
   * ceil((1 - alpha) / alpha), so the pooled one only replaces infinite intervals.
   */
  minScores?: number;
}

/** A Mondrian prediction, with the bin it came from and whether the pooled method stood in. */
export interface MondrianPrediction extends IntervalPrediction {
  bin: string;
  /** true while the bin had fewer than minScores scores: method is 'mondrian-pooled' and n the pooled count. */
  pooled: boolean;
  /** The inner method that produced the interval. */
  inner: string;
}

/**
 * Mondrian (label- or object-conditional) conformal prediction (Vovk et al. 2005, ch. 4; Vovk
 * 2012): contexts are split into bins by a taxonomy, and each bin is calibrated only on its own
 * scores, so the guarantee holds within every bin, P(y in C(x) | bin(x) = k) >= 1 - alpha, not
 * only on average over bins (where a noisy rare bin can under-cover while a quiet common one
 * over-covers). A bin's first scores give no finite bound; until it has `minScores` of them the
 * pooled method (calibrated on all bins, marginal guarantee only) answers, labelled so.
 */
export class MondrianConformal implements IntervalPredictor {
  readonly method: string = 'mondrian';
  readonly alpha: number;
  readonly minScores: number;
  private readonly bins = new Map<string, IntervalPredictor>();
  private readonly pooled: IntervalPredictor;

  constructor(private readonly options: MondrianConformalOptions) {
    checkAlpha(options.alpha);
    this.alpha = options.alpha;
    this.minScores = options.minScores ?? Math.ceil((1 - options.alpha) / options.alpha - 1e-9);
    if (!Number.isInteger(this.minScores) || this.minScores < 0) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `minScores must be an integer >= 0, got ${this.minScores}`);
    }
    this.pooled = this.make(null);
  }

  /** The bins seen so far. */
  binKeys(): string[] {
    return [...this.bins.keys()];
  }

  /** A bin's inner method (undefined before the bin's first context). */
  binMethod(bin: string): IntervalPredictor | undefined {
    return this.bins.get(bin);
  }

  predict(x: Features): MondrianPrediction {
    const bin = this.options.bin(x);
    const own = this.binFor(bin).predict(x);
    if (own.n >= this.minScores) return { ...own, method: this.method, bin, pooled: false, inner: own.method };
    const pooled = this.pooled.predict(x);
    return { ...pooled, method: `${this.method}-pooled`, bin, pooled: true, inner: pooled.method };
  }

  observe(x: Features, y: number): void {
    this.binFor(this.options.bin(x)).observe(x, y);
    this.pooled.observe(x, y);
  }

  toJSON(): unknown {
    const bins: Record<string, unknown> = {};
    for (const [key, method] of this.bins) bins[key] = method.toJSON();
    return { method: this.method, alpha: this.alpha, minScores: this.minScores, pooled: this.pooled.toJSON(), bins };
  }

  private binFor(bin: string): IntervalPredictor {
    let method = this.bins.get(bin);
    if (!method) {
      method = this.make(bin);
      this.bins.set(bin, method);
    }
    return method;
  }

  private make(bin: string | null): IntervalPredictor {
    const method = this.options.create(bin);
    if (Math.abs(method.alpha - this.alpha) > 1e-12) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `the inner method for bin ${bin ?? '(pooled)'} has alpha ${method.alpha}, not ${this.alpha}`);
    }
    return method;
  }
}
