import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { ScoreWindow } from '../conformal/score-window.js';
import { SplitConformal, DEFAULT_CALIBRATION_WINDOW } from '../conformal/split.js';
import { AdaptiveConformal, type AdaptiveConformalState } from '../online/aci.js';
import { ConformalPid, type ConformalPidState } from '../online/conformal-pid.js';
import { absoluteResidual } from '../online/conformity-score.js';
import { DynamicallyTunedConformal, type DynamicallyTunedState } from '../online/dtaci.js';
import type { IntervalPredictor, PointPredictor } from '../types.js';
import type { Metric } from './structural.js';

/**
 * Which intervals a mode reads: 'robust' (and 'set') the method built for exchangeable data,
 * 'adaptive' the one built to follow drift (ACI and its successors).
 */
export type MethodFamily = 'robust' | 'adaptive';
export const METHOD_FAMILIES: readonly MethodFamily[] = ['robust', 'adaptive'];

/** What a factory is building a method for. Targets are log ratios (observed / structural), see the README. */
export interface MethodSpec {
  candidateId: string;
  metric: Metric;
  family: MethodFamily;
  alpha: number;
  /** Features the method will be given (the metric's, see METRIC_FEATURES). */
  dimensions: number;
  /**
   * The metric's window of absolute residual scores |y - f(x)|, which the model fills after
   * every method has observed a target (see SplitConformalOptions.scores): given only to the
   * package's own factories (splitMethod, adaptiveMethod), so that every alpha and family of a
   * metric keeps one window, not one each.
   */
  scores?: ScoreWindow;
}

/**
 * Builds the interval method of one candidate, metric, family and alpha around the point
 * predictor the decision keeps for that candidate and metric. The point predictor passed in has
 * no `update`: the decision trains it once per observation, after every method has scored it.
 * A method with its own predictors (CQR's quantile regressors) may ignore it.
 */
export type MethodFactory = (point: PointPredictor, spec: MethodSpec) => IntervalPredictor;

/** Split conformal over the newest 500 scores. */
export const splitMethod: MethodFactory = (point, spec) =>
  new SplitConformal(point, { alpha: spec.alpha, window: DEFAULT_CALIBRATION_WINDOW, ...(spec.scores ? { scores: spec.scores } : {}) });

/**
 * 'adaptive': conformal PID control (Angelopoulos, Candès, Tibshirani 2023). Of the online
 * methods it is the one that never returns an infinite interval (a decision cannot weigh one:
 * an infinite bound rules its candidate out) and held the best worst-window coverage across
 * abrupt and slow drift (README, "Online methods under drift"). ACI and DtACI plug in the same way.
 */
export const adaptiveMethod: MethodFactory = (point, spec) => new ConformalPid(point, { alpha: spec.alpha, ...(spec.scores ? { scores: spec.scores } : {}) });

export const DEFAULT_METHODS: Readonly<Record<MethodFamily, MethodFactory>> = { robust: splitMethod, adaptive: adaptiveMethod };

/** Whether a factory builds its method on MethodSpec.scores (the package's own do). */
export function takesSharedScores(factory: MethodFactory): boolean {
  return factory === splitMethod || factory === adaptiveMethod;
}

/** Rebuilds a method from its toJSON() around a point predictor. */
export type MethodRestorer = (state: unknown, point: PointPredictor) => IntervalPredictor;

interface SplitState {
  method: string;
  alpha: number;
  window: number;
  scores: number[];
}

function isSplitState(state: unknown): state is SplitState {
  const s = state as SplitState;
  return typeof s?.alpha === 'number' && Number.isInteger(s.window) && Array.isArray(s.scores) && s.scores.every((v) => typeof v === 'number');
}

/** SplitConformal refilled with saved scores (oldest first, so the window forgets them in the same order), or on a shared window that holds them. */
class RestoredSplitConformal extends SplitConformal {
  constructor(point: PointPredictor, state: SplitState, shared?: ScoreWindow) {
    super(point, { alpha: state.alpha, window: state.window, ...(shared ? { scores: shared } : {}) });
    if (this.ownsScores) for (const score of state.scores) this.scores.add(score);
  }
}

export const restoreSplit: MethodRestorer = (state, point) => {
  if (!isSplitState(state)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'split conformal state needs alpha, window and scores');
  return new RestoredSplitConformal(point, state);
};

/**
 * Method name (IntervalPredictor.method, the `method` field of its toJSON()) to restorer. The
 * package's methods register here; a caller's own go in through register() or fromJSON's
 * `restorers` option.
 */
const BUILT_IN: ReadonlyMap<string, MethodRestorer> = new Map<string, MethodRestorer>([
  ['split', restoreSplit],
  ['aci', (state, point) => AdaptiveConformal.fromJSON(state as AdaptiveConformalState, point)],
  ['dtaci', (state, point) => DynamicallyTunedConformal.fromJSON(state as DynamicallyTunedState, point)],
  ['pid', (state, point) => ConformalPid.fromJSON(state as ConformalPidState, point)],
]);
const registry = new Map<string, MethodRestorer>(BUILT_IN);

/** A saved split or conformal PID method, as restoreOnShared takes it. */
type SharingState = { method: 'split' | 'pid'; window: number; scores: number[] };

/**
 * Whether a saved method can be restored onto a shared window (restoreOnShared): the package's
 * split or conformal PID of the absolute residual, restored by the package's own restorer
 * (neither `extra` nor registerIntervalMethod replaced it). Check the state by restoring it the
 * ordinary way first: this looks only at what sharing needs.
 */
export function sharesScoresWhenRestored(state: unknown, extra?: Readonly<Record<string, MethodRestorer>>): state is SharingState {
  const s = state as { method?: unknown; score?: unknown; window?: unknown; scores?: unknown } | null;
  const method = s?.method;
  if (method !== 'split' && method !== 'pid') return false;
  if ((extra && Object.hasOwn(extra, method)) || registry.get(method) !== BUILT_IN.get(method)) return false;
  if (method === 'pid' && s!.score !== absoluteResidual.name) return false;
  return Number.isInteger(s!.window) && Array.isArray(s!.scores);
}

/** A window of a saved method's capacity holding its saved scores: the shared window its metric's methods are restored onto. */
export function savedWindow(state: SharingState): ScoreWindow {
  const window = new ScoreWindow(state.window);
  for (const score of state.scores) window.add(score);
  return window;
}

/** Whether `shared` holds exactly a saved method's window (capacity and scores, oldest first). */
export function holdsSavedScores(shared: ScoreWindow, state: SharingState): boolean {
  if (state.window !== shared.capacity || state.scores.length !== shared.size) return false;
  const held = shared.values();
  return state.scores.every((score, i) => score === held[i]);
}

/** Restores a saved split or conformal PID method onto `shared`, which holds its scores (holdsSavedScores) and which its owner fills from now on. */
export function restoreOnShared(state: SharingState, point: PointPredictor, shared: ScoreWindow): IntervalPredictor {
  if (state.method === 'split') return new RestoredSplitConformal(point, state as unknown as SplitState, shared);
  return ConformalPid.fromJSON(state as unknown as ConformalPidState, point, { scores: shared });
}

export function registerIntervalMethod(method: string, restore: MethodRestorer): void {
  if (typeof method !== 'string' || method === '') throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'a method needs a non-empty name');
  registry.set(method, restore);
}

/** Rebuilds any registered method from its saved state; `extra` restorers take precedence. */
export function restoreIntervalPredictor(state: unknown, point: PointPredictor, extra?: Readonly<Record<string, MethodRestorer>>): IntervalPredictor {
  const method = (state as { method?: unknown } | null)?.method;
  if (typeof method !== 'string') throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'a saved interval method has no method name');
  const restore = extra && Object.hasOwn(extra, method) ? extra[method] : registry.get(method);
  if (!restore) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `no restorer for interval method '${method}' (registered: ${[...registry.keys()].join(', ')}); pass one in restorers`);
  }
  return restore(state, point);
}
