import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { Features, IntervalPrediction, IntervalPredictor, PointPredictor } from '../types.js';
import { ScoreWindow, checkAlpha } from '../conformal/score-window.js';
import { calibrationWindow } from '../conformal/split.js';
import { absoluteResidual, type ConformityScore } from './conformity-score.js';

export interface OnlineConformalOptions {
  /** Target long-run miscoverage: in the long run, at most about alpha of the targets fall outside. */
  alpha: number;
  /** Calibration scores kept (the newest); default 500. */
  window?: number;
  /** A window its owner fills with this method's scores, shared with other methods of them (see SplitConformalOptions.scores). */
  scores?: ScoreWindow;
  /** Nonconformity score; default |y - f(x)|. Not part of toJSON: pass it again to fromJSON. */
  score?: ConformityScore;
}

/**
 * The window's score threshold at a miscoverage level anywhere on the real line. Adaptive
 * methods push their working level outside (0, 1) after runs of misses or of hits: at or below
 * 0 no finite threshold is safe enough (an infinite interval), at or above 1 even the smallest
 * score is too generous (threshold 0, a point interval, as close to the empty set as an interval
 * of nonnegative scores gets; it misses every target off the point, which drives the level back).
 */
export function thresholdAt(window: ScoreWindow, level: number): number {
  if (level <= 0) return Number.POSITIVE_INFINITY;
  if (level >= 1) return 0;
  return window.quantile(level);
}

/**
 * beta = sup{ level : score <= thresholdAt(window, level) } = 1 - #{window scores < score} / (n + 1):
 * the largest miscoverage level whose interval would still have held this score (Gibbs and
 * Candès 2022 call it beta_t). An empty window holds every score at every level below 1.
 */
export function coverageLevel(window: ScoreWindow, score: number): number {
  return 1 - window.countBelow(score) / (window.size + 1);
}

/** Refuses a value that is not finite and > 0 (or >= 0 with `allowZero`). */
export function checkPositive(name: string, value: number, allowZero = false): void {
  if (!Number.isFinite(value) || value < 0 || (value === 0 && !allowZero)) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${name} must be a finite number ${allowZero ? '>= 0' : '> 0'}, got ${value}`);
  }
}

/** Refuses a value that is not a finite number (a restored state's fields). */
export function checkFinite(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${name} must be a finite number, got ${String(value)}`);
  }
}

/** The state every online method's toJSON shares. */
export interface OnlineConformalState {
  method: string;
  alpha: number;
  window: number;
  score: string;
  /** Calibration scores, oldest first. */
  scores: number[];
}

/**
 * The deployment loop the online methods share: score each revealed target against the point
 * predictor as it was when the target arrived, let the method learn from whether its interval
 * held (`learn`, before the score joins the window, so it sees the threshold it was judged by),
 * then add the score and let the predictor learn. Methods differ only in their threshold.
 */
export abstract class OnlineConformal implements IntervalPredictor {
  abstract readonly method: string;
  readonly alpha: number;
  readonly conformity: ConformityScore;
  protected readonly scores: ScoreWindow;
  /** False when the window is shared: its owner adds the scores (and a restore leaves it as it is). */
  protected readonly ownsScores: boolean;

  constructor(protected readonly predictor: PointPredictor, options: OnlineConformalOptions) {
    checkAlpha(options.alpha);
    this.alpha = options.alpha;
    this.scores = calibrationWindow(options.window, options.scores);
    this.ownsScores = options.scores === undefined;
    this.conformity = options.score ?? absoluteResidual;
  }

  /** Calibration scores held now. */
  get size(): number {
    return this.scores.size;
  }

  /**
   * Whether the window can bound the nominal level yet (ceil((n+1)(1-alpha)) <= n). Methods
   * adapt only from then on: before it every interval is infinite and every target a hit, which
   * would only teach them to narrow.
   */
  get calibrated(): boolean {
    return this.scores.quantile(this.alpha) < Number.POSITIVE_INFINITY;
  }

  /** The score threshold the next interval for x uses. */
  abstract threshold(x: Features): number;

  predict(x: Features): IntervalPrediction {
    const point = this.predictor.predict(x);
    const { lower, upper } = this.conformity.interval(point, this.threshold(x), x);
    return { point, lower, upper, alpha: this.alpha, method: this.method, n: this.scores.size };
  }

  observe(x: Features, y: number): void {
    if (!Number.isFinite(y)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `a target must be finite, got ${y}`);
    const score = this.conformity.score(y, this.predictor.predict(x), x);
    this.learn(score, x, this.calibrated);
    if (this.ownsScores) this.scores.add(score);
    this.predictor.update?.(x, y);
  }

  abstract toJSON(): OnlineConformalState;

  /** Learns from one score; `calibrated` says whether the window could bound the nominal level. */
  protected abstract learn(score: number, x: Features, calibrated: boolean): void;

  protected baseState(): OnlineConformalState {
    return { method: this.method, alpha: this.alpha, window: this.scores.capacity, score: this.conformity.name, scores: this.scores.values() };
  }

  /** Refills the window from a saved state, after checking that the state is this method's. */
  protected restoreBase(state: OnlineConformalState): void {
    if (state.method !== this.method) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `state of method '${state.method}' cannot restore a '${this.method}' predictor`);
    }
    if (state.score !== this.conformity.name) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `state was saved with the '${state.score}' score, not '${this.conformity.name}': pass the same score`);
    }
    if (this.ownsScores) for (const s of state.scores) this.scores.add(s);
  }
}
