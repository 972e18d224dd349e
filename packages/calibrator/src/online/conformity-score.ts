import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { Features, Interval } from '../types.js';

/**
 * A nonconformity score for the online methods: how far a target lies from the point
 * prediction, and back, the targets whose score is at most a threshold. Scores are >= 0, so a
 * threshold of 0 is the smallest (a point interval) and +Infinity the largest (no bound).
 */
export interface ConformityScore {
  readonly name: string;
  score(y: number, point: number, x: Features): number;
  /** The interval of targets whose score is at most `threshold`. */
  interval(point: number, threshold: number, x: Features): Interval;
}

/** |y - f(x)|: a symmetric interval f(x) +- threshold. */
export const absoluteResidual: ConformityScore = {
  name: 'absolute',
  score: (y, point) => Math.abs(y - point),
  interval: (point, threshold) => ({ lower: point - threshold, upper: point + threshold }),
};

/**
 * |y - f(x)| / scale(x) (Lei et al. 2018, "locally weighted" residuals): the interval is
 * f(x) +- threshold * scale(x), wider where the scale (a difficulty estimate, e.g. a predicted
 * absolute residual or a known noise level) is larger. The scale must be positive and finite.
 */
export function scaledResidual(scale: (x: Features) => number, name = 'scaled'): ConformityScore {
  const checked = (x: Features): number => {
    const s = scale(x);
    if (!(s > 0 && Number.isFinite(s))) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `a residual scale must be positive and finite, got ${s}`);
    return s;
  };
  return {
    name,
    score: (y, point, x) => Math.abs(y - point) / checked(x),
    interval: (point, threshold, x) => {
      // Infinity * scale stays Infinity; 0 * scale is a point interval.
      const half = threshold * checked(x);
      return { lower: point - half, upper: point + half };
    },
  };
}
