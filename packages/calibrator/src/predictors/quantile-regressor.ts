import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { checkWindow } from '../conformal/score-window.js';
import type { Features, PointPredictor } from '../types.js';
import { accumulateNormalEquations, checkFeatureVector, checkPositiveInteger, linearValue, solveSymmetric, symmetrise } from './linear-system.js';

export interface QuantileRegressorOptions {
  /** Number of features (an intercept is added). */
  dimensions: number;
  /** The quantile level tau in (0, 1): 0.5 the median, 0.95 an upper band. */
  quantile: number;
  /** Pairs the fit rests on (the newest); default 500. */
  window?: number;
  /** Refit after this many new pairs; default 25 (sooner while the window is small). */
  refitEvery?: number;
  /** Most majorise-minimise steps per refit, warm-started from the last fit (few are needed: the window moves little between refits); default 5. */
  iterations?: number;
  /** Ridge penalty on the slopes, relative to the fit's total weight, only to keep a degenerate window solvable; default 1e-6. */
  lambda?: number;
}

/** Shape of QuantileRegressor's toJSON(). */
export interface QuantileRegressorState {
  dimensions: number;
  quantile: number;
  window: number;
  refitEvery: number;
  iterations: number;
  lambda: number;
  weights: number[];
  /** The window's pairs, oldest first. */
  samples: { x: number[]; y: number }[];
  sinceFit: number;
}

export const DEFAULT_QUANTILE_WINDOW = 500;

/**
 * Linear quantile regression (Koenker and Bassett 1978): w minimises the pinball loss
 * sum rho_tau(y_i - w . x_i), rho_tau(r) = r (tau - 1[r < 0]), over a sliding window of pairs.
 * The fit is the majorise-minimise iteration of Hunter and Lange (2000): each step solves a
 * weighted least-squares system with weights 1 / (2 (eps + |r_i|)) from the last residuals and
 * never increases the (eps-smoothed) loss; warm starts make a few steps per refit enough. A
 * step costs O(window d^2) and refits run every `refitEvery` pairs, so an update is O(d) plus
 * that cost amortised, with no sort.
 */
export class QuantileRegressor implements PointPredictor {
  readonly dimensions: number;
  readonly quantile: number;
  readonly window: number;
  private readonly refitEvery: number;
  private readonly iterations: number;
  private readonly lambda: number;
  /** The window as a ring: features row-major, targets; `next` is the slot the next pair takes. */
  private readonly xs: Float64Array;
  private readonly ys: Float64Array;
  private size = 0;
  private next = 0;
  private w: Float64Array;
  private sinceFit = 0;

  constructor(options: QuantileRegressorOptions) {
    const { dimensions, quantile } = options;
    if (!Number.isInteger(dimensions) || dimensions < 0) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `dimensions must be an integer >= 0, got ${dimensions}`);
    }
    if (!(quantile > 0 && quantile < 1)) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `quantile must be in (0, 1), got ${quantile}`);
    }
    this.window = options.window ?? DEFAULT_QUANTILE_WINDOW;
    checkWindow(this.window);
    this.refitEvery = checkPositiveInteger('refitEvery', options.refitEvery ?? 25);
    this.iterations = checkPositiveInteger('iterations', options.iterations ?? 5);
    this.lambda = options.lambda ?? 1e-6;
    if (!(this.lambda >= 0)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `lambda must be >= 0, got ${this.lambda}`);
    this.dimensions = dimensions;
    this.quantile = quantile;
    this.xs = new Float64Array(this.window * dimensions);
    this.ys = new Float64Array(this.window);
    this.w = new Float64Array(dimensions + 1);
  }

  /** Pairs in the window. */
  get observations(): number {
    return this.size;
  }

  /** The weights, intercept first. */
  weights(): number[] {
    return Array.from(this.w);
  }

  predict(x: Features): number {
    checkFeatureVector(x, this.dimensions);
    return linearValue(this.w, x);
  }

  update(x: Features, y: number): void {
    checkFeatureVector(x, this.dimensions);
    if (!Number.isFinite(y)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `a target must be finite, got ${y}`);
    this.store(x, y);
    this.sinceFit += 1;
    // While the window is small a refit is cheap and each pair moves the fit a lot.
    if (this.sinceFit >= this.refitEvery || this.sinceFit * 10 >= this.size) this.refit();
  }

  /** Refits on the window now (the update schedule does this by itself). */
  refit(): void {
    const n = this.size;
    if (n === 0) return;
    const d = this.dimensions;
    const size = d + 1;
    const tau = this.quantile;
    const { xs, ys } = this;
    const residuals = new Float64Array(n);
    let w = this.w;
    let previousLoss = Number.POSITIVE_INFINITY;
    for (let step = 0; step < this.iterations; step += 1) {
      let loss = 0;
      let sumAbs = 0;
      for (let i = 0; i < n; i += 1) {
        const r = ys[i]! - linearValue(w, xs, i * d, d);
        residuals[i] = r;
        loss += r * (tau - (r < 0 ? 1 : 0));
        sumAbs += Math.abs(r);
      }
      // Steps never increase the loss; stop once they no longer change it materially (the
      // sampling error of a window's quantile is far larger).
      if (previousLoss - loss <= 1e-5 * loss) break;
      previousLoss = loss;
      // eps smooths |r| at 0, relative to the residuals' scale so the fit does not depend on units.
      const eps = 1e-4 * (sumAbs / n) + 1e-12;
      const a = new Float64Array(size * size);
      const rhs = new Float64Array(size);
      for (let i = 0; i < n; i += 1) {
        const v = 1 / (2 * (eps + Math.abs(residuals[i]!)));
        // The surrogate's stationarity: sum v z z^T w = sum z (v y + tau - 1/2), z = (1, x).
        accumulateNormalEquations(a, rhs, xs, i * d, d, v, v * ys[i]! + tau - 0.5);
      }
      // Relative to the total weight, so the ridge keeps its meaning when a window of d + 1
      // points is fitted exactly and their weights grow without bound.
      const ridge = this.lambda * a[0]!;
      for (let j = 1; j < size; j += 1) a[j * size + j] += ridge;
      symmetrise(a, size);
      w = solveSymmetric(a, rhs, size);
    }
    this.w = w;
    this.sinceFit = 0;
  }

  toJSON(): QuantileRegressorState {
    const samples: { x: number[]; y: number }[] = [];
    const start = this.size < this.window ? 0 : this.next;
    for (let k = 0; k < this.size; k += 1) {
      const i = (start + k) % this.window;
      samples.push({ x: Array.from(this.xs.subarray(i * this.dimensions, (i + 1) * this.dimensions)), y: this.ys[i]! });
    }
    const { dimensions, quantile, window, refitEvery, iterations, lambda, sinceFit } = this;
    return { dimensions, quantile, window, refitEvery, iterations, lambda, weights: this.weights(), samples, sinceFit };
  }

  /** Rebuilds a regressor from toJSON()'s output; it predicts and refits as the original would. */
  static fromJSON(state: QuantileRegressorState): QuantileRegressor {
    const model = new QuantileRegressor(state);
    if (state.weights.length !== state.dimensions + 1) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `weights must have ${state.dimensions + 1} entries, got ${state.weights.length}`);
    }
    for (const { x, y } of state.samples) {
      checkFeatureVector(x, state.dimensions);
      model.store(x, y);
    }
    model.w = Float64Array.from(state.weights);
    model.sinceFit = state.sinceFit;
    return model;
  }

  private store(x: Features, y: number): void {
    for (let j = 0; j < this.dimensions; j += 1) this.xs[this.next * this.dimensions + j] = x[j]!;
    this.ys[this.next] = y;
    this.next = (this.next + 1) % this.window;
    if (this.size < this.window) this.size += 1;
  }
}
