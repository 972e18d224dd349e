import { describe, expect, it } from 'vitest';
import type { PointPredictor } from '../types.js';
import { ConformalizedQuantileRegression } from './cqr.js';

const constant = (value: number): PointPredictor => ({ predict: () => value });

describe('ConformalizedQuantileRegression', () => {
  it('widens the band by the conformal quantile of max(q_lo - y, y - q_hi) (hand-computed)', () => {
    const method = new ConformalizedQuantileRegression(constant(0), constant(10), { alpha: 0.25 });
    // Scores: y = 12 -> 2; y = -3 -> 3; y = 5 -> -5; y = 9 -> -1. Rank ceil(5 x 0.75) = 4: 3.
    for (const y of [12, -3, 5, 9]) method.observe([], y);
    expect(method.predict([])).toMatchObject({ lower: -3, upper: 13, point: 5, correction: 3, band: { lower: 0, upper: 10 }, n: 4, method: 'cqr' });
  });

  it('narrows the band when the scores say it is too wide (negative correction)', () => {
    const method = new ConformalizedQuantileRegression(constant(0), constant(10), { alpha: 0.5 });
    // All inside: scores -4, -3, -2 (y = 4, 3, 8); rank ceil(4 x 0.5) = 2: -3.
    for (const y of [4, 3, 8]) method.observe([], y);
    expect(method.predict([])).toMatchObject({ lower: 3, upper: 7, correction: -3 });
  });

  it('puts crossing quantile predictions in order, and collapses an inverted band to its midpoint', () => {
    const method = new ConformalizedQuantileRegression(constant(10), constant(0), { alpha: 0.5 });
    for (const y of [5, 5, 5]) method.observe([], y); // scores -5 each
    const p = method.predict([]);
    expect(p.band).toEqual({ lower: 0, upper: 10 });
    expect(p).toMatchObject({ lower: 5, upper: 5, correction: -5 });
  });

  it('takes the point from a median predictor when given one, and all three learn each target', () => {
    const learnt: string[] = [];
    const tracked = (name: string, value: number): PointPredictor => ({ predict: () => value, update: (_x, y) => learnt.push(`${name} ${y}`) });
    const method = new ConformalizedQuantileRegression(tracked('lo', 0), tracked('hi', 4), { alpha: 0.1, median: tracked('median', 1) });
    method.observe([], 3);
    expect(learnt).toEqual(['lo 3', 'hi 3', 'median 3']);
    expect(method.predict([]).point).toBe(1);
    expect(method.predict([]).upper).toBe(Number.POSITIVE_INFINITY);
  });

  it('linear() builds quantile regressors at alpha/2 and 1 - alpha/2 and reports them in toJSON', () => {
    const method = ConformalizedQuantileRegression.linear({ alpha: 0.2, dimensions: 2, window: 50, fitWindow: 80 });
    for (let i = 0; i < 10; i += 1) method.observe([i, 1], i);
    const state = JSON.parse(JSON.stringify(method.toJSON())) as Record<string, { quantile: number; window: number; samples: unknown[] } | unknown>;
    expect(state['method']).toBe('cqr');
    expect(state['window']).toBe(50);
    expect(state['lower']).toMatchObject({ quantile: 0.1, window: 80 });
    expect(state['upper']).toMatchObject({ quantile: 0.9, window: 80 });
    expect((state['scores'] as number[]).length).toBe(10);
    expect(state['median']).toBeNull();
    expect(() => ConformalizedQuantileRegression.linear({ alpha: 1.5, dimensions: 1 })).toThrow(/alpha/);
  });
});
