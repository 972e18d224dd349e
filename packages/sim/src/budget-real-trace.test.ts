/**
 * The paced budget on the real DE grid (Electricity Maps 2022, ../shared/data/carbon), forecast by
 * the carbon package's forecaster: a week of budget.test.ts's world (three variants of the noisy
 * candidates, one request a minute) from 15 March 2022, a daily budget midway between the least
 * carbon and quality first. The stated tolerance: no day spends more than 2% over its budget.
 * Skipped, with a line saying so, where the shared data is not checked out.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { DecisionCandidate } from '@carboncp/calibrator';
import { parseTraceCsv } from '@carboncp/carbon';
import type { LatencyDistribution } from '@carboncp/core';
import { describe, expect, it } from 'vitest';
import type { SimulationOptions } from './options.js';
import { noisyCandidates, noisyWorld } from './sim.test-support.js';
import { simulate } from './simulate.js';

const FILE = new URL('../../../../shared/data/carbon/electricitymaps_2022_hourly.csv', import.meta.url);
const present = existsSync(FILE);
if (!present) console.log(`skipped: the real DE grid trace is not here (${FILE.pathname}); check out ../shared to run this test`);

/** Per day, the spend may exceed the budget by this share of it, and no more. */
const DAILY_TOLERANCE = 0.02;
const DAY_MS = 86_400_000;
const START = Date.UTC(2022, 2, 15);
const DAYS = 7;

const scale = (d: LatencyDistribution, f: number): LatencyDistribution => ({ ...d, medianMs: d.medianMs * f, p10Ms: d.p10Ms * f, p90Ms: d.p90Ms * f, meanMs: d.meanMs * f, sdMs: d.sdMs * f });
function family(): DecisionCandidate[] {
  return [
    { name: 'small', quality: 60, f: 0.5 },
    { name: 'base', quality: 68, f: 1 },
    { name: 'large', quality: 76, f: 2 },
  ].flatMap((v) => noisyCandidates().map((c) => ({ ...c, id: `${c.id}/${v.name}`, variant: v.name, quality: v.quality, head: scale(c.head, v.f), tail: scale(c.tail, v.f) })));
}

function world(overrides: Partial<SimulationOptions>): SimulationOptions {
  return noisyWorld({
    candidates: family(),
    deviceCarbon: parseTraceCsv(readFileSync(FILE, 'utf8')).series.get('DE')!,
    start: START,
    hours: DAYS * 24,
    rate: { perMinute: 1, arrivals: 'poisson' },
    battery: { startPercent: 100, pluggedHoursUtc: [0, 0] },
    sloMs: 400,
    seed: 3,
    ...overrides,
  });
}

describe.skipIf(!present)('the paced budget on the real DE grid', () => {
  it(`never spends more than ${DAILY_TOLERANCE * 100}% over a day's budget, over the whole week`, () => {
    const least = simulate(world({ policies: ['carboncp-mean'] })).policies[0]!.carbonG;
    const top = simulate(world({ policies: ['carboncp-mean'], minQuality: 76 })).policies[0]!.carbonG;
    expect(top).toBeGreaterThan(1.3 * least);
    const perDay = (least + 0.5 * (top - least)) / DAYS;
    const spent = new Float64Array(DAYS);
    const greedy = new Float64Array(DAYS);
    const result = simulate({
      ...world({ budget: { grams: perDay, periodHours: 24 }, policies: ['carboncp-paced', 'greedy-spender'] }),
      onRequest: (r) => {
        const day = Math.floor((r.time - START) / DAY_MS);
        spent[day] += r.outcomes.carbonG[r.choices[0]!]!;
        greedy[day] += r.outcomes.carbonG[r.choices[1]!]!;
      },
    });
    expect(result.budget!.periods).toBe(DAYS);
    for (let d = 0; d < DAYS; d += 1) expect(spent[d]!, `day ${d}`).toBeLessThanOrEqual(perDay * (1 + DAILY_TOLERANCE));
    // The ledger's own account agrees with the days summed here.
    const paced = result.budget!.policies['carboncp-paced']!;
    expect(paced.spentG).toBeCloseTo(spent.reduce((a, b) => a + b, 0), 12);
    expect(paced.overspendG).toBeCloseTo(spent.reduce((a, s) => a + Math.max(0, s - perDay), 0), 12);
    // It spends the budget rather than hoarding it, and the greedy spender overspends where it does not.
    expect(paced.spentG).toBeGreaterThan(0.8 * DAYS * perDay);
    expect(Math.max(...greedy) / perDay).toBeGreaterThan(Math.max(...spent) / perDay);
  });
});
