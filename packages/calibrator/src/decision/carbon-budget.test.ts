import { describe, expect, it } from 'vitest';
import { CarbonBudget, type ForecastSlot } from './carbon-budget.js';
import { CarbonAwareDecision } from './decider.js';
import { context } from './decision.test-support.js';
import { FAMILY_WORLD } from './variants.test-support.js';

const HOUR = 3_600_000;
const MINUTE = 60_000;
const G = 1 / 3.6e6;

/** One request a minute over the budget's first period, each emitting exactly its cap; the caps given. */
function spendEveryMinute(budget: CarbonBudget, forecastAt: (slot: number) => ForecastSlot): number[] {
  const caps: number[] = [];
  const slots = Math.round(budget.options.periodMs / budget.options.slotMs);
  for (let t = budget.options.start; t < budget.periodEnd(budget.options.start); t += MINUTE) {
    const first = Math.floor((t - budget.options.start) / budget.options.slotMs);
    const forecast = Array.from({ length: slots - first }, (_, h) => forecastAt(first + h));
    expect(forecast.length).toBe(budget.slotsLeft(t));
    const cap = budget.cap(t, forecast);
    caps.push(cap);
    budget.record(cap, t);
  }
  return caps;
}

describe('CarbonBudget pacing (hand-computed)', () => {
  it('under a flat forecast spends evenly: 720 g over 24 h at 60 requests an hour is 0.5 g a request', () => {
    const budget = new CarbonBudget({ grams: 720, periodMs: 24 * HOUR, start: 0, requestsPerHour: 60 });
    const caps = spendEveryMinute(budget, () => ({ point: 400, upper: 400 }));
    expect(caps).toHaveLength(1440);
    for (const cap of caps) expect(cap).toBeCloseTo(0.5, 9);
    expect(budget.state().spentG).toBeCloseTo(720, 6);
    expect(budget.state().overspendG).toBeCloseTo(0, 9);
  });

  it('under a varying forecast shifts grams to the clean hour: 100 then 400 g/kWh, 75 g: 1 g then 0.25 g a request (tilt 1)', () => {
    // weights 60/100 + 60/400 = 0.75, k = 75 / 0.75 = 100: cap = k / u = 1 g at 100 g/kWh, 0.25 g at 400.
    const budget = new CarbonBudget({ grams: 75, periodMs: 2 * HOUR, start: 0, requestsPerHour: 60 });
    const caps = spendEveryMinute(budget, (slot) => (slot === 0 ? { point: 100, upper: 100 } : { point: 400, upper: 400 }));
    for (const cap of caps.slice(0, 60)) expect(cap).toBeCloseTo(1, 9);
    for (const cap of caps.slice(60)) expect(cap).toBeCloseTo(0.25, 9);
    expect(budget.state().spentG).toBeCloseTo(75, 6);
    // tilt 0: even grams per request (75 / 120), the energy allowance alone following the grid.
    const even = new CarbonBudget({ grams: 75, periodMs: 2 * HOUR, start: 0, requestsPerHour: 60, tilt: 0 });
    expect(even.cap(0, [{ point: 100, upper: 100 }, { point: 400, upper: 400 }])).toBeCloseTo(0.625, 9);
  });

  it('a wider forecast interval spends less early and re-plans the rest, within the budget', () => {
    const sure = new CarbonBudget({ grams: 720, periodMs: 24 * HOUR, start: 0, requestsPerHour: 60 });
    const unsure = new CarbonBudget({ grams: 720, periodMs: 24 * HOUR, start: 0, requestsPerHour: 60 });
    // Upper bound twice the point: the first cap is 720 / 1440 x 400 / 800 = 0.25 g.
    expect(unsure.cap(0, Array.from({ length: 24 }, () => ({ point: 400, upper: 800 })))).toBeCloseTo(0.25, 9);
    const sureCaps = spendEveryMinute(sure, () => ({ point: 400, upper: 400 }));
    const unsureCaps = spendEveryMinute(unsure, () => ({ point: 400, upper: 800 }));
    const firstHour = (caps: number[]) => caps.slice(0, 60).reduce((a, b) => a + b, 0);
    expect(firstHour(unsureCaps)).toBeLessThan(0.6 * firstHour(sureCaps));
    // Caps grow as the unspent remainder is re-planned; the total stays within the budget.
    expect(unsureCaps[1439]!).toBeGreaterThan(unsureCaps[0]!);
    expect(unsure.state().spentG).toBeLessThanOrEqual(720 + 1e-9);
    expect(unsure.state().spentG).toBeGreaterThan(0.9 * 720);
  });

  it('renews each period, counts overspend, and caps at 0 once the period is spent', () => {
    const budget = new CarbonBudget({ grams: 10, periodMs: HOUR, start: 1000, requestsPerHour: 60 });
    budget.record(8, 1000);
    budget.record(5, 2000);
    expect(budget.remaining(2000)).toBeCloseTo(-3, 9);
    expect(budget.state().overspendG).toBeCloseTo(3, 9);
    expect(budget.cap(3000, [{ point: 300, upper: 300 }])).toBe(0);
    expect(budget.remaining(1000 + HOUR)).toBeCloseTo(10, 9);
    expect(budget.state()).toMatchObject({ period: 1, spentG: 0, requests: 0, totalSpentG: 13, periodStart: 1000 + HOUR, periodEnd: 1000 + 2 * HOUR });
    expect(() => budget.record(-1, 0)).toThrow(/grams recorded/);
    expect(() => new CarbonBudget({ grams: 1, periodMs: HOUR, start: 0, requestsPerHour: 0 })).toThrow(/requestsPerHour/);
    expect(() => budget.cap(0, [{ point: 500, upper: 400 }])).toThrow(/forecast slot/);
  });

  it('round-trips its state through JSON', () => {
    const budget = new CarbonBudget({ grams: 50, periodMs: 6 * HOUR, start: 0, requestsPerHour: 30, tilt: 0.5 });
    const forecast = Array.from({ length: 6 }, (_, h) => ({ point: 200 + 10 * h, upper: 260 + 20 * h }));
    budget.cap(0, forecast);
    budget.record(0.7, 10 * MINUTE);
    const copy = CarbonBudget.fromJSON(JSON.parse(JSON.stringify(budget.toJSON())));
    expect(copy.toJSON()).toEqual(budget.toJSON());
    expect(copy.cap(HOUR + 1, forecast.slice(1))).toBeCloseTo(budget.cap(HOUR + 1, forecast.slice(1)), 12);
    expect(copy.state().lastCapAt).toBe(HOUR + 1);
  });
});

describe('the budget rule in the decision (maxCarbonG, hand-computed on FAMILY_WORLD)', () => {
  const fresh = () => new CarbonAwareDecision(FAMILY_WORLD, { exploration: false });
  const request = { mode: 'mean' as const, sloMs: 100, preferQuality: true };

  it('quality first without a cap: the large variant, its least carbon within the SLO (split-2/int8/large, 107 x G g)', () => {
    const d = fresh().decide(context(), request);
    expect(d.candidate.id).toBe('split-2/int8/large');
    expect(d.bound).toBe('none');
    expect(d.preferQuality).toBe(true);
    expect(d.explanation).toContain('objective carbon (quality first)');
  });

  it('a cap of 100 x G g moves to the mid variant (split-2/none/mid, 79 x G g); 70 x G g to the small one; and says why', () => {
    const mid = fresh().decide(context(), { ...request, maxCarbonG: 100 * G });
    expect(mid.candidate.id).toBe('split-2/none/mid');
    expect(mid.bound).toBe('budget');
    expect(mid.maxCarbonG).toBeCloseTo(100 * G, 15);
    const byId = Object.fromEntries(mid.assessments.map((a) => [a.candidate.id, a]));
    expect(byId['split-2/int8/large']!.excludedBy).toEqual(['budget']);
    expect(byId['split-2/none/large']!.excludedBy).toEqual(['slo', 'budget']);
    expect(byId['device/none/mid']!.feasible).toBe(true);
    expect(mid.explanation).toContain("Binding constraint: budget: split-2/int8/large has higher quality (72) but its predicted carbon 2.97e-5 g exceeds the budget's cap 2.78e-5 g.");
    expect(mid.explanation).toContain('carbon cap 2.78e-5 g');
    const small = fresh().decide(context(), { ...request, maxCarbonG: 70 * G });
    expect(small.candidate.id).toBe('device/none/small');
    expect(small.bound).toBe('budget');
    // Without preferQuality the cap does not bind: the least carbon is already the small variant.
    expect(fresh().decide(context(), { mode: 'mean', sloMs: 100, maxCarbonG: 70 * G }).bound).toBe('none');
  });

  it('a cap nothing fits is relaxed (stated), taking the least carbon that keeps the other rules (device/none/small, 40 x G g)', () => {
    const d = fresh().decide(context(), { ...request, maxCarbonG: 10 * G });
    expect(d.candidate.id).toBe('device/none/small');
    expect(d.relaxed).toEqual(['budget']);
    expect(d.sloUnmet).toBe(false);
    expect(d.explanation).toContain('Relaxed: budget');
    // With the SLO unmet as well, the SLO's fallback (the fastest bound) is taken, both relaxed.
    const late = fresh().decide(context(), { ...request, sloMs: 5, maxCarbonG: 10 * G });
    expect(late.candidate.id).toBe('device/none/small');
    expect(late.sloUnmet).toBe(true);
    expect(late.relaxed).toEqual(['slo', 'budget']);
    expect(() => fresh().decide(context(), { maxCarbonG: -1 })).toThrow(/maxCarbonG/);
  });
});

describe('CarbonBudget with a floor (the least carbon any candidate emits now)', () => {
  it('reserves the floor for every request to come and paces the surplus (hand-computed)', () => {
    // Flat: reserve 1440 x 0.2 = 288, surplus 432, k = 432 / (1440 / 400) = 120: cap 0.2 + 120 / 400 = 0.5, as without.
    const flat = new CarbonBudget({ grams: 720, periodMs: 24 * HOUR, start: 0, requestsPerHour: 60 });
    expect(flat.cap(0, Array.from({ length: 24 }, () => ({ point: 400, upper: 400 })), 0.2)).toBeCloseTo(0.5, 9);
    // 100 then 400 g/kWh, 75 g, a floor of 0.001 kWh-equivalent (0.1 g at 100, 0.4 g at 400): reserve 6 + 24 = 30,
    // surplus 45, k = 45 / 0.75 = 60: 0.1 + 60 / 100 = 0.7 g a request in the clean hour; then 33 g left,
    // reserve 24, surplus 9, k = 9 / 0.15 = 60: 0.4 + 60 / 400 = 0.55 g in the dirty one; 42 + 33 = 75 g in all.
    const budget = new CarbonBudget({ grams: 75, periodMs: 2 * HOUR, start: 0, requestsPerHour: 60 });
    const clean = { point: 100, upper: 100 };
    const dirty = { point: 400, upper: 400 };
    let spent = 0;
    for (let t = 0; t < 2 * HOUR; t += MINUTE) {
      const first = t < HOUR;
      const cap = budget.cap(t, first ? [clean, dirty] : [dirty], first ? 0.1 : 0.4);
      expect(cap).toBeCloseTo(first ? 0.7 : 0.55, 9);
      budget.record(cap, t);
      spent += cap;
    }
    expect(spent).toBeCloseTo(75, 6);
    // A floor the budget cannot cover: the floor itself (the cheapest), never more than is left.
    const poor = new CarbonBudget({ grams: 1, periodMs: HOUR, start: 0, requestsPerHour: 60 });
    expect(poor.cap(0, [dirty], 0.4)).toBeCloseTo(0.4, 9);
    expect(poor.cap(0, [dirty], 2)).toBeCloseTo(1, 9);
    expect(() => poor.cap(0, [dirty], -1)).toThrow(/floorG/);
  });
});
