import type { Features, PointPredictor } from '../types.js';
import { OnlineConformal, checkFinite, checkPositive, thresholdAt, type OnlineConformalOptions, type OnlineConformalState } from './online-conformal.js';

export interface AdaptiveConformalOptions extends OnlineConformalOptions {
  /** Step size gamma of the level update; default 0.005 (Gibbs and Candès 2021). */
  gamma?: number;
}

export const DEFAULT_ACI_GAMMA = 0.005;

export interface AdaptiveConformalState extends OnlineConformalState {
  gamma: number;
  /** The working level alpha_t. */
  level: number;
}

/**
 * Adaptive conformal inference (Gibbs and Candès, NeurIPS 2021): the interval at time t is the
 * window's conformal quantile at a working level alpha_t, and after each target
 *
 *   alpha_{t+1} = alpha_t + gamma (alpha - err_t),   err_t = 1 if the target fell outside,
 *
 * so misses widen the next intervals and hits narrow them. Whatever the data do, the long-run
 * miss rate is within (max(alpha_1, 1 - alpha_1) + gamma) / (gamma T) of alpha after T steps.
 * alpha_t may leave (0, 1): see thresholdAt for what the interval is then.
 */
export class AdaptiveConformal extends OnlineConformal {
  readonly method: string = 'aci';
  readonly gamma: number;
  private level: number;

  constructor(predictor: PointPredictor, options: AdaptiveConformalOptions) {
    super(predictor, options);
    this.gamma = options.gamma ?? DEFAULT_ACI_GAMMA;
    checkPositive('gamma', this.gamma);
    this.level = this.alpha;
  }

  /** The working miscoverage level alpha_t the next interval is built at. */
  get currentAlpha(): number {
    return this.level;
  }

  threshold(_x?: Features): number {
    return thresholdAt(this.scores, this.level);
  }

  protected learn(score: number, _x: Features, calibrated: boolean): void {
    if (!calibrated) return;
    const err = score > this.threshold() ? 1 : 0;
    this.level += this.gamma * (this.alpha - err);
  }

  toJSON(): AdaptiveConformalState {
    return { ...this.baseState(), gamma: this.gamma, level: this.level };
  }

  /** Rebuilds the method from toJSON()'s output over a predictor (restored on its own) and the same score. */
  static fromJSON(state: AdaptiveConformalState, predictor: PointPredictor, score?: OnlineConformalOptions['score']): AdaptiveConformal {
    const aci = new AdaptiveConformal(predictor, { alpha: state.alpha, window: state.window, gamma: state.gamma, ...(score ? { score } : {}) });
    aci.restoreBase(state);
    checkFinite('level', state.level);
    aci.level = state.level;
    return aci;
  }
}
