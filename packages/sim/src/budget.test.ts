import type { DecisionCandidate } from '@carboncp/calibrator';
import type { LatencyDistribution } from '@carboncp/core';
import { describe, expect, it } from 'vitest';
import type { SimulationOptions } from './options.js';
import { mulberry32 } from '@carboncp/core';
import { hourly, noisyCandidates, noisyWorld, START } from './sim.test-support.js';
import { simulate } from './simulate.js';

const scale = (d: LatencyDistribution, f: number): LatencyDistribution => ({ ...d, medianMs: d.medianMs * f, p10Ms: d.p10Ms * f, p90Ms: d.p90Ms * f, meanMs: d.meanMs * f, sdMs: d.sdMs * f });

/** noisyCandidates as three variants of one task: a half-cost small one, the base, a double-cost large one. */
function family(): DecisionCandidate[] {
  const variants = [
    { name: 'small', quality: 60, f: 0.5 },
    { name: 'base', quality: 68, f: 1 },
    { name: 'large', quality: 76, f: 2 },
  ];
  return variants.flatMap((v) => noisyCandidates().map((c) => ({ ...c, id: `${c.id}/${v.name}`, variant: v.name, quality: v.quality, head: scale(c.head, v.f), tail: scale(c.tail, v.f) })));
}

/**
 * A seeded real-trace-like world: four days of an hourly device grid with a daily cycle (solar dip
 * at noon), day-to-day level changes and hourly noise, forecast by the carbon package's
 * forecaster after 14 days of warm-up; noisyWorld's link, server and arrivals (1 a minute), no battery.
 */
function world(overrides: Partial<SimulationOptions> = {}): SimulationOptions {
  const random = mulberry32(5);
  const days = 21;
  const values: number[] = [];
  for (let d = 0; d < days; d += 1) {
    const level = 350 + 120 * random();
    for (let h = 0; h < 24; h += 1) values.push(Math.max(40, level - 180 * Math.exp(-(((h - 12) / 3.5) ** 2)) + 25 * (random() - 0.5)));
  }
  return noisyWorld({
    candidates: family(),
    device: noisyWorld().device,
    deviceCarbon: hourly('DEV', values, START),
    start: START + 14 * 86_400_000,
    hours: 96,
    rate: { perMinute: 1, arrivals: 'poisson' },
    battery: { startPercent: 100, pluggedHoursUtc: [0, 0] },
    sloMs: 400,
    seed: 3,
    ...overrides,
  });
}

describe('a carbon budget in the simulator', () => {
  it('carboncp-paced keeps each day within its budget (tolerance 2%); greedy-spender overspends and degrades late', () => {
    const reference = simulate(world({ policies: ['carboncp-robust'] }));
    const top = simulate(world({ policies: ['carboncp-robust'], minQuality: 76 }));
    const cheapestG = reference.policies[0]!.carbonG;
    const topG = top.policies[0]!.carbonG;
    expect(topG).toBeGreaterThan(1.5 * cheapestG);
    const perDay = (cheapestG + 0.5 * (topG - cheapestG)) / 4;
    const quality = new Map(family().map((c) => [c.id, c.quality!]));
    // Greedy's mean quality in the first and the last four hours of each day (UTC: the run starts at midnight).
    const early: number[] = [];
    const late: number[] = [];
    const options = world({ budget: { grams: perDay, periodHours: 24 }, policies: ['carboncp-robust', 'carboncp-paced', 'greedy-spender'] });
    const result = simulate({
      ...options,
      onRequest: (r) => {
        const hour = new Date(r.time).getUTCHours();
        const q = quality.get(r.candidates[r.choices[2]!]!)!;
        if (hour < 4) early.push(q);
        else if (hour >= 20) late.push(q);
      },
    });
    const b = result.budget!;
    expect(b.periods).toBe(4);
    expect(b.grams).toBe(perDay);
    const paced = b.policies['carboncp-paced']!;
    expect(paced.overspendG).toBeLessThanOrEqual(0.02 * 4 * perDay);
    expect(paced.spentG).toBeGreaterThan(0.8 * 4 * perDay);
    const greedy = b.policies['greedy-spender']!;
    expect(greedy.overspendG).toBeGreaterThan(paced.overspendG);
    expect(greedy.overspendG).toBeGreaterThan(0.02 * 4 * perDay);
    expect(greedy.periodsOverspent).toBe(4);
    const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
    expect(mean(late)).toBeLessThan(mean(early) - 5);
    // The budget buys quality over the least-carbon policy, which it also accounts.
    const byPolicy = Object.fromEntries(result.policies.map((p) => [p.policy, p]));
    expect(byPolicy['carboncp-paced']!.meanQuality!).toBeGreaterThan(byPolicy['carboncp-robust']!.meanQuality! + 8);
    expect(b.policies['carboncp-robust']!.spentG).toBeCloseTo(byPolicy['carboncp-robust']!.carbonG, 12);
    expect(b.policies['carboncp-paced']!.spentG).toBeCloseTo(byPolicy['carboncp-paced']!.carbonG, 12);
  });

  it('is deterministic for a seed, and the budget policies need a budget', () => {
    const options = world({ hours: 30, budget: { grams: 0.02, periodHours: 12 }, policies: ['carboncp-paced', 'greedy-spender'] });
    const one = simulate(options);
    const two = simulate(options);
    expect(two.budget).toEqual(one.budget);
    expect(two.policies.map((p) => p.cutCounts)).toEqual(one.policies.map((p) => p.cutCounts));
    expect(one.budget!.periods).toBe(3);
    expect(() => simulate(world({ hours: 1, policies: ['carboncp-paced'] }))).toThrow(/needs a carbon budget/);
    expect(() => simulate(world({ hours: 1, budget: { grams: -1, periodHours: 1 } }))).toThrow(/budget needs/);
    const defaults = simulate(world({ hours: 1, policies: undefined }));
    expect(defaults.policies.map((p) => p.policy)).not.toContain('carboncp-paced');
    expect(defaults.budget).toBeUndefined();
  });
});
