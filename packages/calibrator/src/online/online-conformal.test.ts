import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@carboncp/core';
import { ScoreWindow } from '../conformal/score-window.js';
import { coverageLevel, thresholdAt } from './online-conformal.js';
import { absoluteResidual, scaledResidual } from './conformity-score.js';
import { expectInvalid } from './drift.test-support.js';

describe('thresholdAt', () => {
  it('is infinite at levels <= 0, zero at levels >= 1 and the conformal quantile between', () => {
    const window = new ScoreWindow(20);
    for (let s = 1; s <= 19; s += 1) window.add(s);
    expect(thresholdAt(window, 0)).toBe(Number.POSITIVE_INFINITY);
    expect(thresholdAt(window, -0.3)).toBe(Number.POSITIVE_INFINITY);
    expect(thresholdAt(window, 1)).toBe(0);
    expect(thresholdAt(window, 1.7)).toBe(0);
    expect(thresholdAt(window, 0.1)).toBe(18); // ceil(20 x 0.9) = 18th of 1..19
    expect(thresholdAt(window, 0.5)).toBe(10);
    expect(thresholdAt(window, 0.99)).toBe(1);
  });
});

describe('coverageLevel (beta_t)', () => {
  it('is the supremum of the levels whose threshold still holds the score, for seeded windows', () => {
    const random = mulberry32(21);
    for (const n of [0, 1, 9, 50]) {
      const window = new ScoreWindow(64);
      for (let i = 0; i < n; i += 1) window.add(Math.floor(random() * 10));
      for (let k = 0; k < 40; k += 1) {
        const score = Math.floor(random() * 12) - 0.5 * (k % 2); // ties and non-ties
        const beta = coverageLevel(window, score);
        expect(beta).toBeGreaterThan(0);
        expect(beta).toBeLessThanOrEqual(1);
        for (let j = 1; j < 100; j += 1) {
          const level = j / 100;
          if (Math.abs(level - beta) < 1e-6) continue;
          expect(score <= thresholdAt(window, level)).toBe(level < beta);
        }
      }
    }
  });
});

describe('conformity scores', () => {
  it('absolute residual: |y - f| and f +- q back', () => {
    expect(absoluteResidual.score(3, 5, [])).toBe(2);
    expect(absoluteResidual.interval(5, 2, [])).toEqual({ lower: 3, upper: 7 });
    expect(absoluteResidual.interval(5, Number.POSITIVE_INFINITY, [])).toEqual({ lower: -Infinity, upper: Infinity });
  });

  it('scaled residual divides by the scale and multiplies back, and refuses a scale <= 0', () => {
    const scaled = scaledResidual((x) => x[0]!);
    expect(scaled.score(3, 5, [4])).toBe(0.5);
    expect(scaled.interval(5, 0.5, [4])).toEqual({ lower: 3, upper: 7 });
    expect(scaled.interval(5, 0, [4])).toEqual({ lower: 5, upper: 5 });
    expect(scaled.interval(5, Number.POSITIVE_INFINITY, [4])).toEqual({ lower: -Infinity, upper: Infinity });
    expectInvalid(() => scaled.score(1, 1, [0]), /scale must be positive/);
    expectInvalid(() => scaled.interval(1, 1, [Number.NaN]), /scale must be positive/);
  });
});
