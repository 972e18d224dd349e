import { describe, expect, it } from 'vitest';
import { mulberry32, seededNormal } from '@carboncp/core';
import { QuantileRegressor } from './quantile-regressor.js';

const pinball = (tau: number, r: number) => r * (tau - (r < 0 ? 1 : 0));

/** y = 1 + 2x + (0.5 + x) z, z standard normal, x ~ U(0, 2): the tau-quantile line is 1 + 0.5 q + (2 + q) x. */
function gaussianHeteroscedastic(seed: number, count: number): { x: number[]; y: number }[] {
  const uniform = mulberry32(seed);
  const z = seededNormal(seed + 1, count);
  return Array.from({ length: count }, (_, i) => {
    const x = 2 * uniform();
    return { x: [x], y: 1 + 2 * x + (0.5 + x) * z[i]! };
  });
}

describe('QuantileRegressor', () => {
  it('reaches the exact pinball-loss minimum (the best line through two data points)', () => {
    const data = gaussianHeteroscedastic(4, 60);
    for (const tau of [0.1, 0.5, 0.9]) {
      const model = new QuantileRegressor({ dimensions: 1, quantile: tau, window: 60, iterations: 200 });
      for (const { x, y } of data) model.update(x, y);
      model.refit();
      const loss = (w0: number, w1: number) => data.reduce((s, d) => s + pinball(tau, d.y - w0 - w1 * d.x[0]!), 0);
      // A linear quantile regression optimum interpolates d + 1 = 2 points: try every pair.
      let best = Number.POSITIVE_INFINITY;
      for (let i = 0; i < data.length; i += 1) {
        for (let j = i + 1; j < data.length; j += 1) {
          const slope = (data[j]!.y - data[i]!.y) / (data[j]!.x[0]! - data[i]!.x[0]!);
          best = Math.min(best, loss(data[i]!.y - slope * data[i]!.x[0]!, slope));
        }
      }
      const [w0, w1] = model.weights();
      expect(loss(w0!, w1!)).toBeGreaterThanOrEqual(best - 1e-9);
      expect(loss(w0!, w1!)).toBeLessThan(best * (1 + 1e-3));
    }
  });

  it('recovers heteroscedastic quantile lines and puts tau of fresh targets below them', () => {
    const z90 = 1.2815515655446004;
    const model = new QuantileRegressor({ dimensions: 1, quantile: 0.9, window: 4000 });
    for (const { x, y } of gaussianHeteroscedastic(11, 4000)) model.update(x, y);
    const [w0, w1] = model.weights();
    expect(Math.abs(w0! - (1 + 0.5 * z90))).toBeLessThan(0.15);
    expect(Math.abs(w1! - (2 + z90))).toBeLessThan(0.15);
    const fresh = gaussianHeteroscedastic(12, 20000);
    const below = fresh.filter((d) => d.y <= model.predict(d.x)).length / fresh.length;
    expect(Math.abs(below - 0.9)).toBeLessThan(0.02);
  });

  it('forgets beyond its window: follows a level shift of the median', () => {
    const model = new QuantileRegressor({ dimensions: 0, quantile: 0.5, window: 50 });
    const random = mulberry32(5);
    for (let i = 0; i < 100; i += 1) model.update([], 10 + random());
    expect(model.predict([])).toBeGreaterThan(10);
    expect(model.predict([])).toBeLessThan(11);
    for (let i = 0; i < 60; i += 1) model.update([], 20 + random());
    expect(model.predict([])).toBeGreaterThan(20);
    expect(model.predict([])).toBeLessThan(21);
    expect(model.observations).toBe(50);
  });

  it('round-trips through JSON and keeps learning the same way', () => {
    const a = new QuantileRegressor({ dimensions: 2, quantile: 0.75, window: 40, refitEvery: 7 });
    const random = mulberry32(8);
    const pair = () => ({ x: [random(), random()], y: random() * 5 });
    for (let i = 0; i < 90; i += 1) {
      const { x, y } = pair();
      a.update(x, y);
    }
    const b = QuantileRegressor.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
    expect(b.toJSON()).toEqual(a.toJSON());
    for (let i = 0; i < 30; i += 1) {
      const { x, y } = pair();
      a.update(x, y);
      b.update(x, y);
      // Equal up to summation order (the restored ring starts at its oldest pair).
      expect(b.predict(x)).toBeCloseTo(a.predict(x), 9);
    }
  });

  it('stays finite on a degenerate window (one repeated context)', () => {
    const model = new QuantileRegressor({ dimensions: 2, quantile: 0.9 });
    for (let i = 0; i < 30; i += 1) model.update([1, 1], i % 10);
    expect(model.weights().every(Number.isFinite)).toBe(true);
    expect(model.predict([1, 1])).toBeGreaterThan(7.5);
    expect(model.predict([1, 1])).toBeLessThan(9.5);
  });

  it('refuses bad options, features and targets', () => {
    expect(() => new QuantileRegressor({ dimensions: 1, quantile: 1 })).toThrow(/quantile/);
    expect(() => new QuantileRegressor({ dimensions: -1, quantile: 0.5 })).toThrow(/dimensions/);
    expect(() => new QuantileRegressor({ dimensions: 1, quantile: 0.5, refitEvery: 0 })).toThrow(/refitEvery/);
    expect(() => new QuantileRegressor({ dimensions: 1, quantile: 0.5, window: 0 })).toThrow(/at least 1/);
    const model = new QuantileRegressor({ dimensions: 1, quantile: 0.5 });
    expect(() => model.update([1, 2], 0)).toThrow(/expected 1 features/);
    expect(() => model.update([Number.NaN], 0)).toThrow(/finite/);
    expect(() => model.update([1], Number.POSITIVE_INFINITY)).toThrow(/finite/);
  });
});
