import { expect } from 'vitest';
import { mulberry32 } from '@carboncp/core';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { Features, IntervalPredictor } from '../types.js';

export interface Series {
  xs: Features[];
  ys: number[];
}

export type Drift = 'abrupt' | 'slow';

/**
 * y = 1 + 2 x1 - x2 + mu_t + s_t e with x, e standard normal. 'abrupt': at t = T/2 the mean
 * jumps by 5 and the noise scale goes from 1 to 4; 'slow': both move linearly over the run.
 */
export function driftingSeries(seed: number, length: number, drift: Drift): Series {
  const random = mulberry32(seed);
  // Box-Muller; 1 - random() is in (0, 1], so the logarithm is finite.
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const xs: Features[] = [];
  const ys: number[] = [];
  for (let t = 0; t < length; t += 1) {
    const x = [normal(), normal()];
    const after = t >= length / 2;
    const mu = drift === 'abrupt' ? (after ? 5 : 0) : (5 * t) / length;
    const scale = drift === 'abrupt' ? (after ? 4 : 1) : 1 + (3 * t) / length;
    xs.push(x);
    ys.push(1 + 2 * x[0]! - x[1]! + mu + scale * normal());
  }
  return { xs, ys };
}

export interface OnlineRun {
  /** 1 where the interval held the target, from `from` on. */
  hits: number[];
  widths: number[];
}

/** Deployment order: an interval for each x, then its target. Records from step `from` on. */
export function runOnline(method: IntervalPredictor, series: Series, from = 0): OnlineRun {
  const hits: number[] = [];
  const widths: number[] = [];
  series.xs.forEach((x, t) => {
    const y = series.ys[t]!;
    const p = method.predict(x);
    if (t >= from) {
      hits.push(y >= p.lower && y <= p.upper ? 1 : 0);
      widths.push(p.upper - p.lower);
    }
    method.observe(x, y);
  });
  return { hits, widths };
}

export const mean = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

/** Coverage of each run of `size` consecutive steps (sliding by one). */
export function rollingCoverage(hits: readonly number[], size: number): number[] {
  const out: number[] = [];
  let sum = 0;
  hits.forEach((h, i) => {
    sum += h;
    if (i >= size) sum -= hits[i - size]!;
    if (i >= size - 1) out.push(sum / size);
  });
  return out;
}

export interface RunSummary {
  coverage: number;
  worstWindow: number;
  /** Coverage over the `size` steps from `start` (relative to the recorded run). */
  windowAt: (start: number, size: number) => number;
  /** Mean width of the finite intervals. */
  finiteWidth: number;
  infinite: number;
}

export function summarise(run: OnlineRun, window = 200): RunSummary {
  const finite = run.widths.filter(Number.isFinite);
  return {
    coverage: mean(run.hits),
    worstWindow: Math.min(...rollingCoverage(run.hits, window)),
    windowAt: (start, size) => mean(run.hits.slice(start, start + size)),
    finiteWidth: mean(finite),
    infinite: run.widths.length - finite.length,
  };
}

/** Expects fn to throw CARBONCP_INVALID_ARGUMENT with a message matching `message`. */
export function expectInvalid(fn: () => unknown, message: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(CarboncpError);
  expect((thrown as CarboncpError).code).toBe(ErrorCode.INVALID_ARGUMENT);
  expect((thrown as CarboncpError).message).toMatch(message);
}

/** A point predictor that always says `value` (to hand-compute scores). */
export const constant = (value: number) => ({ predict: () => value });
