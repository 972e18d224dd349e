import { describe, expect, it } from 'vitest';
import { BudgetForecast } from './budget-forecast.js';
import { hourly, HOUR_MS, START } from './sim.test-support.js';

describe('BudgetForecast', () => {
  const pattern = Array.from({ length: 24 }, (_, h) => 300 + 100 * Math.cos((2 * Math.PI * h) / 24));

  it('on an exactly daily grid, seasonal-naive forecasts every hour ahead exactly, with an interval of width 0', () => {
    const series = hourly('DEV', Array.from({ length: 24 * 20 }, (_, i) => pattern[i % 24]!));
    const forecast = new BudgetForecast(series, START + 15 * 24 * HOUR_MS, 'seasonal-naive-day', 14, 0.1);
    const at = START + 15 * 24 * HOUR_MS + 5 * HOUR_MS + 1234;
    const slots = forecast.slots(at, 30);
    expect(slots).toHaveLength(30);
    slots.forEach((s, h) => {
      expect(s.point).toBeCloseTo(pattern[(5 + h) % 24]!, 9);
      expect(s.upper).toBeCloseTo(s.point, 9);
    });
    expect(forecast.slots(at + HOUR_MS, 2)[0]!.point).toBeCloseTo(pattern[6]!, 9);
  });

  it('widens the interval where the forecaster errs: a noisy grid gets upper bounds above the points', () => {
    const series = hourly('DEV', Array.from({ length: 24 * 20 }, (_, i) => pattern[i % 24]! + (i % 7 === 0 ? 80 : 0)));
    const forecast = new BudgetForecast(series, START + 15 * 24 * HOUR_MS, 'seasonal-naive-day', 14, 0.1);
    const slots = forecast.slots(START + 15 * 24 * HOUR_MS, 24);
    for (const s of slots) expect(s.upper - s.point).toBeGreaterThan(10);
  });
});
