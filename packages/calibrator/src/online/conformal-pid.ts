import type { Features, PointPredictor } from '../types.js';
import { OnlineConformal, checkFinite, checkPositive, type OnlineConformalOptions, type OnlineConformalState } from './online-conformal.js';

export interface ConformalPidOptions extends OnlineConformalOptions {
  /** Proportional (quantile-tracking) step eta; with `proportional`, in units of the window's score range. Default 0.05. */
  learningRate?: number;
  /** Integral gain K_I; with `proportional`, in units of the window's score range. Default 1; 0 turns the integral term off. */
  integralGain?: number;
  /** Saturation constant C_sat of the integral term; default 5. */
  saturation?: number;
  /** Scale both gains by the window's score range (max - min), so the defaults fit any unit. Default true. */
  proportional?: boolean;
  /**
   * The optional "D" term: a model of the score itself from the features, learnt online from
   * (x, score) pairs (e.g. an OnlineRidge predicting the absolute residual). The P and I terms
   * then correct what it misses. Not part of toJSON: restore it on its own and pass it again.
   */
  scorecaster?: PointPredictor;
}

export const DEFAULT_PID_LEARNING_RATE = 0.05;
export const DEFAULT_PID_INTEGRAL_GAIN = 1;
export const DEFAULT_PID_SATURATION = 5;

export interface ConformalPidState extends OnlineConformalState {
  learningRate: number;
  integralGain: number;
  saturation: number;
  proportional: boolean;
  /** Steps since tracking started (0: still on the window's split-conformal quantile). */
  steps: number;
  /** The tracked quantile q_t (the offset to the scorecast, with a scorecaster). */
  tracked: number;
  /** sum over tracked steps of (err_i - alpha). */
  errorSum: number;
}

/**
 * Conformal PID control (Angelopoulos, Candès and Tibshirani, NeurIPS 2023, "Conformal PID
 * control for time series prediction"): track the score quantile itself rather than a level.
 *
 *   P: q_{t+1} = q_t + eta (err_t - alpha)                      (online quantile tracking)
 *   I: + r_t(S_t),  S_t = sum_{i<=t} (err_i - alpha),  r_t(x) = K_I tan(x ln(t+1) / (C_sat (t+1)))
 *   D: + g_{t+1}(x)                                             (a scorecaster, optional)
 *
 * and the interval is f(x) +- max(0, q). The P term alone keeps the long-run miss rate within
 * (B + eta) / (eta T) of alpha for scores bounded by B; the saturating integral adds a push that
 * grows with the accumulated coverage debt (to an infinite interval when the debt is as large as
 * C_sat (t+1) pi / (2 ln(t+1))). As in the paper's code, eta and K_I are proportional to the
 * recent score range. Tracking starts, from the window's split-conformal quantile, once the
 * window can bound alpha; before that the interval is that quantile (infinite until enough scores).
 */
export class ConformalPid extends OnlineConformal {
  readonly method: string = 'pid';
  readonly learningRate: number;
  readonly integralGain: number;
  readonly saturation: number;
  readonly proportional: boolean;
  private readonly scorecaster: PointPredictor | undefined;
  private steps = 0;
  private tracked = 0;
  private errorSum = 0;

  constructor(predictor: PointPredictor, options: ConformalPidOptions) {
    super(predictor, options);
    this.learningRate = options.learningRate ?? DEFAULT_PID_LEARNING_RATE;
    this.integralGain = options.integralGain ?? DEFAULT_PID_INTEGRAL_GAIN;
    this.saturation = options.saturation ?? DEFAULT_PID_SATURATION;
    this.proportional = options.proportional ?? true;
    checkPositive('learningRate', this.learningRate);
    checkPositive('integralGain', this.integralGain, true);
    checkPositive('saturation', this.saturation);
    this.scorecaster = options.scorecaster;
  }

  /** The integral term r_t(S_t) now (0 before tracking starts or with K_I = 0). */
  get integral(): number {
    return this.integralAt(this.scale());
  }

  /** The integral term at the window's scale (scale(), which learn() reads once for both terms). */
  private integralAt(scale: number): number {
    if (this.steps === 0 || this.integralGain === 0) return 0;
    const gain = this.integralGain * scale;
    if (gain === 0) return 0;
    const t = this.steps + 1;
    const angle = (this.errorSum * Math.log(t)) / (this.saturation * t);
    if (angle >= Math.PI / 2) return Number.POSITIVE_INFINITY;
    if (angle <= -Math.PI / 2) return Number.NEGATIVE_INFINITY;
    return gain * Math.tan(angle);
  }

  /** The proportional term's state q_t. */
  get trackedQuantile(): number {
    return this.tracked;
  }

  threshold(x: Features): number {
    return this.steps === 0 ? this.scores.quantile(this.alpha) : this.trackedThreshold(x, this.scale());
  }

  /** The threshold once tracking has started, at the window's scale. */
  private trackedThreshold(x: Features, scale: number): number {
    const q = this.tracked + this.integralAt(scale) + (this.scorecaster ? this.scorecaster.predict(x) : 0);
    // NaN only from +Inf + -Inf, which the two terms cannot both be; max() also maps -Inf to 0.
    return Math.max(0, q);
  }

  protected learn(score: number, x: Features, calibrated: boolean): void {
    if (calibrated) {
      // The window does not change within a step: its scale is read once for both terms.
      const scale = this.scale();
      const q = this.steps === 0 ? this.scores.quantile(this.alpha) : this.trackedThreshold(x, scale);
      const err = score > q ? 1 : 0;
      // Tracking starts from the threshold just used, so the first tracked interval is the split one.
      if (this.steps === 0) this.tracked = q - (this.scorecaster ? this.scorecaster.predict(x) : 0);
      this.tracked += this.learningRate * scale * (err - this.alpha);
      this.errorSum += err - this.alpha;
      this.steps += 1;
    }
    this.scorecaster?.update?.(x, score);
  }

  /** 1, or the window's score range when proportional (the scores before this one). */
  private scale(): number {
    if (!this.proportional) return 1;
    const n = this.scores.size;
    return n === 0 ? 0 : this.scores.kth(n) - this.scores.kth(1);
  }

  toJSON(): ConformalPidState {
    return {
      ...this.baseState(),
      learningRate: this.learningRate,
      integralGain: this.integralGain,
      saturation: this.saturation,
      proportional: this.proportional,
      steps: this.steps,
      tracked: this.tracked,
      errorSum: this.errorSum,
    };
  }

  static fromJSON(state: ConformalPidState, predictor: PointPredictor, options: Pick<ConformalPidOptions, 'score' | 'scorecaster' | 'scores'> = {}): ConformalPid {
    const pid = new ConformalPid(predictor, {
      alpha: state.alpha,
      window: state.window,
      learningRate: state.learningRate,
      integralGain: state.integralGain,
      saturation: state.saturation,
      proportional: state.proportional,
      ...options,
    });
    pid.restoreBase(state);
    checkPositive('steps', state.steps, true);
    checkFinite('tracked', state.tracked);
    checkFinite('errorSum', state.errorSum);
    pid.steps = Math.floor(state.steps);
    pid.tracked = state.tracked;
    pid.errorSum = state.errorSum;
    return pid;
  }
}
