import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@carboncp/core';
import { CarbonAwareDecision } from './decider.js';
import { EXPECTED, FROZEN_RIDGE, WORLD, context } from './decision.test-support.js';
import type { DecisionContext } from './context.js';

/** Each candidate warm: 19 latencies at its structural value, so every upper bound is finite and tight. */
function warm(options: ConstructorParameters<typeof CarbonAwareDecision>[1]): CarbonAwareDecision {
  const decider = new CarbonAwareDecision(WORLD, { alphas: [0.1], ridge: FROZEN_RIDGE, ...options });
  for (let i = 0; i < 19; i += 1) WORLD.forEach((c, j) => decider.observe(c.id, context(), { latencyMs: EXPECTED.latencyMs[j]! }));
  return decider;
}

describe('bounded exploration', () => {
  it('explores at most rate x decisions + 1 times, at about the rate, the same with the same seed', () => {
    const run = (seed: number) => {
      const decider = warm({ exploration: { rate: 0.05, staleAfter: 1, costMargin: Infinity, seed } });
      const explored: boolean[] = [];
      let overCap = 0;
      for (let i = 1; i <= 2000; i += 1) {
        explored.push(decider.decide(context(), { mode: 'robust', sloMs: 100 }).explored);
        if (decider.stats.explored > 0.05 * i + 1) overCap += 1;
      }
      expect(overCap).toBe(0);
      return explored;
    };
    const a = run(7);
    const count = a.filter(Boolean).length;
    expect(count).toBeGreaterThan(70);
    expect(count).toBeLessThanOrEqual(101);
    expect(run(7)).toEqual(a);
    expect(run(8)).not.toEqual(a);
  });

  it('refreshes only candidates whose own bound meets the SLO, the least observed and stalest first', () => {
    // SLO 100: int8 (50) is the choice, device (40) the only other within the SLO; split (125) and server (618) never.
    const decider = warm({ exploration: { rate: 0.5, staleAfter: 5, warmup: false, costMargin: Infinity, seed: 3 } });
    let refreshes = 0;
    for (let i = 0; i < 300; i += 1) {
      const d = decider.decide(context(), { mode: 'robust', sloMs: 100 });
      if (d.explored) {
        refreshes += 1;
        expect(d.exploration).toEqual({ kind: 'refresh', instead: 'split-2/int8' });
        expect(d.candidate.id).toBe('device/none');
        expect(d.chosen.latencyBound).toBeLessThanOrEqual(100);
        expect(d.explanation).toContain('exploring: refresh, instead of split-2/int8');
      } else expect(d.candidate.id).toBe('split-2/int8');
      decider.observe(d.candidate.id, context(), { latencyMs: d.chosen.latency.point });
    }
    // Observed each time it is explored, device/none is stale again only after 5 more decisions.
    expect(refreshes).toBeGreaterThan(20);
    expect(refreshes).toBeLessThanOrEqual(300 / 6 + 1);
  });

  it('warms up candidates without a finite bound only while their prediction is within the margin of the SLO', () => {
    const decider = new CarbonAwareDecision(WORLD, { exploration: { rate: 0.5, seed: 5 } });
    const warmed = new Set<string>();
    for (let i = 0; i < 200; i += 1) {
      // SLO 700: 0.8 x 700 = 560 keeps every candidate but server/none (618).
      const d = decider.decide(context(), { mode: 'robust', sloMs: 700 });
      if (d.exploration?.kind === 'warmup') {
        warmed.add(d.candidate.id);
        expect(d.assessments.find((a) => a.candidate.id === d.candidate.id)!.latencyBound).toBe(Number.POSITIVE_INFINITY);
      }
      expect(d.explored && d.candidate.id === 'server/none').toBe(false);
      decider.observe(d.candidate.id, context(), { latencyMs: d.chosen.latency.point });
    }
    expect([...warmed].sort()).toEqual(['split-2/int8', 'split-2/none']);
    // Warmed up, both now have finite bounds (>= 9 scores each at alpha 0.1).
    const after = decider.decide(context(), { mode: 'robust', sloMs: 700, explore: false });
    expect(after.assessments.filter((a) => a.latencyBound < Number.POSITIVE_INFINITY).map((a) => a.candidate.id)).toEqual(['device/none', 'split-2/none', 'split-2/int8']);
  });

  it('tries only candidates whose predicted objective is within costMargin of the best', () => {
    // Carbon (g): split-2/int8 107 is the choice at SLO 1000; split-2/none 113 (+5.6%), server/none 128 (+19.6%), device/none 160 (+49.5%).
    const tried = (costMargin: number) => {
      const decider = warm({ exploration: { rate: 0.5, staleAfter: 1, warmup: false, costMargin, seed: 4 } });
      const ids = new Set<string>();
      for (let i = 0; i < 400; i += 1) {
        const d = decider.decide(context(), { mode: 'robust', sloMs: 1000 });
        if (d.explored) {
          ids.add(d.candidate.id);
          expect(d.chosen.objectiveValue).toBeLessThanOrEqual((1 + costMargin) * d.assessments.find((a) => a.candidate.id === 'split-2/int8')!.objectiveValue * (1 + 1e-12));
        } else expect(d.candidate.id).toBe('split-2/int8');
        decider.observe(d.candidate.id, context(), { latencyMs: d.chosen.latency.point });
      }
      return [...ids].sort();
    };
    expect(tried(0)).toEqual([]);
    expect(tried(0.1)).toEqual(['split-2/none']);
    expect(tried(0.25)).toEqual(['server/none', 'split-2/none']);
    expect(tried(Infinity)).toEqual(['device/none', 'server/none', 'split-2/none']);
    expect(() => new CarbonAwareDecision(WORLD, { exploration: { costMargin: -0.1 } })).toThrow(/costMargin/);
  });

  it('does not explore when a request says so, or with exploration off', () => {
    const decider = warm({ exploration: { rate: 0.9, staleAfter: 1 } });
    for (let i = 0; i < 50; i += 1) expect(decider.decide(context(), { sloMs: 100, explore: false }).explored).toBe(false);
    const off = warm({ exploration: false });
    for (let i = 0; i < 50; i += 1) expect(off.decide(context(), { sloMs: 100 }).explored).toBe(false);
  });

  it('keeps the SLO miss rate of explored requests within alpha (seeded noisy world, varying bandwidth)', () => {
    const random = mulberry32(11);
    // A clean device grid makes device/none the choice whenever it fits; split-2/int8 is only ever explored.
    const at = () => context({ deviceIntensityGPerKwh: 50, serverIntensityGPerKwh: 800, uplinkBps: { mean: 6e6 + 8e6 * random(), sd: 1e6 } });
    const decider = new CarbonAwareDecision(WORLD, { alphas: [0.1], exploration: { rate: 0.1, staleAfter: 10, warmup: false, costMargin: Infinity, seed: 2 } });
    const truth = (ctx: DecisionContext, id: string): number => {
      // 30% slower on the wire than the estimate says, and log-normal noise (sd 0.15).
      const c = WORLD.find((w) => w.id === id)!;
      const transfer = c.kind === 'device' ? 0 : ctx.rttMs.mean + (1.3 * 8000 * c.bytesUp) / ctx.uplinkBps.mean;
      const noise = Math.exp(0.15 * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()));
      return (c.head.medianMs + transfer + c.tail.medianMs) * noise;
    };
    // Warm-up from full-information records, as the simulator gives them.
    for (let i = 0; i < 60; i += 1) {
      const ctx = at();
      decider.observeAll(ctx, Object.fromEntries(WORLD.map((c) => [c.id, { latencyMs: truth(ctx, c.id) }])));
    }
    const SLO = 65;
    const misses = { explored: 0, exploited: 0 };
    const counts = { explored: 0, exploited: 0 };
    for (let i = 0; i < 3000; i += 1) {
      const ctx = at();
      const d = decider.decide(ctx, { mode: 'robust', sloMs: SLO });
      const latencyMs = truth(ctx, d.candidate.id);
      expect(d.sloUnmet).toBe(false);
      const kind = d.explored ? 'explored' : 'exploited';
      if (d.explored) {
        expect(d.candidate.id).toBe('split-2/int8');
        expect(d.chosen.latencyBound).toBeLessThanOrEqual(SLO);
      }
      counts[kind] += 1;
      if (latencyMs > SLO) misses[kind] += 1;
      decider.observe(d.candidate.id, ctx, { latencyMs });
    }
    expect(counts.explored).toBeGreaterThan(60);
    expect(counts.explored).toBeLessThanOrEqual(0.1 * 3000 + 1);
    expect(misses.explored / counts.explored).toBeLessThanOrEqual(0.1);
    expect((misses.explored + misses.exploited) / 3000).toBeLessThanOrEqual(0.1);
  });
});
