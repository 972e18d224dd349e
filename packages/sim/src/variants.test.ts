import { POWER_CAP_POLICIES } from './power-cap-world.js';
import type { DecisionCandidate } from '@carboncp/calibrator';
import type { LatencyDistribution } from '@carboncp/core';
import { describe, expect, it } from 'vitest';
import type { PolicyResult } from './metrics.js';
import { BUDGET_POLICIES, POLICY_NAMES, VARIANT_POLICIES } from './policy-names.js';
import { SITE_POLICIES } from './site-policies.js';
import { candidate, fixed, handWorld, noisyCandidates, noisyWorld } from './sim.test-support.js';
import { simulate } from './simulate.js';

const G = 1 / 3.6e6;

function byName(results: readonly PolicyResult[], name: string): PolicyResult {
  const r = results.find((p) => p.policy === name);
  if (!r) throw new Error(`no result for ${name}`);
  return r;
}

const of = (variant: string, quality: number) => (c: DecisionCandidate): DecisionCandidate => ({ ...c, id: `${c.id}/${variant}`, variant, quality });

/**
 * handWorld's grids (device 100 g/kWh for two hours, then 1000; server 200) with three variants,
 * one candidate each (grams x 3.6e6, low grid then high):
 *   device/none/tiny  quality 50: 10 ms head, 0.02 J             2 then 20
 *   device/none/a     quality 72: 50 ms head, 0.1 J              10 then 100
 *   server/none/b     quality 76: 1000 B up, 10 ms tail at 10 W  0.051 J x grid + 0.1 J x 200 = 25.1 then 71
 * Under a floor of 70: a is the cheaper variant while the device grid is clean, b once it is not.
 * Fixed a: 120 x 10 + 120 x 100 = 13200; fixed b: 120 x 25.1 + 120 x 71 = 11532 (the best fixed);
 * switching at the step: 120 x 10 + 120 x 71 = 9720 (the oracle).
 */
const TINY = of('tiny', 50)(candidate('device/none', 'device', fixed(10), fixed(0), 0));
const A = of('a', 72)(candidate('device/none', 'device', fixed(50), fixed(0), 0));
const B = of('b', 76)(candidate('server/none', 'server', fixed(0), fixed(10), 1000));
const FAMILY = [TINY, A, B];

describe('model variants in the simulator (hand-checked)', () => {
  it('under the floor: the best fixed variant is b (11532 x G g); switching variants with the grid beats it; the oracle switches at the step', () => {
    // Exploring half the time, the robust decision gathers a's 9 scores (alpha 0.1) in its first few dozen requests.
    const result = simulate(handWorld({ candidates: FAMILY, minQuality: 70, policies: ['best-fixed-variant', 'carboncp-variants', 'oracle'], decider: { exploration: { rate: 0.5 } } }));
    expect(result.fixedVariant!.variant).toBe('b');
    expect(Object.keys(result.fixedVariant!.runs)).toEqual(['a', 'b']);
    expect(result.fixedVariant!.runs.a!.carbonG / (13200 * G)).toBeCloseTo(1, 9);
    expect(result.fixedVariant!.runs.b!.carbonG / (11532 * G)).toBeCloseTo(1, 9);
    const fixedB = byName(result.policies, 'best-fixed-variant');
    expect(fixedB.cutCounts).toEqual({ 'server/none/b': 240 });
    expect(fixedB.carbonG).toBe(result.fixedVariant!.runs.b!.carbonG);
    expect(fixedB.meanQuality).toBe(76);
    const oracle = byName(result.policies, 'oracle');
    expect(oracle.cutCounts).toEqual({ 'device/none/a': 120, 'server/none/b': 120 });
    expect(oracle.variantCounts).toEqual({ a: 120, b: 120 });
    expect(oracle.carbonG / (9720 * G)).toBeCloseTo(1, 9);
    expect(oracle.meanQuality).toBeCloseTo(74, 9);
    const switching = byName(result.policies, 'carboncp-variants');
    // It must learn a's latency first (a's bound is infinite until then), so it starts on b; then it switches with the grid.
    expect(switching.carbonG).toBeLessThan(fixedB.carbonG);
    expect(switching.carbonG).toBeGreaterThanOrEqual(oracle.carbonG * (1 - 1e-12));
    expect(switching.variantCounts.tiny).toBeUndefined();
    expect(switching.variantCounts.a).toBeGreaterThan(90);
    expect(switching.variantCounts.b).toBeGreaterThanOrEqual(120);
    // Closer to the oracle than to the best fixed variant.
    expect(switching.carbonG - oracle.carbonG).toBeLessThan(fixedB.carbonG - switching.carbonG);
    expect(switching.sloViolations).toBe(0);
  });

  it('without a floor the tiny variant is cheapest throughout: the best fixed variant and the oracle both run it', () => {
    const result = simulate(handWorld({ candidates: FAMILY, policies: ['best-fixed-variant', 'oracle', 'device'] }));
    expect(result.fixedVariant!.variant).toBe('tiny');
    expect(Object.keys(result.fixedVariant!.runs)).toEqual(['tiny', 'a', 'b']);
    for (const name of ['best-fixed-variant', 'oracle']) {
      const r = byName(result.policies, name);
      expect(r.variantCounts).toEqual({ tiny: 240 });
      expect(r.meanQuality).toBe(50);
      expect(r.carbonG / ((120 * 2 + 120 * 20) * G)).toBeCloseTo(1, 9);
    }
    // 'device' runs the first device candidate the rules allow: the tiny one here, a under the floor.
    expect(byName(result.policies, 'device').variantCounts).toEqual({ tiny: 240 });
    const floored = simulate(handWorld({ candidates: FAMILY, minQuality: 70, policies: ['device', 'carbon-greedy'] }));
    expect(byName(floored.policies, 'device').variantCounts).toEqual({ a: 240 });
    expect(byName(floored.policies, 'carbon-greedy').cutCounts).toEqual({ 'device/none/a': 120, 'server/none/b': 120 });
  });

  it('the variant policies need candidates with variants, and are not in the default list without them', () => {
    const plain = handWorld({ hours: 1 });
    expect(() => simulate({ ...plain, policies: ['carboncp-variants'] })).toThrow(/needs candidates of model variants/);
    expect(simulate(plain).policies.map((p) => p.policy)).toEqual(POLICY_NAMES.filter((p) => !VARIANT_POLICIES.includes(p) && !SITE_POLICIES.includes(p) && !BUDGET_POLICIES.includes(p) && !POWER_CAP_POLICIES.includes(p)));
    expect(byName(simulate(plain).policies, 'oracle')).toMatchObject({ variantCounts: {}, meanQuality: null });
    expect(() => simulate(handWorld({ candidates: FAMILY, minQuality: 90, policies: ['oracle'] }))).toThrow(/no candidate meets/);
    expect(() => simulate(handWorld({ candidates: FAMILY, minQuality: Number.NaN }))).toThrow(/minQuality must be a finite number/);
  });
});

const scaled = (d: LatencyDistribution, f: number): LatencyDistribution => ({ ...d, medianMs: d.medianMs * f, p10Ms: d.p10Ms * f, p90Ms: d.p90Ms * f, meanMs: d.meanMs * f, sdMs: d.sdMs * f });

/** noisyWorld's five plans in three variants: 'large' as they are (76), 'small' at 0.5x the compute (68), 'tiny' at 0.25x (55). */
function noisyFamily(): DecisionCandidate[] {
  return [
    ['tiny', 55, 0.25],
    ['small', 68, 0.5],
    ['large', 76, 1],
  ].flatMap(([variant, quality, f]) => noisyCandidates().map((c) => of(variant as string, quality as number)({ ...c, head: scaled(c.head, f as number), tail: scaled(c.tail, f as number) })));
}

describe('model variants in the simulator (noisy world)', () => {
  const policies = ['carbon-greedy', 'carboncp-robust', 'best-fixed-variant', 'carboncp-variants', 'oracle'] as const;
  const trail: { carbon: number[][]; latency: number[][]; choices: number[][]; oracle: number[] } = { carbon: [], latency: [], choices: [], oracle: [] };
  const options = noisyWorld({ candidates: noisyFamily(), minQuality: 65, policies: [...policies] });
  const run = simulate({
    ...options,
    onRequest: (r) => {
      trail.carbon.push(Array.from(r.outcomes.carbonG));
      trail.latency.push(Array.from(r.outcomes.latencyMs));
      trail.choices.push(Array.from(r.choices));
      trail.oracle.push(r.oracle);
    },
  });
  const candidates = options.candidates;

  it('the oracle never loses under the floor: it always keeps the floor, and beats every allowed choice that met the SLO', () => {
    expect(run.requests).toBeGreaterThan(1000);
    let compared = 0;
    trail.oracle.forEach((o, r) => {
      expect(candidates[o]!.quality).toBeGreaterThanOrEqual(65);
      for (const k of trail.choices[r]!) {
        expect(candidates[k]!.quality).toBeGreaterThanOrEqual(65);
        if (trail.latency[r]![k]! <= options.sloMs) {
          expect(trail.latency[r]![o]!).toBeLessThanOrEqual(options.sloMs);
          expect(trail.carbon[r]![o]!).toBeLessThanOrEqual(trail.carbon[r]![k]! * (1 + 1e-12));
          compared += 1;
        }
      }
    });
    expect(compared).toBeGreaterThan(run.requests * policies.length * 0.8);
    const oracle = byName(run.policies, 'oracle');
    expect(oracle.variantCounts.small).toBeGreaterThan(0);
    for (const p of run.policies) {
      expect(p.variantCounts.tiny).toBeUndefined();
      expect(p.meanQuality).toBeGreaterThanOrEqual(68);
      expect(p.meanQuality).toBeLessThanOrEqual(76);
      expect(Object.values(p.variantCounts).reduce((a, b) => a + b, 0)).toBe(p.requests);
    }
  });

  it('best-fixed-variant replays the run of the variant it chose exactly, and that run is the least carbon within the miss budget', () => {
    const choice = run.fixedVariant!;
    const fixedRun = byName(run.policies, 'best-fixed-variant');
    expect(fixedRun.carbonG).toBe(choice.runs[choice.variant]!.carbonG);
    expect(fixedRun.sloViolationRate).toBe(choice.runs[choice.variant]!.sloViolationRate);
    expect(Object.keys(fixedRun.variantCounts)).toEqual([choice.variant]);
    const within = Object.values(choice.runs).filter((r) => r.sloViolationRate <= 0.1);
    expect(within.length).toBeGreaterThan(0);
    expect(fixedRun.carbonG).toBe(Math.min(...within.map((r) => r.carbonG)));
  });

  it('is deterministic under a seed', () => {
    const again = simulate(options);
    expect(again.policies).toEqual(run.policies);
    expect(again.fixedVariant).toEqual(run.fixedVariant);
    expect(again.oracleCarbonG).toBe(run.oracleCarbonG);
  });
});
