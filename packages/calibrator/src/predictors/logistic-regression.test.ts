import { describe, expect, it } from 'vitest';
import { mulberry32, seededNormal } from '@carboncp/core';
import { LogisticRegression } from './logistic-regression.js';

/** n contexts from N(0, 1) labelled 0, then n from N(shift, 1) labelled 1: the true logit is shift x - shift^2 / 2. */
function gaussianShift(seed: number, n: number, shift: number): { features: Float64Array; labels: Float64Array } {
  const z = seededNormal(seed, 2 * n);
  const features = Float64Array.from(z, (v, i) => v + (i >= n ? shift : 0));
  const labels = new Float64Array(2 * n).fill(1, n);
  return { features, labels };
}

describe('LogisticRegression', () => {
  it('recovers the log density ratio of a Gaussian location shift', () => {
    const { features, labels } = gaussianShift(3, 5000, 1);
    const model = new LogisticRegression({ dimensions: 1, lambda: 1e-3 });
    model.fit(features, labels, 10000);
    for (const x of [-1, 0, 0.5, 1, 2]) expect(Math.abs(model.logit([x]) - (x - 0.5))).toBeLessThan(0.1);
    expect(model.predict([0.5])).toBeCloseTo(0.5, 1);
  });

  it('a warm-started refit lands where a cold fit does', () => {
    const first = gaussianShift(5, 300, 2);
    const second = gaussianShift(6, 300, 0.5);
    const warm = new LogisticRegression({ dimensions: 1 });
    warm.fit(first.features, first.labels, 600);
    warm.fit(second.features, second.labels, 600);
    const cold = new LogisticRegression({ dimensions: 1 });
    cold.fit(second.features, second.labels, 600);
    warm.weights().forEach((w, i) => expect(w).toBeCloseTo(cold.weights()[i]!, 6));
  });

  it('stays finite on separable data (the penalty bounds the slope) and on a constant feature', () => {
    const features = Array.from({ length: 40 }, (_, i) => [i < 20 ? -1 - i : 1 + i, 3]).flat();
    const labels = Float64Array.from({ length: 40 }, (_, i) => (i < 20 ? 0 : 1));
    const model = new LogisticRegression({ dimensions: 2 });
    model.fit(Float64Array.from(features), labels, 40);
    expect(model.weights().every(Number.isFinite)).toBe(true);
    expect(model.weights()[2]).toBeCloseTo(0, 9);
    expect(model.predict([30, 3])).toBeGreaterThan(0.9);
    expect(model.predict([-30, 3])).toBeLessThan(0.1);
  });

  it('round-trips through JSON', () => {
    const random = mulberry32(2);
    const { features, labels } = gaussianShift(9, 100, 1);
    const a = new LogisticRegression({ dimensions: 1, lambda: 0.5 });
    a.fit(features, labels, 200);
    const b = LogisticRegression.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
    for (let i = 0; i < 10; i += 1) {
      const x = [random() * 4 - 2];
      expect(b.logit(x)).toBeCloseTo(a.logit(x), 12);
    }
  });

  it('refuses too few rows and bad options', () => {
    expect(() => new LogisticRegression({ dimensions: 1, lambda: -1 })).toThrow(/lambda/);
    expect(() => new LogisticRegression({ dimensions: 1.5 })).toThrow(/dimensions/);
    expect(() => new LogisticRegression({ dimensions: 2 }).fit([1, 2, 3], [0, 1], 2)).toThrow(/rows/);
    expect(() => new LogisticRegression({ dimensions: 1 }).logit([1, 2])).toThrow(/expected 1 features/);
  });
});
