import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@carboncp/core';
import { CarbonAwareDecision } from './decider.js';
import { EXPECTED, FROZEN_RIDGE, WORLD, context } from './decision.test-support.js';
import { SloBudget } from './slo-budget.js';
import type { DecisionContext } from './context.js';

describe('SloBudget', () => {
  it('moves the margin up by step x (1 - alpha) after a miss and down by step x alpha after a hit, within [min, max]', () => {
    const b = new SloBudget({ alpha: 0.1, step: 0.5 });
    expect(b.margin).toBe(1);
    b.update(false);
    expect(b.margin).toBeCloseTo(1.45, 12);
    b.update(true);
    expect(b.margin).toBeCloseTo(1.4, 12);
    for (let i = 0; i < 10; i += 1) b.update(false);
    expect(b.margin).toBe(2);
    for (let i = 0; i < 100; i += 1) b.update(true);
    expect(b.margin).toBe(0);
    expect(b.requests).toBe(112);
    expect(b.missRate).toBeCloseTo(11 / 112, 12);
    const restored = new SloBudget({ alpha: 0.1 }, JSON.parse(JSON.stringify(b.toJSON())));
    expect(restored.toJSON()).toEqual(b.toJSON());
    expect(() => new SloBudget({ alpha: 0 })).toThrow(/alpha/);
    expect(() => new SloBudget({ alpha: 0.1, step: 0 })).toThrow(/step/);
    expect(() => new SloBudget({ alpha: 0.1, min: 1, max: 1 })).toThrow(/min < max/);
    expect(() => new SloBudget({ alpha: 0.1, start: 3 })).toThrow(/start/);
  });

  it('sloMargin holds point + margin x (upper - point) to the SLO: 0 the point, 1 the upper bound', () => {
    const decider = new CarbonAwareDecision(WORLD, { alphas: [0.1], ridge: FROZEN_RIDGE, exploration: false });
    const random = mulberry32(3);
    // Scores of +-10% around each structural latency: finite, non-zero widths.
    for (let i = 0; i < 40; i += 1) WORLD.forEach((c, j) => decider.observe(c.id, context(), { latencyMs: EXPECTED.latencyMs[j]! * (0.9 + 0.2 * random()) }));
    const at = (sloMargin: number) => decider.decide(context(), { mode: 'robust', sloMs: 1000, sloMargin, explore: false });
    const zero = at(0);
    const one = at(1);
    const half = at(0.5);
    for (let k = 0; k < WORLD.length; k += 1) {
      const { point, upper } = one.assessments[k]!.latency;
      expect(upper).toBeGreaterThan(point);
      expect(zero.assessments[k]!.latencyBound).toBeCloseTo(point, 9);
      expect(one.assessments[k]!.latencyBound).toBe(upper);
      expect(half.assessments[k]!.latencyBound).toBeCloseTo(point + 0.5 * (upper - point), 9);
    }
    expect(() => decider.decide(context(), { sloMargin: -1 })).toThrow(/sloMargin/);
  });

  it('spends the miss budget: the realised miss rate comes to alpha where robust stays far below it, at less cost', () => {
    // A world where split-2/int8 is cheapest but its latency is noisy around the SLO (about 20%
    // of its requests miss), and device/none is dear and always in time.
    const SLO = 55;
    const run = (budget: SloBudget | undefined) => {
      const random = mulberry32(21);
      const decider = new CarbonAwareDecision(WORLD, { alphas: [0.1], exploration: false });
      const ctx: DecisionContext = context({ deviceIntensityGPerKwh: 800, serverIntensityGPerKwh: 50 });
      const truth = (id: string): number => {
        const j = WORLD.findIndex((c) => c.id === id);
        const noise = Math.exp(0.12 * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()));
        return EXPECTED.latencyMs[j]! * noise;
      };
      for (let i = 0; i < 30; i += 1) decider.observeAll(ctx, Object.fromEntries(WORLD.map((c) => [c.id, { latencyMs: truth(c.id) }])));
      let misses = 0;
      let carbon = 0;
      const n = 4000;
      for (let i = 0; i < n; i += 1) {
        const d = decider.decide(ctx, { mode: 'robust', sloMs: SLO, ...(budget ? { sloMargin: budget.margin } : {}) });
        const latencyMs = truth(d.candidate.id);
        if (latencyMs > SLO) misses += 1;
        carbon += EXPECTED.carbonG[WORLD.findIndex((c) => c.id === d.candidate.id)]!;
        budget?.update(latencyMs <= SLO);
        decider.observe(d.candidate.id, ctx, { latencyMs });
      }
      return { missRate: misses / n, carbon };
    };
    const robust = run(undefined);
    const budget = new SloBudget({ alpha: 0.1 });
    const spent = run(budget);
    expect(robust.missRate).toBeLessThan(0.03);
    // |misses/T - alpha| <= (max - min) / (step x T) = 2 / (0.05 x 4000) = 0.01 while the margin moves freely.
    expect(Math.abs(spent.missRate - 0.1)).toBeLessThanOrEqual(0.01 + 1e-9);
    expect(budget.missRate).toBeCloseTo(spent.missRate, 12);
    expect(spent.carbon).toBeLessThan(robust.carbon * 0.95);
  });
});
