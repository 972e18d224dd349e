import { POWER_CAP_POLICIES } from './power-cap-world.js';
import { describe, expect, it } from 'vitest';
import type { RequestRecord } from './options.js';
import { BUDGET_POLICIES, POLICY_NAMES, VARIANT_POLICIES } from './policy-names.js';
import { SITE_POLICIES } from './site-policies.js';
import { noisyWorld } from './sim.test-support.js';
import { simulate, type SimulationResult } from './simulate.js';

/** The result without its wall-clock timing (the one part that may differ between identical runs). */
function withoutTiming(result: SimulationResult): Omit<SimulationResult, 'timing'> {
  const { timing: _timing, ...rest } = result;
  return rest;
}

/** Per request: every candidate's true latency and carbon, and each policy's choice. */
interface Trail {
  latency: number[][];
  carbon: number[][];
  choices: number[][];
  oracle: number[];
}

function trail(): { trail: Trail; onRequest: (r: RequestRecord) => void } {
  const t: Trail = { latency: [], carbon: [], choices: [], oracle: [] };
  return {
    trail: t,
    onRequest: (r) => {
      t.latency.push(Array.from(r.outcomes.latencyMs));
      t.carbon.push(Array.from(r.outcomes.carbonG));
      t.choices.push(Array.from(r.choices));
      t.oracle.push(r.oracle);
    },
  };
}

describe('simulate on a noisy world', () => {
  const all = trail();
  const full = simulate(noisyWorld({ onRequest: all.onRequest }));

  it('runs every policy over the same requests and reports each metric', () => {
    expect(full.policies.map((p) => p.policy)).toEqual(POLICY_NAMES.filter((p) => !VARIANT_POLICIES.includes(p) && !SITE_POLICIES.includes(p) && !BUDGET_POLICIES.includes(p) && !POWER_CAP_POLICIES.includes(p)));
    expect(full.requests).toBeGreaterThan(1300); // Poisson, 2 a minute for 12 hours: 1440 expected
    expect(full.requests).toBeLessThan(1580);
    for (const p of full.policies) {
      expect(p.requests).toBe(full.requests);
      expect(Object.values(p.cutCounts).reduce((a, b) => a + b, 0)).toBe(full.requests);
      expect(p.carbonG).toBeCloseTo(p.carbonBySide.device + p.carbonBySide.network + p.carbonBySide.server, 12);
      expect(p.sloViolationRate).toBeCloseTo(p.sloViolations / p.requests, 12);
      expect(p.p95LatencyMs).toBeGreaterThanOrEqual(p.p50LatencyMs);
      expect(p.batteryDrainPct).toBeCloseTo((100 * p.deviceJ) / (0.5 * 3600), 9);
      expect(p.batteryMinPercent).toBeLessThanOrEqual(p.batteryEndPercent!);
      expect(p.regretG).toBeCloseTo(p.carbonG - full.oracleCarbonG, 12);
      if (p.policy.startsWith('carboncp-')) {
        expect(p.coverage).toBeGreaterThan(0.5);
        expect(p.coverage).toBeLessThanOrEqual(1);
      } else expect(p.coverage).toBeNull();
    }
    // The series covers every request: its buckets add up to the totals.
    expect(full.steps.reduce((s, step) => s + step.requests, 0)).toBe(full.requests);
    full.policies.forEach((p, i) => {
      expect(full.steps.reduce((s, step) => s + step.policies[i]!.bucket.carbonG, 0)).toBeCloseTo(p.carbonG, 12);
      expect(full.steps.at(-1)!.policies[i]!.cumulativeCarbonG).toBeCloseTo(p.carbonG, 12);
    });
  });

  it('is deterministic under a seed, and a different seed gives a different world', () => {
    expect(withoutTiming(simulate(noisyWorld()))).toEqual(withoutTiming(full));
    const other = simulate(noisyWorld({ seed: 12 }));
    expect(other.oracleCarbonG).not.toBeCloseTo(full.oracleCarbonG, 12);
  });

  it('every policy meets the same true outcomes: a run of a few policies sees the same requests, outcomes and results', () => {
    const few = trail();
    const names = ['carboncp-robust', 'device', 'carbon-greedy'] as const;
    const subset = simulate(noisyWorld({ policies: names, onRequest: few.onRequest }));
    expect(few.trail.latency).toEqual(all.trail.latency);
    expect(few.trail.carbon).toEqual(all.trail.carbon);
    expect(few.trail.oracle).toEqual(all.trail.oracle);
    for (const name of names) {
      const { reductionPct: _a, ...alone } = subset.policies.find((p) => p.policy === name)!;
      const { reductionPct: _b, ...together } = full.policies.find((p) => p.policy === name)!;
      expect(alone).toEqual(together);
    }
  });

  it('charges each policy the true outcome of its choice: totals rebuilt from the per-request record', () => {
    full.policies.forEach((p, i) => {
      let carbon = 0;
      let violations = 0;
      all.trail.choices.forEach((choices, r) => {
        carbon += all.trail.carbon[r]![choices[i]!]!;
        if (all.trail.latency[r]![choices[i]!]! > 150) violations += 1;
      });
      expect(carbon).toBeCloseTo(p.carbonG, 12);
      expect(violations).toBe(p.sloViolations);
    });
  });

  it('the oracle never loses: per request and per policy, when the policy met the SLO the oracle met it with no more carbon; when it missed, the oracle met it or nothing could and the oracle was no slower', () => {
    const slo = 150;
    let oracleMet = 0;
    full.policies.forEach((p, i) => {
      let metCarbon = 0;
      let oracleCarbonThere = 0;
      all.trail.choices.forEach((choices, r) => {
        const k = choices[i]!;
        const o = all.trail.oracle[r]!;
        const latency = all.trail.latency[r]!;
        const carbon = all.trail.carbon[r]!;
        if (latency[k]! <= slo) {
          expect(latency[o]!).toBeLessThanOrEqual(slo);
          expect(carbon[o]!).toBeLessThanOrEqual(carbon[k]!);
          metCarbon += carbon[k]!;
          oracleCarbonThere += carbon[o]!;
        } else if (latency[o]! > slo) {
          expect(latency.every((l) => l > slo)).toBe(true);
          expect(latency[o]!).toBeLessThanOrEqual(latency[k]!);
        }
      });
      expect(oracleCarbonThere).toBeLessThanOrEqual(metCarbon);
      const oracle = full.policies.find((q) => q.policy === 'oracle')!;
      expect(oracle.sloViolations).toBeLessThanOrEqual(p.sloViolations);
      oracleMet = oracle.requests - oracle.sloViolations;
    });
    // Not vacuous: the oracle mixes several candidates, met the SLO on most requests, and some policy missed it where the oracle did not.
    expect(Object.keys(full.policies.find((q) => q.policy === 'oracle')!.cutCounts).length).toBeGreaterThanOrEqual(3);
    expect(oracleMet).toBeGreaterThan(full.requests * 0.9);
    expect(Math.max(...full.policies.map((p) => p.sloViolations))).toBeGreaterThan(full.requests * 0.1);
  });

  it('drains and charges each policy\u2019s battery by its own choices; the context follows it', () => {
    const device = full.policies.find((p) => p.policy === 'device')!;
    const server = full.policies.find((p) => p.policy === 'server')!;
    expect(device.deviceJ).not.toBeCloseTo(server.deviceJ, 3);
    // Battery 0.5 Wh, starting at 60%, charged 10:00-11:00 UTC at 5 W (capped at 100%), 0.01 W background.
    for (const p of [device, server]) {
      expect(p.batteryMinPercent).toBeGreaterThanOrEqual(0);
      expect(p.batteryEndPercent).toBeLessThanOrEqual(100);
    }
    const steps = full.steps.map((s) => s.policies[0]!.batteryPercent!);
    expect(Math.max(...steps)).toBeGreaterThan(steps[0]!); // it charged at some point
  });
});

describe('simulate reports', () => {
  it('progress as it goes and at the end, and at most maxSteps steps that still count every request', () => {
    const calls: [number, number][] = [];
    const result = simulate(noisyWorld({ hours: 3, rate: { perMinute: 2, arrivals: 'fixed' }, policies: ['device', 'oracle'], maxSteps: 7, progressEvery: 100, onProgress: (done, expected) => calls.push([done, expected]) }));
    expect(result.requests).toBe(360);
    expect(calls).toEqual([...[100, 200, 300].map((d) => [d, 360]), [360, 360]]);
    expect(result.steps).toHaveLength(7); // ceil(360 / 7) = 52 requests a step: 6 full steps and one of 48
    expect(result.steps.map((s) => s.requests)).toEqual([52, 52, 52, 52, 52, 52, 48]);
    expect(result.steps.at(-1)!.index).toBe(359);
    expect(Object.keys(result.timing.policies)).toEqual(['device', 'oracle']);
    // Defaults filled in: what a device knows of the grid is the forecaster's, seasonal-ewma.
    expect(result.settings).toMatchObject({ carbonView: 'forecast', forecastMethod: 'seasonal-ewma', alpha: 0.1, radio: 'wifi', rttMs: 50, serverPue: 1, serviceMs: 20 });
  });
});

describe('simulate refuses', () => {
  it('bad options, naming them', () => {
    expect(() => simulate(noisyWorld({ hours: 0 }))).toThrow(/hours must be/);
    expect(() => simulate(noisyWorld({ sloMs: -1 }))).toThrow(/sloMs must be/);
    expect(() => simulate(noisyWorld({ alpha: 1 }))).toThrow(/alpha must be/);
    expect(() => simulate(noisyWorld({ policies: ['nope' as never] }))).toThrow(/unknown policy 'nope'/);
    expect(() => simulate(noisyWorld({ policies: ['device', 'device'] }))).toThrow(/without repeats/);
    expect(() => simulate(noisyWorld({ server: { powerW: 10, utilisation: 1 } }))).toThrow(/utilisation must be in \[0, 0.99\]/);
    expect(() => simulate(noisyWorld({ radio: 'lte' }))).toThrow(/has no lte radio/);
    expect(() => simulate(noisyWorld({ network: { rttMs: -1 } }))).toThrow(/rttMs must be/);
    expect(() => simulate(noisyWorld({ candidates: noisyWorld().candidates.filter((c) => c.kind !== 'server'), policies: ['server'] }))).toThrow(/needs a 'server' candidate/);
    expect(() => simulate(noisyWorld({ maxOutputError: 0, candidates: noisyWorld().candidates.map((c) => ({ ...c, maxAbsError: 1 })) }))).toThrow(/no candidate meets the output-error limit/);
  });
});
