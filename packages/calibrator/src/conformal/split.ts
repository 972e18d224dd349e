import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { Features, IntervalPrediction, IntervalPredictor, PointPredictor } from '../types.js';
import { ScoreWindow, checkAlpha } from './score-window.js';

export interface SplitConformalOptions {
  /** Miscoverage: intervals hold the target with probability >= 1 - alpha. */
  alpha: number;
  /** Calibration scores kept (the newest); default 500. */
  window?: number;
  /**
   * A window that its owner fills with exactly the scores this method would add, in the same
   * order (|y - f(x)| of the same predictor): several methods of the same scores (other alphas,
   * conformal PID) then keep one window between them (CandidateModel keeps one per metric). The
   * method reads it, and observe() adds nothing. `window`, if given, must be its capacity.
   */
  scores?: ScoreWindow;
}

export const DEFAULT_CALIBRATION_WINDOW = 500;

/** A method's window: `shared` when given (see SplitConformalOptions.scores), else its own of `window` scores. */
export function calibrationWindow(window: number | undefined, shared: ScoreWindow | undefined): ScoreWindow {
  if (!shared) return new ScoreWindow(window ?? DEFAULT_CALIBRATION_WINDOW);
  if (window !== undefined && window !== shared.capacity) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `window ${window} differs from the shared window's capacity ${shared.capacity}`);
  }
  return shared;
}

/**
 * Split conformal prediction with the absolute residual score |y - f(x)| (Vovk et al. 2005;
 * Lei et al. 2018): the interval is f(x) +- the conformal quantile of the window's scores.
 * Run online, each target is scored against the predictor as it was when the target arrived,
 * then the predictor may learn from it (its `update`), so a score never saw its own target.
 */
export class SplitConformal implements IntervalPredictor {
  readonly method: string = 'split';
  readonly alpha: number;
  protected readonly scores: ScoreWindow;
  /** False when the window is shared: its owner adds the scores. */
  protected readonly ownsScores: boolean;

  constructor(protected readonly predictor: PointPredictor, options: SplitConformalOptions) {
    checkAlpha(options.alpha);
    this.alpha = options.alpha;
    this.scores = calibrationWindow(options.window, options.scores);
    this.ownsScores = options.scores === undefined;
  }

  predict(x: Features): IntervalPrediction {
    const point = this.predictor.predict(x);
    const q = this.scores.quantile(this.alpha);
    return { point, lower: point - q, upper: point + q, alpha: this.alpha, method: this.method, n: this.scores.size };
  }

  observe(x: Features, y: number): void {
    if (this.ownsScores) this.scores.add(Math.abs(y - this.predictor.predict(x)));
    this.predictor.update?.(x, y);
  }

  toJSON(): unknown {
    return { method: this.method, alpha: this.alpha, window: this.scores.capacity, scores: this.scores.values() };
  }
}
