import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { OnlineRidge } from '../predictors/online-ridge.js';
import type { Features, IntervalPrediction, PointPredictor } from '../types.js';
import { SplitConformal, type SplitConformalOptions } from './split.js';

export interface NormalizedConformalOptions extends SplitConformalOptions {
  /**
   * The difficulty model sigma(x): how large |y - f(x)| tends to be at x. Its `update`, if any,
   * learns from (x, |y - f(x)|). Default: an OnlineRidge on the features, fitted to the absolute
   * residuals.
   */
  difficulty?: PointPredictor;
  /** sigma(x) is floored here, so a model that dips to 0 or below cannot blow a score up; default 1e-6. */
  epsilon?: number;
}

/** An interval of the normalised method, with the difficulty it was scaled by. */
export interface NormalizedPrediction extends IntervalPrediction {
  /** sigma(x) after the floor: the interval is point +- q sigma(x). */
  scale: number;
}

/**
 * Split conformal with the normalised (difficulty-scaled) score |y - f(x)| / sigma(x)
 * (Papadopoulos et al. 2008; Lei et al. 2018, section 5.2): the interval f(x) +- q sigma(x) is
 * narrow where the difficulty model expects small errors and wide where it expects large ones,
 * with the same marginal guarantee as the absolute score. Online, each target is scored against
 * f and sigma as they were before it arrived; then sigma learns |y - f(x)| and f learns y.
 */
export class NormalizedConformal extends SplitConformal {
  override readonly method: string = 'normalized';
  readonly epsilon: number;
  private difficulty: PointPredictor | undefined;

  constructor(predictor: PointPredictor, options: NormalizedConformalOptions) {
    super(predictor, options);
    this.epsilon = options.epsilon ?? 1e-6;
    if (!(this.epsilon > 0)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `epsilon must be > 0, got ${this.epsilon}`);
    this.difficulty = options.difficulty;
  }

  /** sigma(x), floored at epsilon. */
  scale(x: Features): number {
    const sigma = this.difficultyFor(x).predict(x);
    // NaN from a user model falls to the floor too rather than poisoning the window.
    return sigma > this.epsilon ? sigma : this.epsilon;
  }

  override predict(x: Features): NormalizedPrediction {
    const point = this.predictor.predict(x);
    const scale = this.scale(x);
    const q = this.scores.quantile(this.alpha);
    // q * scale is NaN only for an infinite q, where the interval is unbounded anyway.
    const half = q === Number.POSITIVE_INFINITY ? q : q * scale;
    return { point, lower: point - half, upper: point + half, alpha: this.alpha, method: this.method, n: this.scores.size, scale };
  }

  override observe(x: Features, y: number): void {
    const residual = Math.abs(y - this.predictor.predict(x));
    this.scores.add(residual / this.scale(x));
    this.difficultyFor(x).update?.(x, residual);
    this.predictor.update?.(x, y);
  }

  override toJSON(): unknown {
    const difficulty = this.difficulty as { toJSON?: () => unknown } | undefined;
    return { ...(super.toJSON() as object), epsilon: this.epsilon, difficulty: difficulty?.toJSON?.() ?? null };
  }

  private difficultyFor(x: Features): PointPredictor {
    // The default model is made on first use, when the feature count is known.
    this.difficulty ??= new OnlineRidge({ dimensions: x.length });
    return this.difficulty;
  }
}
