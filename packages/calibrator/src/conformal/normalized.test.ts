import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@carboncp/core';
import type { PointPredictor } from '../types.js';
import { NormalizedConformal } from './normalized.js';

describe('NormalizedConformal', () => {
  it('scales the conformal quantile of |y - f(x)| / sigma(x) by sigma at the test point (hand-computed)', () => {
    const f: PointPredictor = { predict: () => 0 };
    const sigma: PointPredictor = { predict: (x) => x[0]! };
    const method = new NormalizedConformal(f, { alpha: 0.25, difficulty: sigma });
    // Scores |y| / x: 1, 2, 3 (and 0.5); with n = 4 the rank is ceil(5 x 0.75) = 4: the largest, 3.
    method.observe([1], 1);
    method.observe([2], -4);
    method.observe([4], 12);
    method.observe([2], 1);
    const p = method.predict([10]);
    expect(p).toMatchObject({ point: 0, lower: -30, upper: 30, scale: 10, n: 4, method: 'normalized', alpha: 0.25 });
  });

  it('gives an infinite interval until there are enough scores', () => {
    const method = new NormalizedConformal({ predict: () => 1 }, { alpha: 0.1 });
    for (let i = 0; i < 8; i += 1) method.observe([i], i);
    const p = method.predict([3]);
    expect(p.lower).toBe(Number.NEGATIVE_INFINITY);
    expect(p.upper).toBe(Number.POSITIVE_INFINITY);
  });

  it('floors sigma at epsilon, so a difficulty model at or below zero (or NaN) cannot blow up', () => {
    const method = new NormalizedConformal({ predict: () => 0 }, { alpha: 0.5, difficulty: { predict: (x) => x[0]! }, epsilon: 0.01 });
    expect(method.scale([-3])).toBe(0.01);
    expect(method.scale([Number.NaN])).toBe(0.01);
    method.observe([-1], 0.02); // score 0.02 / 0.01 = 2
    method.observe([2], 2); // score 1
    expect(method.predict([0.5])).toMatchObject({ lower: -1, upper: 1 });
    expect(() => new NormalizedConformal({ predict: () => 0 }, { alpha: 0.1, epsilon: 0 })).toThrow(/epsilon/);
  });

  it('teaches the difficulty model |y - f(x)| as it was before f learnt y, then f learns y', () => {
    const calls: string[] = [];
    const f: PointPredictor = { predict: () => 5, update: (_x, y) => calls.push(`f learns ${y}`) };
    const sigma: PointPredictor = { predict: () => 1, update: (_x, r) => calls.push(`sigma learns ${r}`) };
    new NormalizedConformal(f, { alpha: 0.1, difficulty: sigma }).observe([0], 2);
    expect(calls).toEqual(['sigma learns 3', 'f learns 2']);
  });

  it('by default learns sigma(x) by online ridge on the absolute residuals, and reports it in toJSON', () => {
    const random = mulberry32(21);
    const method = new NormalizedConformal({ predict: (x) => 2 * x[0]! }, { alpha: 0.1, window: 300 });
    // |y - 2x| is uniform on [0, x]: its mean, the ridge's target, is x / 2.
    for (let i = 0; i < 2000; i += 1) {
      const x = 1 + 9 * random();
      method.observe([x], 2 * x + (random() - 0.5) * 2 * x);
    }
    expect(Math.abs(method.scale([2]) - 1)).toBeLessThan(0.1);
    expect(Math.abs(method.scale([8]) - 4)).toBeLessThan(0.25);
    const narrow = method.predict([2]);
    const wide = method.predict([8]);
    const ratio = (wide.upper - wide.lower) / (narrow.upper - narrow.lower);
    expect(ratio).toBeCloseTo(method.scale([8]) / method.scale([2]), 9);
    expect(Math.abs(ratio - 4)).toBeLessThan(0.4);
    const state = JSON.parse(JSON.stringify(method.toJSON())) as { method: string; scores: number[]; epsilon: number; difficulty: { weights: number[] } };
    expect(state.method).toBe('normalized');
    expect(state.scores).toHaveLength(300);
    expect(state.epsilon).toBe(1e-6);
    expect(state.difficulty.weights).toHaveLength(2);
  });
});
