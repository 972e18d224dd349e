import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { Features, PointPredictor } from '../types.js';

export interface OnlineRidgeOptions {
  /** Number of features (an intercept is added). */
  dimensions: number;
  /** Ridge penalty: the prior precision of the weights; default 1. */
  lambda?: number;
  /** Forgetting factor in (0, 1]: 1 weighs all history equally, 0.99 halves a sample's weight in ~69 updates. Default 1. */
  forgetting?: number;
  /** Prior weights (intercept first), e.g. from a profile; default zeros. */
  prior?: readonly number[];
  /**
   * Where the weights live (dimensions + 1 doubles, overwritten): e.g. a view into one buffer
   * that the predictors read together share (CandidateModel reads a candidate's six at once).
   * Default: its own.
   */
  weightStorage?: Float64Array;
}

/**
 * Linear regression y ~ w0 + w . x learnt online by recursive least squares (exponentially
 * weighted, ridge-regularised): O(d^2) per update with no matrix inversion, so a predictor per
 * candidate and metric stays cheap. The state (weights and inverse covariance) is plain arrays,
 * JSON-safe for save and restore.
 */
export class OnlineRidge implements PointPredictor {
  readonly dimensions: number;
  readonly forgetting: number;
  private readonly w: Float64Array;
  /** P = inverse of (lambda I + sum x x^T), row-major (d+1) x (d+1). */
  private readonly p: Float64Array;
  private readonly scratch: Float64Array;
  private count = 0;
  /** Whether P is exactly symmetric (always, but after restoring an asymmetric one): see update(). */
  private symmetric = true;

  constructor(options: OnlineRidgeOptions) {
    const { dimensions } = options;
    if (!Number.isInteger(dimensions) || dimensions < 0) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `dimensions must be an integer >= 0, got ${dimensions}`);
    }
    const lambda = options.lambda ?? 1;
    const forgetting = options.forgetting ?? 1;
    if (!(lambda > 0)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `lambda must be > 0, got ${lambda}`);
    if (!(forgetting > 0 && forgetting <= 1)) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `forgetting must be in (0, 1], got ${forgetting}`);
    }
    this.dimensions = dimensions;
    this.forgetting = forgetting;
    const d = dimensions + 1;
    if (options.weightStorage && options.weightStorage.length !== d) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `weightStorage must hold ${d} weights (intercept first), got ${options.weightStorage.length}`);
    }
    this.w = options.weightStorage?.fill(0) ?? new Float64Array(d);
    if (options.prior) {
      if (options.prior.length !== d) {
        throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `prior must have ${d} weights (intercept first), got ${options.prior.length}`);
      }
      this.w.set(options.prior);
    }
    this.p = new Float64Array(d * d);
    for (let i = 0; i < d; i += 1) this.p[i * d + i] = 1 / lambda;
    this.scratch = new Float64Array(2 * d);
  }

  /** Observations learnt from. */
  get observations(): number {
    return this.count;
  }

  /** The weights, intercept first. */
  weights(): number[] {
    return Array.from(this.w);
  }

  predict(x: Features): number {
    this.checkFeatures(x);
    let y = this.w[0]!;
    for (let i = 0; i < this.dimensions; i += 1) y += this.w[i + 1]! * x[i]!;
    return y;
  }

  update(x: Features, y: number): void {
    this.checkFeatures(x);
    if (!Number.isFinite(y)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `a target must be finite, got ${y}`);
    const d = this.dimensions + 1;
    const { p, w, forgetting, scratch } = this;
    // scratch holds px = P z in [0, d) and z = (1, x) in [d, 2d): no allocation per update.
    scratch[d] = 1;
    for (let i = 1; i < d; i += 1) scratch[d + i] = x[i - 1]!;
    // px = P z; denominator = forgetting + z^T P z
    let denominator = forgetting;
    for (let i = 0; i < d; i += 1) {
      let s = 0;
      for (let j = 0; j < d; j += 1) s += p[i * d + j]! * scratch[d + j]!;
      scratch[i] = s;
      denominator += scratch[d + i]! * s;
    }
    const error = y - this.predict(x);
    // Multiplications by the reciprocals: d^2 divisions were most of an update's time.
    const gain = 1 / denominator;
    for (let i = 0; i < d; i += 1) w[i] = w[i]! + scratch[i]! * gain * error;
    // P = (P - px px^T / denominator) / forgetting
    const decay = 1 / forgetting;
    // (px_i px_j) first: a product of two is commutative in floating point, so P stays exactly
    // symmetric; an asymmetric P drifts, and with forgetting < 1 the drift grows without bound.
    // The same commutativity makes entry (j, i) the same sum as (i, j): an exactly symmetric P
    // needs only its upper triangle computed, and the lower copied (a P restored asymmetric is
    // updated whole, as it always was).
    if (this.symmetric) {
      for (let i = 0; i < d; i += 1) {
        const pxi = scratch[i]!;
        for (let j = i; j < d; j += 1) {
          const v = (p[i * d + j]! - pxi * scratch[j]! * gain) * decay;
          p[i * d + j] = v;
          p[j * d + i] = v;
        }
      }
    } else {
      for (let i = 0; i < d; i += 1) {
        const pxi = scratch[i]!;
        for (let j = 0; j < d; j += 1) p[i * d + j] = (p[i * d + j]! - pxi * scratch[j]! * gain) * decay;
      }
    }
    this.count += 1;
  }

  toJSON(): { dimensions: number; forgetting: number; weights: number[]; inverseCovariance: number[]; observations: number } {
    return { dimensions: this.dimensions, forgetting: this.forgetting, weights: this.weights(), inverseCovariance: Array.from(this.p), observations: this.count };
  }

  /** Rebuilds a predictor from toJSON()'s output (its weights in `weightStorage`, if given; see the option). */
  static fromJSON(state: ReturnType<OnlineRidge['toJSON']>, weightStorage?: Float64Array): OnlineRidge {
    const model = new OnlineRidge({ dimensions: state.dimensions, forgetting: state.forgetting, prior: state.weights, ...(weightStorage ? { weightStorage } : {}) });
    const d = state.dimensions + 1;
    if (state.inverseCovariance.length !== d * d) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `inverseCovariance must have ${d * d} entries, got ${state.inverseCovariance.length}`);
    }
    model.p.set(state.inverseCovariance);
    model.symmetric = isSymmetric(model.p, d);
    model.count = state.observations;
    return model;
  }

  private checkFeatures(x: Features): void {
    if (x.length !== this.dimensions) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `expected ${this.dimensions} features, got ${x.length}`);
    }
  }
}

/** Whether a row-major d x d matrix equals its transpose exactly. */
function isSymmetric(a: Float64Array, d: number): boolean {
  for (let i = 0; i < d; i += 1) for (let j = i + 1; j < d; j += 1) if (!Object.is(a[i * d + j], a[j * d + i])) return false;
  return true;
}
