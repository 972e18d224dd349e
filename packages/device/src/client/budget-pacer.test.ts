import { describe, expect, it } from 'vitest';
import type { IntensityPoint } from '@carboncp/carbon';
import { ErrorCode } from '@carboncp/protocol';
import { ClientBudget, checkBudgetOptions } from './budget-pacer.js';
import type { RequestTelemetry } from './types.js';

const HOUR = 3_600_000;
const point = (gPerKwh: number): IntensityPoint => ({ time: '2026-01-01T00:00:00Z', gPerKwh, zone: 'test', source: 'test', kind: 'measured' });

describe('ClientBudget (hand-computed)', () => {
  it('paces by a conformal forecast of the intensities it read, per slot, when given none', () => {
    let reading: number | undefined = 100;
    const budget = new ClientBudget({ grams: 6, periodMs: 3 * HOUR, forecastMethod: 'persistence', alpha: 0.5 }, 0, () => (reading === undefined ? undefined : point(reading)), 500);
    // Nothing seen yet: the reading now, sure, for all three hours: 6 g over 180 requests.
    expect(budget.cap(0).capG).toBeCloseTo(6 / 180, 12);
    // Hour 1: the forecaster has hour 0's mean (100), no error yet: flat again over 120 requests.
    reading = 200;
    expect(budget.cap(HOUR)).toEqual({ capG: expect.closeTo(6 / 120, 12), now: { point: 100, upper: 100 } });
    reading = 300;
    budget.cap(HOUR + 1000);
    // Hour 2: hour 1's mean is 250; its 1-hour-ahead forecast was 100, an error of 150, the conformal
    // bound at alpha 0.5 of one error: 250 + 150 = 400. One slot left: 6 g / 60 requests x 250 / 400.
    reading = 999;
    expect(budget.cap(2 * HOUR)).toEqual({ capG: expect.closeTo((6 / 60) * (250 / 400), 12), now: { point: 250, upper: 400 } });
    // No reading at all: the fallback intensity stands in before any history (a fresh budget).
    reading = undefined;
    const blind = new ClientBudget({ grams: 6, periodMs: 3 * HOUR }, 0, () => undefined, 500);
    expect(blind.cap(0).now).toEqual({ point: 500, upper: 500 });
  });

  it('takes a caller forecast (the slot in progress first) and books measured carbon before predicted', () => {
    const budget = new ClientBudget({ grams: 2, periodMs: HOUR, start: 1000, requestsPerHour: 10, forecast: () => [{ point: 200, upper: 400 }] }, 0, () => point(1), 1);
    // One slot, the bound twice the point: 2 g / 10 requests x 200 / 400.
    expect(budget.cap(1000)).toEqual({ capG: expect.closeTo(0.1, 12), now: { point: 200, upper: 400 } });
    const measured = { footprint: { totalCarbonG: 0.5 }, decision: { intervals: { carbonG: { point: 0.3 } } } } as unknown as RequestTelemetry;
    const predicted = { decision: { intervals: { carbonG: { point: 0.3 } } } } as unknown as RequestTelemetry;
    expect(budget.book(measured, 2000)).toEqual({ bookedG: 0.5, bookedFrom: 'footprint' });
    expect(budget.book(predicted, 3000)).toEqual({ bookedG: 0.3, bookedFrom: 'prediction' });
    expect(budget.book({} as RequestTelemetry, 4000)).toEqual({});
    // A caller's fixed choice: no decision, priced by predict() (never asked where there is a measure or a decision).
    expect(budget.book({} as RequestTelemetry, 4000, () => 0.15)).toEqual({ bookedG: 0.15, bookedFrom: 'prediction' });
    expect(budget.book({} as RequestTelemetry, 4000, () => undefined)).toEqual({});
    const unused = () => {
      throw new Error('predict() asked although the request has a measure or a decision');
    };
    expect(budget.book(measured, 4000, unused)).toEqual({ bookedG: 0.5, bookedFrom: 'footprint' });
    expect(budget.book(predicted, 4000, unused)).toEqual({ bookedG: 0.3, bookedFrom: 'prediction' });
    expect(budget.state(5000)).toMatchObject({ grams: 2, period: 0, periodStart: 1000, periodEnd: 1000 + HOUR, requests: 5, overspendG: 0 });
    expect(budget.state(5000).spentG).toBeCloseTo(1.75, 12);
    expect(budget.state(5000).remainingG).toBeCloseTo(0.25, 12);
    // The next period: grams renewed.
    expect(budget.state(1000 + HOUR)).toMatchObject({ period: 1, spentG: 0, remainingG: 2, requests: 0, periodStart: 1000 + HOUR });
  });

  it('refuses a budget it could not keep, naming the option', () => {
    const bad = (o: unknown) => () => checkBudgetOptions(o as never);
    expect(bad({ grams: 0, periodMs: HOUR })).toThrow(/budget.grams/);
    expect(bad({ grams: 1, periodMs: '1h' })).toThrow(/budget.period must be milliseconds > 0 or a duration/);
    expect(bad({ grams: 1, period: '1 week' })).toThrow(/budget.period must be milliseconds > 0 or a duration such as '30m'/);
    expect(bad({ grams: 1, period: '0h' })).toThrow(/budget.period must be/);
    expect(bad({ grams: 1, period: '1h', periodMs: HOUR })).toThrow(/period or periodMs, not both/);
    // The name, `period`: milliseconds or a duration; both resolve to periodMs.
    for (const [period, ms] of [['30m', 30 * 60_000], ['1h', HOUR], ['24h', 24 * HOUR], ['7d', 7 * 24 * HOUR], [HOUR, HOUR]] as const) {
      expect(checkBudgetOptions({ grams: 1, period })!.periodMs).toBe(ms);
    }
    expect(checkBudgetOptions({ grams: 1, periodMs: HOUR })).toEqual({ grams: 1, periodMs: HOUR });
    expect(bad({ grams: 1, periodMs: HOUR, slotMs: 7 * 60_000 })).toThrow(/budget.slotMs/);
    expect(bad({ grams: 1, periodMs: HOUR, slotMs: 2 * HOUR })).toThrow(/budget.slotMs/);
    expect(bad({ grams: 1, periodMs: HOUR, forecastMethod: 'crystal-ball' })).toThrow(/budget.forecastMethod/);
    expect(bad({ grams: 1, periodMs: HOUR, forecast: [] })).toThrow(/budget.forecast must be a function/);
    let caught: unknown;
    try {
      checkBudgetOptions({ grams: -1, periodMs: HOUR });
    } catch (error) {
      caught = error;
    }
    expect((caught as { code?: string } | undefined)?.code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(checkBudgetOptions(undefined)).toBeUndefined();
  });
});
