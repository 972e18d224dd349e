import { describe, expect, it } from 'vitest';
import { BudgetPacer } from './budget-pacer.js';
import { CarbonBudget } from './carbon-budget.js';
import type { CandidateAssessment, Constraint } from './decision-types.js';

const HOUR = 3_600_000;
const seen = (carbonG: number, excludedBy: Constraint[]) => ({ carbonG, excludedBy }) as unknown as CandidateAssessment;
// A clean second hour: 400 then 100 g/kWh, both sure (upper = point).
const forecast = [
  { point: 400, upper: 400 },
  { point: 100, upper: 100 },
];

describe('BudgetPacer (hand-computed)', () => {
  it('caps without a floor as CarbonBudget does, then reserves the cheapest otherwise-feasible candidate as its floor', () => {
    const pacer = new BudgetPacer({ grams: 12, periodMs: 2 * HOUR, start: 0, requestsPerHour: 60 });
    // weights 60/400 + 60/100 = 0.75; cap = 12 / 0.75 x 400^-2 x 400 = 0.04 g.
    expect(pacer.cap(0, forecast)).toBeCloseTo(0.04, 12);
    // Feasible 0.05 g and budget-only-excluded 0.3 g count; 0.01 g (out by the SLO) does not: the floor is 0.05 g at 400 g/kWh.
    pacer.noted({ assessments: [seen(0.3, ['budget']), seen(0.05, []), seen(0.01, ['slo', 'budget'])] }, 400);
    // reserve = 60 x (0.05 / 400) x 400 + 60 x (0.05 / 400) x 100 = 3.75 g; surplus 8.25 g paced: 8.25 / 0.75 / 400 = 0.0275 g.
    expect(pacer.cap(0, forecast)).toBeCloseTo(0.05 + 0.0275, 12);
    // The floor is an energy, priced at the intensity now: at 200 g/kWh it is 0.025 g; weights 60/200 + 60/100 = 0.9,
    // reserve 60 x 1.25e-4 x (200 + 100) = 2.25 g, paced (12 - 2.25) / 0.9 / 200 = 0.0541667 g.
    expect(pacer.cap(0, [{ point: 200, upper: 200 }, forecast[1]!])).toBeCloseTo(0.025 + 9.75 / 0.9 / 200, 12);
    // Nothing otherwise feasible, or no intensity: the floor stays.
    pacer.noted({ assessments: [seen(0.02, ['slo'])] }, 400);
    pacer.noted({ assessments: [seen(0.02, [])] }, 0);
    expect(pacer.cap(0, forecast)).toBeCloseTo(0.0775, 12);
  });

  it('books into the budget it wraps, and wraps a given CarbonBudget', () => {
    const budget = new CarbonBudget({ grams: 1, periodMs: HOUR, start: 0, requestsPerHour: 10 });
    const pacer = new BudgetPacer(budget);
    expect(pacer.budget).toBe(budget);
    pacer.record(0.4, 1000);
    expect(budget.remaining(1000)).toBeCloseTo(0.6, 12);
    // 0.6 g over the 10 requests expected in the (almost whole) hour left.
    expect(pacer.cap(1000, [{ point: 300, upper: 300 }])).toBeCloseTo(0.6 / (10 * (HOUR - 1000) / HOUR), 12);
  });
});
