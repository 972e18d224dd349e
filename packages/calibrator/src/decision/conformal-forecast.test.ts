import { describe, expect, it } from 'vitest';
import { ConformalForecast } from './conformal-forecast.js';

describe('ConformalForecast (hand-computed)', () => {
  it('gives each horizon the conformal quantile of its own absolute errors above the point', () => {
    const f = new ConformalForecast({ method: 'persistence', stepMinutes: 60, alpha: 0.5, horizons: 2 });
    // Before any value: the fallback point, no interval.
    expect(f.slots(2, 250)).toEqual([
      { point: 250, upper: 250 },
      { point: 250, upper: 250 },
    ]);
    f.update(100);
    f.update(110); // 1 step ahead: forecast 100, error 10
    f.update(130); // 1 ahead: 110 -> error 20; 2 ahead: 100 -> error 30
    // Horizon 1: errors {10, 20}, rank ceil(3 x 0.5) = 2: 20. Horizon 2 (and farther): {30}, rank 1: 30.
    expect(f.slots(3)).toEqual([
      { point: 130, upper: 150 },
      { point: 130, upper: 160 },
      { point: 130, upper: 160 },
    ]);
    expect(f.seen).toBe(3);
  });

  it('a gap (NaN) repeats the last value and is scored against nothing', () => {
    const f = new ConformalForecast({ method: 'persistence', stepMinutes: 60, alpha: 0.5, horizons: 1 });
    f.update(100);
    f.update(Number.NaN);
    f.update(140); // forecast made after the gap: 100 -> error 40 (the gap scored nothing)
    expect(f.slots(1)).toEqual([{ point: 140, upper: 180 }]);
    expect(() => new ConformalForecast({ stepMinutes: 60, alpha: 1 })).toThrow(/alpha/);
    expect(() => new ConformalForecast({ stepMinutes: 7, alpha: 0.1 })).toThrow(/divide a day/);
  });
});
