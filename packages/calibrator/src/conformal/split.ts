import type { Features, IntervalPrediction, IntervalPredictor, PointPredictor } from '../types.js';
import { ScoreWindow, checkAlpha } from './score-window.js';

export interface SplitConformalOptions {
  /** Miscoverage: intervals hold the target with probability >= 1 - alpha. */
  alpha: number;
  /** Calibration scores kept (the newest); default 500. */
  window?: number;
}

export const DEFAULT_CALIBRATION_WINDOW = 500;

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

  constructor(protected readonly predictor: PointPredictor, options: SplitConformalOptions) {
    checkAlpha(options.alpha);
    this.alpha = options.alpha;
    this.scores = new ScoreWindow(options.window ?? DEFAULT_CALIBRATION_WINDOW);
  }

  predict(x: Features): IntervalPrediction {
    const point = this.predictor.predict(x);
    const q = this.scores.quantile(this.alpha);
    return { point, lower: point - q, upper: point + q, alpha: this.alpha, method: this.method, n: this.scores.size };
  }

  observe(x: Features, y: number): void {
    this.scores.add(Math.abs(y - this.predictor.predict(x)));
    this.predictor.update?.(x, y);
  }

  toJSON(): unknown {
    return { method: this.method, alpha: this.alpha, window: this.scores.capacity, scores: this.scores.values() };
  }
}
