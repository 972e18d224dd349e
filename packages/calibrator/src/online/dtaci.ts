import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { Features, PointPredictor } from '../types.js';
import { OnlineConformal, checkFinite, checkPositive, coverageLevel, thresholdAt, type OnlineConformalOptions, type OnlineConformalState } from './online-conformal.js';

export interface DynamicallyTunedOptions extends OnlineConformalOptions {
  /** The experts' ACI step sizes; default the paper's 0.001 * 2^j, j = 0..7. */
  gammas?: readonly number[];
  /** The horizon I the weights are tuned for (shifts are tracked over about I steps); default 500. */
  horizon?: number;
  /** Weight each expert keeps whatever its losses (fixed share); default 1 / (2 I). */
  sigma?: number;
  /** Learning rate of the exponential weights; default the paper's choice for I, k and alpha (2.7 at alpha 0.1, I 500, k 8). */
  eta?: number;
}

export const DEFAULT_DTACI_GAMMAS: readonly number[] = [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128];
export const DEFAULT_DTACI_HORIZON = 100;

export interface DynamicallyTunedState extends OnlineConformalState {
  gammas: number[];
  sigma: number;
  eta: number;
  /** Each expert's working level alpha_t^i. */
  levels: number[];
  /** Each expert's weight (they sum to 1). */
  weights: number[];
}

/**
 * The pinball loss of level theta against beta at quantile alpha:
 * alpha (beta - theta) - min(0, beta - theta). It is smallest at the theta that would have just
 * held the target, and a level that is too high (a miss) costs (1 - alpha) per unit, too low alpha.
 */
export function pinballLoss(beta: number, theta: number, alpha: number): number {
  const d = beta - theta;
  return alpha * d - Math.min(0, d);
}

/**
 * Dynamically-tuned adaptive conformal inference, DtACI (Gibbs and Candès, "Conformal inference
 * for online prediction with arbitrary distribution shifts", JMLR 2024, arXiv 2208.08401): ACI
 * needs a step size gamma chosen for a drift it does not know (small: stable but slow after a
 * shift; large: fast but jittery). DtACI runs k ACI experts with different gammas and follows
 * them with exponential weights on the pinball loss of their levels, with a fixed share sigma so
 * an expert that was wrong before the shift can take over after it:
 *
 *   beta_t = sup{ b : Y_t in C_t(b) },   l_t^i = pinball(beta_t, alpha_t^i)
 *   w~^i = w_t^i exp(-eta l_t^i),   w_{t+1}^i = (1 - sigma) w~^i / sum_j w~^j + sigma / k
 *   alpha_{t+1}^i = alpha_t^i + gamma_i (alpha - err_t^i)
 *
 * The interval is built at alpha_t = sum_i w_t^i alpha_t^i (the paper's deterministic variant,
 * as in its reference code), so no randomness enters the intervals. Its strongly-adaptive regret
 * bound makes it track the best gamma over every window of about I steps.
 */
export class DynamicallyTunedConformal extends OnlineConformal {
  readonly method: string = 'dtaci';
  readonly gammas: readonly number[];
  readonly sigma: number;
  readonly eta: number;
  private readonly levels: Float64Array;
  private readonly weights: Float64Array;

  constructor(predictor: PointPredictor, options: DynamicallyTunedOptions) {
    super(predictor, options);
    const gammas = options.gammas ?? DEFAULT_DTACI_GAMMAS;
    if (gammas.length === 0) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'DtACI needs at least one gamma');
    gammas.forEach((g, i) => checkPositive(`gammas[${i}]`, g));
    const horizon = options.horizon ?? DEFAULT_DTACI_HORIZON;
    checkPositive('horizon', horizon);
    this.gammas = [...gammas];
    this.sigma = options.sigma ?? 1 / (2 * horizon);
    if (!(this.sigma >= 0 && this.sigma < 1)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `sigma must be in [0, 1), got ${this.sigma}`);
    this.eta = options.eta ?? defaultEta(this.alpha, horizon, gammas.length);
    checkPositive('eta', this.eta);
    const k = gammas.length;
    this.levels = new Float64Array(k).fill(this.alpha);
    this.weights = new Float64Array(k).fill(1 / k);
  }

  /** The working level alpha_t: the experts' levels averaged by weight. */
  get currentAlpha(): number {
    let level = 0;
    for (let i = 0; i < this.levels.length; i += 1) level += this.weights[i]! * this.levels[i]!;
    return level;
  }

  /** The step size the weights favour now: sum_i w_t^i gamma_i. */
  get currentGamma(): number {
    let gamma = 0;
    for (let i = 0; i < this.gammas.length; i += 1) gamma += this.weights[i]! * this.gammas[i]!;
    return gamma;
  }

  expertLevels(): number[] {
    return Array.from(this.levels);
  }

  expertWeights(): number[] {
    return Array.from(this.weights);
  }

  threshold(_x?: Features): number {
    return thresholdAt(this.scores, this.currentAlpha);
  }

  protected learn(score: number, _x: Features, calibrated: boolean): void {
    if (!calibrated) return;
    const { levels, weights, gammas, alpha, eta } = this;
    const k = levels.length;
    const beta = coverageLevel(this.scores, score);
    let total = 0;
    for (let i = 0; i < k; i += 1) {
      const level = levels[i]!;
      const w = weights[i]! * Math.exp(-eta * pinballLoss(beta, level, alpha));
      weights[i] = w;
      total += w;
      const err = score > thresholdAt(this.scores, level) ? 1 : 0;
      levels[i] = level + gammas[i]! * (alpha - err);
    }
    // Renormalising every step keeps the weights far from underflow; the losses are bounded
    // (ACI keeps each level within [-gamma, 1 + gamma]), so total > 0.
    const share = this.sigma / k;
    for (let i = 0; i < k; i += 1) weights[i] = ((1 - this.sigma) * weights[i]!) / total + share;
  }

  toJSON(): DynamicallyTunedState {
    return { ...this.baseState(), gammas: [...this.gammas], sigma: this.sigma, eta: this.eta, levels: this.expertLevels(), weights: this.expertWeights() };
  }

  static fromJSON(state: DynamicallyTunedState, predictor: PointPredictor, score?: OnlineConformalOptions['score']): DynamicallyTunedConformal {
    const dtaci = new DynamicallyTunedConformal(predictor, {
      alpha: state.alpha, window: state.window, gammas: state.gammas, sigma: state.sigma, eta: state.eta, ...(score ? { score } : {}),
    });
    dtaci.restoreBase(state);
    const k = state.gammas.length;
    if (state.levels.length !== k || state.weights.length !== k) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `a DtACI state needs ${k} levels and weights, got ${state.levels.length} and ${state.weights.length}`);
    }
    state.levels.forEach((v, i) => checkFinite(`levels[${i}]`, v));
    state.weights.forEach((v, i) => checkPositive(`weights[${i}]`, v, true));
    dtaci.levels.set(state.levels);
    dtaci.weights.set(state.weights);
    return dtaci;
  }
}

/**
 * The paper's eta for horizon I, k experts and level alpha (Gibbs and Candès 2024, section 3):
 * sqrt(3 / I) sqrt((ln(k I) + 2) / ((1 - alpha)^2 alpha^3 + alpha^2 (1 - alpha)^3)).
 */
export function defaultEta(alpha: number, horizon: number, experts: number): number {
  const spread = (1 - alpha) ** 2 * alpha ** 3 + alpha ** 2 * (1 - alpha) ** 3;
  return Math.sqrt(3 / horizon) * Math.sqrt((Math.log(experts * horizon) + 2) / spread);
}
