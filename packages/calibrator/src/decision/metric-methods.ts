import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { ScoreWindow } from '../conformal/score-window.js';
import { DEFAULT_CALIBRATION_WINDOW } from '../conformal/split.js';
import type { IntervalPredictor, PointPredictor } from '../types.js';
import {
  holdsSavedScores,
  restoreIntervalPredictor,
  restoreOnShared,
  savedWindow,
  sharesScoresWhenRestored,
  takesSharedScores,
  type MethodFactory,
  type MethodFamily,
  type MethodRestorer,
} from './method-registry.js';
import type { Metric } from './structural.js';

export interface MetricMethodsSpec {
  candidateId: string;
  metric: Metric;
  dimensions: number;
  families: readonly MethodFamily[];
  alphas: readonly number[];
  methods: Readonly<Record<MethodFamily, MethodFactory>>;
  /** The saved methods (families x alphas, in that order), to restore instead of building. */
  saved?: readonly unknown[];
  restorers?: Readonly<Record<string, MethodRestorer>> | undefined;
}

/**
 * One metric's interval methods around its point predictor, one per family and alpha (index:
 * family's place x alphas.length + alpha's), built or restored. The package's split and
 * conformal PID methods all score the same |y - f(x)| against the same predictor, so they read
 * one window, `shared` (half the memory and the updates of one window each, or less with more
 * alphas): its owner must add each target's score after every method has observed it. A method
 * restored with scores unlike the shared window's keeps its own.
 */
export function metricMethods(point: PointPredictor, spec: MetricMethodsSpec): { methods: IntervalPredictor[]; shared: ScoreWindow | undefined } {
  const { candidateId, metric, dimensions, alphas, saved, restorers } = spec;
  let shared: ScoreWindow | undefined;
  if (!saved && spec.families.some((family) => takesSharedScores(spec.methods[family]))) shared = new ScoreWindow(DEFAULT_CALIBRATION_WINDOW);
  const methods: IntervalPredictor[] = [];
  for (const family of spec.families) {
    alphas.forEach((alpha, a) => {
      let method: IntervalPredictor;
      if (saved) {
        const state = saved[methods.length];
        // Restored the ordinary way first, so that a bad state fails as it always has.
        method = restoreIntervalPredictor(state, point, restorers);
        if (sharesScoresWhenRestored(state, restorers)) {
          shared ??= savedWindow(state);
          if (holdsSavedScores(shared, state)) method = restoreOnShared(state, point, shared);
        }
      } else {
        const factory = spec.methods[family];
        method = factory(point, { candidateId, metric, family, alpha, dimensions, ...(shared && takesSharedScores(factory) ? { scores: shared } : {}) });
      }
      if (Math.abs(method.alpha - alpha) > 1e-12) {
        throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${family} method of '${candidateId}' ${metric} is for alpha ${method.alpha}, expected ${alpha} (alphas[${a}])`);
      }
      methods.push(method);
    });
  }
  return { methods, shared };
}
