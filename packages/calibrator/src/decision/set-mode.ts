import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { ScoreWindow, checkWindow } from '../conformal/score-window.js';
import { OBJECTIVES, type Objective } from './decision-types.js';

/**
 * CarbonCP's formulation (Ke, Jin and Wang 2024, arXiv:2404.16970) as this package reads it:
 * treat "which candidate is optimal for this context" as the label, score how implausible each
 * candidate is as that label from the point predictions (the implicit predictor), and
 * conformalise: the set {c : score(x, c) <= q}, q the conformal quantile of the scores the true
 * optima got on calibration requests, holds the optimal candidate with probability >= 1 - alpha
 * (Vovk et al. 2005; Angelopoulos and Bates 2021 for sets over labels).
 */

/** A candidate's objective and latency: predicted (scores) or observed (labels). */
export interface ObjectiveLatency {
  objective: number;
  latencyMs: number;
}

function relativeGap(value: number, reference: number): number {
  return (value - reference) / Math.max(Math.abs(reference), Number.MIN_VALUE);
}

/**
 * The optimal candidate among `allowed` ones (those that keep the hard rules): the least
 * objective among those within the SLO; if none is, the fastest. -1 when nothing is allowed.
 */
export function optimalIndex(values: readonly ObjectiveLatency[], allowed: readonly boolean[], sloMs: number): number {
  let best = -1;
  let fastest = -1;
  for (let i = 0; i < values.length; i += 1) {
    if (!allowed[i]) continue;
    const v = values[i]!;
    if (fastest < 0 || v.latencyMs < values[fastest]!.latencyMs) fastest = i;
    if (v.latencyMs <= sloMs && (best < 0 || v.objective < values[best]!.objective || (v.objective === values[best]!.objective && v.latencyMs < values[best]!.latencyMs))) best = i;
  }
  return best >= 0 ? best : fastest;
}

/**
 * Each candidate's score as the optimum, from predictions: 0 for the predicted optimum; for the
 * others, the larger of their relative gap to its objective and their relative excess over the
 * SLO; when no candidate is predicted within the SLO, the relative gap to the fastest. +Infinity
 * for candidates that are not allowed.
 */
export function setScores(predicted: readonly ObjectiveLatency[], allowed: readonly boolean[], sloMs: number): number[] {
  const reference = optimalIndex(predicted, allowed, sloMs);
  const scores = new Array<number>(predicted.length).fill(Number.POSITIVE_INFINITY);
  if (reference < 0) return scores;
  const ref = predicted[reference]!;
  const anyWithin = ref.latencyMs <= sloMs;
  for (let i = 0; i < predicted.length; i += 1) {
    if (!allowed[i]) continue;
    const p = predicted[i]!;
    if (!anyWithin) scores[i] = relativeGap(p.latencyMs, ref.latencyMs);
    else {
      const excess = Number.isFinite(sloMs) ? relativeGap(p.latencyMs, sloMs) : Number.NEGATIVE_INFINITY;
      scores[i] = Math.max(relativeGap(p.objective, ref.objective), excess);
    }
  }
  return scores;
}

export interface SetCalibrationState {
  window: number;
  /** Oldest first; null stands for +Infinity (as JSON writes it). */
  scores: Partial<Record<Objective, (number | null)[]>>;
}

/** The calibration scores of the true (or, in deployment, pseudo-) optima, one window per objective. */
export class SetCalibration {
  private readonly windows = new Map<Objective, ScoreWindow>();

  constructor(readonly window = 500) {
    checkWindow(window);
  }

  add(objective: Objective, score: number): void {
    if (Number.isNaN(score)) throw new CarboncpError(ErrorCode.INTERNAL, 'a set score is NaN');
    let w = this.windows.get(objective);
    if (!w) this.windows.set(objective, (w = new ScoreWindow(this.window)));
    w.add(score);
  }

  /** The conformal threshold at alpha; +Infinity (every allowed candidate in the set) until enough scores. */
  threshold(objective: Objective, alpha: number): number {
    return this.windows.get(objective)?.quantile(alpha) ?? Number.POSITIVE_INFINITY;
  }

  size(objective: Objective): number {
    return this.windows.get(objective)?.size ?? 0;
  }

  toJSON(): SetCalibrationState {
    const scores: SetCalibrationState['scores'] = {};
    for (const [objective, w] of this.windows) scores[objective] = w.values();
    return { window: this.window, scores };
  }

  static fromJSON(state: SetCalibrationState): SetCalibration {
    const calibration = new SetCalibration(state.window);
    // JSON writes an infinite score (a label no rule allowed) as null.
    for (const objective of OBJECTIVES) for (const score of state.scores[objective] ?? []) calibration.add(objective, score ?? Number.POSITIVE_INFINITY);
    return calibration;
  }
}
