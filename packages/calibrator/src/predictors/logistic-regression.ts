import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { PointPredictor } from '../types.js';
import { accumulateNormalEquations, checkFeatureVector, checkPositiveInteger, linearValue, solveSymmetric, symmetrise } from './linear-system.js';

export interface LogisticRegressionOptions {
  /** Number of features (an intercept is added). */
  dimensions: number;
  /** L2 penalty on the slopes of the standardised features; default 1 (keeps separable data finite). */
  lambda?: number;
  /** Most Newton steps per fit, warm-started from the last fit; default 25. */
  iterations?: number;
}

/** Shape of LogisticRegression's toJSON(). */
export interface LogisticRegressionState {
  dimensions: number;
  lambda: number;
  iterations: number;
  /** Weights on the standardised features, intercept first. */
  weights: number[];
  mean: number[];
  std: number[];
}

/**
 * Binary logistic regression, P(label = 1 | x) = 1 / (1 + exp(-(w0 + w . z))), z the features
 * standardised by the fit data's mean and deviation, fitted by Newton's method (iteratively
 * reweighted least squares, with step halving) with an L2 penalty on the slopes. A batch fit over the pairs given,
 * warm-started from the previous one, so refitting a sliding window takes a few steps. As a
 * PointPredictor it predicts the probability of label 1.
 */
export class LogisticRegression implements PointPredictor {
  readonly dimensions: number;
  readonly lambda: number;
  readonly iterations: number;
  private w: Float64Array;
  private mean: Float64Array;
  private std: Float64Array;

  constructor(options: LogisticRegressionOptions) {
    const { dimensions } = options;
    if (!Number.isInteger(dimensions) || dimensions < 0) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `dimensions must be an integer >= 0, got ${dimensions}`);
    }
    this.dimensions = dimensions;
    this.lambda = options.lambda ?? 1;
    if (!(this.lambda >= 0)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `lambda must be >= 0, got ${this.lambda}`);
    this.iterations = checkPositiveInteger('iterations', options.iterations ?? 25);
    this.w = new Float64Array(dimensions + 1);
    this.mean = new Float64Array(dimensions);
    this.std = new Float64Array(dimensions).fill(1);
  }

  /** The weights on the standardised features, intercept first. */
  weights(): number[] {
    return Array.from(this.w);
  }

  /** log(P(1 | x) / P(0 | x)). */
  logit(x: ArrayLike<number>): number {
    checkFeatureVector(x, this.dimensions);
    let value = this.w[0]!;
    for (let j = 0; j < this.dimensions; j += 1) value += this.w[j + 1]! * ((x[j]! - this.mean[j]!) / this.std[j]!);
    return value;
  }

  /** P(label = 1 | x). */
  predict(x: ArrayLike<number>): number {
    return 1 / (1 + Math.exp(-this.logit(x)));
  }

  /**
   * Fits on rows of `features` (row-major, `count` rows of `dimensions`) with 0/1 `labels`.
   * Each Newton step solves (Z^T S Z + lambda I') dw = Z^T (labels - p) - lambda I' w,
   * S = diag(p (1 - p)), I' the identity without the intercept.
   */
  fit(features: ArrayLike<number>, labels: ArrayLike<number>, count: number): void {
    const d = this.dimensions;
    const size = d + 1;
    if (features.length < count * d || labels.length < count) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `fit needs ${count} rows of ${d} features and ${count} labels`);
    }
    if (count === 0) return;
    this.standardiseBy(features, count);
    const z = new Float64Array(count * d);
    for (let i = 0; i < count; i += 1) {
      for (let j = 0; j < d; j += 1) z[i * d + j] = (features[i * d + j]! - this.mean[j]!) / this.std[j]!;
    }
    const objective = (weights: Float64Array): number => {
      let value = 0;
      for (let i = 0; i < count; i += 1) {
        const eta = linearValue(weights, z, i * d, d);
        // log(1 + e^eta) - label eta, without overflow for large |eta|.
        value += (eta > 0 ? eta + Math.log1p(Math.exp(-eta)) : Math.log1p(Math.exp(eta))) - labels[i]! * eta;
      }
      for (let j = 1; j < size; j += 1) value += (this.lambda / 2) * weights[j]! ** 2;
      return value;
    };
    let w = this.w;
    let current = objective(w);
    for (let step = 0; step < this.iterations; step += 1) {
      const a = new Float64Array(size * size);
      const g = new Float64Array(size);
      for (let i = 0; i < count; i += 1) {
        const p = 1 / (1 + Math.exp(-linearValue(w, z, i * d, d)));
        accumulateNormalEquations(a, g, z, i * d, d, p * (1 - p), labels[i]! - p);
      }
      for (let j = 1; j < size; j += 1) {
        a[j * size + j] += this.lambda;
        g[j] -= this.lambda * w[j]!;
      }
      symmetrise(a, size);
      const delta = solveSymmetric(a, g, size);
      // Newton's full step can overshoot from a far start (a warm start after the contexts have
      // moved): halve it until the penalised likelihood improves.
      let t = 1;
      let next = w;
      let value = current;
      for (let halving = 0; halving < 30; halving += 1, t /= 2) {
        const trial = w.map((v, j) => v + t * delta[j]!);
        const trialValue = objective(trial);
        if (trialValue <= current) {
          next = trial;
          value = trialValue;
          break;
        }
      }
      let change = 0;
      for (let j = 0; j < size; j += 1) change = Math.max(change, Math.abs(next[j]! - w[j]!));
      w = next;
      current = value;
      if (change < 1e-8) break;
    }
    this.w = w;
  }

  toJSON(): LogisticRegressionState {
    return { dimensions: this.dimensions, lambda: this.lambda, iterations: this.iterations, weights: this.weights(), mean: Array.from(this.mean), std: Array.from(this.std) };
  }

  static fromJSON(state: LogisticRegressionState): LogisticRegression {
    const model = new LogisticRegression(state);
    const d = state.dimensions;
    if (state.weights.length !== d + 1 || state.mean.length !== d || state.std.length !== d) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `a logistic regression state of ${d} dimensions needs ${d + 1} weights, ${d} means and ${d} deviations`);
    }
    model.w = Float64Array.from(state.weights);
    model.mean = Float64Array.from(state.mean);
    model.std = Float64Array.from(state.std);
    return model;
  }

  private standardiseBy(features: ArrayLike<number>, count: number): void {
    const d = this.dimensions;
    const mean = new Float64Array(d);
    const std = new Float64Array(d);
    for (let i = 0; i < count; i += 1) for (let j = 0; j < d; j += 1) mean[j] += features[i * d + j]! / count;
    for (let i = 0; i < count; i += 1) for (let j = 0; j < d; j += 1) std[j] += (features[i * d + j]! - mean[j]!) ** 2 / count;
    for (let j = 0; j < d; j += 1) {
      // A constant feature keeps unit scale: its slope stays at 0 under the penalty.
      std[j] = std[j]! > 1e-24 ? Math.sqrt(std[j]!) : 1;
    }
    // Keep the previous fit's function (approximately) as the warm start in the new coordinates.
    const w = Float64Array.from(this.w);
    for (let j = 0; j < d; j += 1) {
      const slope = this.w[j + 1]! / this.std[j]!;
      w[j + 1] = slope * std[j]!;
      w[0] += slope * (mean[j]! - this.mean[j]!);
    }
    this.w = w;
    this.mean = mean;
    this.std = std;
  }
}
