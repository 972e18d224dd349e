import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@carboncp/core';
import { OnlineRidge } from '../predictors/online-ridge.js';
import { AdaptiveConformal } from './aci.js';
import { scaledResidual } from './conformity-score.js';
import { constant, expectInvalid } from './drift.test-support.js';

/** An ACI over a constant-0 predictor at alpha_t = 0.1 whose window already holds the scores 1..99. */
function calibratedAci(gamma: number): AdaptiveConformal {
  const scores = Array.from({ length: 99 }, (_, i) => i + 1);
  return AdaptiveConformal.fromJSON({ method: 'aci', alpha: 0.1, window: 200, score: 'absolute', gamma, level: 0.1, scores }, constant(0));
}

describe('AdaptiveConformal', () => {
  it('does not adapt until the window can bound alpha, then moves alpha_t by gamma (alpha - err)', () => {
    const aci = new AdaptiveConformal(constant(0), { alpha: 0.1, gamma: 0.01, window: 100 });
    for (let y = 1; y <= 8; y += 1) {
      expect(aci.predict([]).upper).toBe(Number.POSITIVE_INFINITY);
      aci.observe([], y);
      expect(aci.currentAlpha).toBe(0.1);
      expect(aci.calibrated).toBe(false);
    }
    aci.observe([], 9);
    expect(aci.calibrated).toBe(true);
    expect(aci.currentAlpha).toBe(0.1); // the 9th score was judged by an infinite interval: not learnt from
    const p = aci.predict([]);
    expect(p).toEqual({ point: 0, lower: -9, upper: 9, alpha: 0.1, method: 'aci', n: 9 });
    aci.observe([], 20); // a miss
    expect(aci.currentAlpha).toBeCloseTo(0.1 + 0.01 * (0.1 - 1), 15);
    aci.observe([], 1); // a hit
    expect(aci.currentAlpha).toBeCloseTo(0.1 + 0.01 * (0.1 - 1) + 0.01 * 0.1, 15);
  });

  it('gives an infinite interval while alpha_t <= 0 and a point interval while alpha_t >= 1', () => {
    const aci = calibratedAci(0.4);
    aci.observe([], 100); // miss: 0.1 + 0.4 (0.1 - 1) = -0.26
    expect(aci.currentAlpha).toBeCloseTo(-0.26, 12);
    let p = aci.predict([]);
    expect([p.lower, p.upper]).toEqual([Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY]);
    // Hits raise it by 0.04 each: still <= 0 after 6 (-0.02), finite after 7 (0.02).
    for (let i = 0; i < 6; i += 1) aci.observe([], 0.5);
    expect(aci.currentAlpha).toBeCloseTo(-0.02, 12);
    expect(aci.predict([]).upper).toBe(Number.POSITIVE_INFINITY);
    aci.observe([], 0.5);
    expect(aci.currentAlpha).toBeCloseTo(0.02, 12);
    p = aci.predict([]);
    expect(Number.isFinite(p.upper)).toBe(true);
    expect(p.upper).toBe(aci.threshold());
    // 25 more hits: 0.02 + 25 x 0.04 = 1.02 >= 1, the point interval.
    for (let i = 0; i < 25; i += 1) aci.observe([], 0);
    expect(aci.currentAlpha).toBeGreaterThanOrEqual(1);
    p = aci.predict([]);
    expect([p.lower, p.point, p.upper]).toEqual([0, 0, 0]);
    aci.observe([], 0); // exactly on the point: a hit, the level rises further
    expect(aci.currentAlpha).toBeCloseTo(1.06, 12);
    aci.observe([], 0.5); // anything off the point is a miss, and the level comes back below 1
    expect(aci.currentAlpha).toBeCloseTo(1.06 - 0.36, 12);
    expect(aci.predict([]).upper).toBeGreaterThan(0);
  });

  it("keeps Gibbs and Candès' deterministic bound |miss rate - alpha| <= (max(alpha, 1 - alpha) + gamma) / (gamma T) on adversarial data", () => {
    const random = mulberry32(5);
    const gamma = 0.05;
    const aci = new AdaptiveConformal(constant(0), { alpha: 0.1, gamma, window: 50 });
    let misses = 0;
    let steps = 0;
    for (let t = 0; t < 3000; t += 1) {
      // Regimes that flip every 137 steps between tiny and huge, heavy-tailed scores.
      const scale = Math.floor(t / 137) % 2 === 0 ? 1 : 1000;
      const y = scale * Math.tan(Math.PI * (random() - 0.5));
      const learns = aci.calibrated;
      const p = aci.predict([]);
      if (learns) {
        steps += 1;
        if (y < p.lower || y > p.upper) misses += 1;
      }
      aci.observe([], y);
    }
    const bound = (0.9 + gamma) / (gamma * steps);
    expect(bound).toBeLessThan(0.007);
    expect(Math.abs(misses / steps - 0.1)).toBeLessThanOrEqual(bound);
  });

  it('works over a scaled residual, widening the interval where the scale is larger', () => {
    const aci = new AdaptiveConformal(constant(0), { alpha: 0.2, score: scaledResidual((x) => x[0]!) });
    const random = mulberry32(8);
    for (let i = 0; i < 300; i += 1) {
      const x = [1 + 4 * random()];
      aci.observe(x, x[0]! * (random() - 0.5));
    }
    const narrow = aci.predict([1]);
    const wide = aci.predict([4]);
    expect(wide.upper - wide.lower).toBeCloseTo(4 * (narrow.upper - narrow.lower), 10);
    expect(narrow.upper).toBeGreaterThan(0);
    expect(narrow.upper).toBeLessThan(0.5);
  });

  it('round-trips its state through JSON and goes on exactly as before', () => {
    const ridge = new OnlineRidge({ dimensions: 1, forgetting: 0.99 });
    const aci = new AdaptiveConformal(ridge, { alpha: 0.1, gamma: 0.02, window: 40 });
    const random = mulberry32(13);
    const step = () => {
      const x = [random()];
      return { x, y: 3 * x[0]! + random() };
    };
    for (let i = 0; i < 120; i += 1) {
      const { x, y } = step();
      aci.observe(x, y);
    }
    const state = JSON.parse(JSON.stringify(aci.toJSON()));
    expect(state).toMatchObject({ method: 'aci', alpha: 0.1, window: 40, gamma: 0.02, score: 'absolute' });
    expect(state.scores).toHaveLength(40);
    expect(state.level).toBe(aci.currentAlpha);
    const restored = AdaptiveConformal.fromJSON(state, OnlineRidge.fromJSON(ridge.toJSON()));
    for (let i = 0; i < 60; i += 1) {
      const { x, y } = step();
      expect(restored.predict(x)).toEqual(aci.predict(x));
      aci.observe(x, y);
      restored.observe(x, y);
    }
    expect(restored.currentAlpha).toBe(aci.currentAlpha);
  });

  it('refuses bad options, targets and states', () => {
    expectInvalid(() => new AdaptiveConformal(constant(0), { alpha: 1 }), /alpha/);
    expectInvalid(() => new AdaptiveConformal(constant(0), { alpha: 0.1, gamma: 0 }), /gamma/);
    expectInvalid(() => new AdaptiveConformal(constant(0), { alpha: 0.1, window: 0 }), /window/);
    const aci = calibratedAci(0.01);
    expectInvalid(() => aci.observe([], Number.POSITIVE_INFINITY), /finite/);
    const state = aci.toJSON();
    expectInvalid(() => AdaptiveConformal.fromJSON({ ...state, method: 'dtaci' }, constant(0)), /method 'dtaci'/);
    expectInvalid(() => AdaptiveConformal.fromJSON({ ...state, level: Number.NaN }, constant(0)), /level/);
    expectInvalid(() => AdaptiveConformal.fromJSON(state, constant(0), scaledResidual(() => 1)), /score/);
  });
});
