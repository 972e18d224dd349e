import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@carboncp/protocol';
import { createForecaster, forecastSeries, FORECAST_METHODS } from './forecast.js';

/** Seeded xorshift32 in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

const daily = (i: number, perDay: number): number => 200 + 80 * Math.sin((2 * Math.PI * i) / perDay);

describe('seasonal naive forecasts', () => {
  it('repeat the value one day or one week back, at every step', () => {
    for (const step of [5, 15, 30, 60]) {
      const perDay = 1440 / step;
      const y = Array.from({ length: 8 * 7 * perDay }, (_, i) => i); // every value distinct
      const n = 3 * 7 * perDay + 11;
      const seen = y.slice(0, n);
      const day = forecastSeries(seen, 2 * perDay, step, 'seasonal-naive-day');
      const week = forecastSeries(seen, 2 * perDay, step, 'seasonal-naive-week');
      const persistence = forecastSeries(seen, 3, step, 'persistence');
      for (let h = 1; h <= 2 * perDay; h++) {
        expect(day[h - 1]).toBe(n - 1 + h - perDay * Math.ceil(h / perDay));
        expect(week[h - 1]).toBe(n - 1 + h - 7 * perDay);
      }
      expect([...persistence]).toEqual([n - 1, n - 1, n - 1]);
    }
  });

  it('fall back to the last value before a whole season and repeat it over gaps', () => {
    expect([...forecastSeries([5, 6, 7], 2, 60, 'seasonal-naive-day')]).toEqual([7, 7]);
    const f = createForecaster('persistence', 60);
    f.update(4);
    f.update(Number.NaN);
    expect(f.predict(1)).toBe(4);
    expect(f.seen).toBe(2);
  });
});

describe('seasonal-ewma', () => {
  it('learns a clean daily cycle exactly and a level shift through the anomaly', () => {
    const perDay = 24;
    const y = Array.from({ length: 10 * perDay }, (_, i) => daily(i, perDay));
    const f = forecastSeries(y, 48, 60, 'seasonal-ewma');
    for (let h = 1; h <= 48; h++) expect(f[h - 1]).toBeCloseTo(daily(y.length - 1 + h, perDay), 6);
  });

  it('beats both seasonal naives on a noisy daily cycle with a persistent anomaly (seeded)', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const r = rng(seed);
      const perDay = 24;
      let a = 0;
      const y = Array.from({ length: 60 * perDay }, (_, i) => {
        a = 0.9 * a + 20 * (r() - 0.5); // AR(1) weather
        return Math.max(0, daily(i, perDay) + a + 5 * (r() - 0.5));
      });
      const mae = (method: (typeof FORECAST_METHODS)[number], h: number): number => {
        const fc = createForecaster(method, 60);
        let sum = 0;
        let n = 0;
        for (let t = 0; t + h < y.length; t++) {
          fc.update(y[t]);
          if (t >= 14 * perDay) {
            sum += Math.abs(fc.predict(h) - y[t + h]);
            n++;
          }
        }
        return sum / n;
      };
      for (const h of [1, 6, 24]) {
        const ewma = mae('seasonal-ewma', h);
        expect(ewma, `seed ${seed} h ${h}`).toBeLessThan(mae('seasonal-naive-day', h));
        expect(ewma, `seed ${seed} h ${h}`).toBeLessThan(mae('seasonal-naive-week', h));
      }
    }
  });

  it('never forecasts below zero or from the future', () => {
    const y = Array.from({ length: 5 * 96 }, (_, i) => (i % 96 < 48 ? 0.5 : 300));
    const f = createForecaster('seasonal-ewma', 15);
    for (const v of y) f.update(v);
    const before = Array.from({ length: 96 }, (_, h) => f.predict(h + 1));
    expect(before.every((v) => v >= 0)).toBe(true);
    // predict() does not change the state.
    expect(Array.from({ length: 96 }, (_, h) => f.predict(h + 1))).toEqual(before);
  });

  it('refuses unusable settings with coded errors', () => {
    expect(() => createForecaster('seasonal-ewma', 7)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => createForecaster('seasonal-ewma', 60, { alpha: 0 })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => createForecaster('magic' as never, 60)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });
});
