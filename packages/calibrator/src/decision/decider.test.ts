import { describe, expect, it } from 'vitest';
import { SplitConformal } from '../conformal/split.js';
import { CarbonAwareDecision } from './decider.js';
import { DEVICE, EXPECTED, FROZEN_RIDGE, SPLIT_INT8, WORLD, context } from './decision.test-support.js';

const ids = (list: readonly { candidate: { id: string } }[]): string[] => list.map((a) => a.candidate.id);

function fresh(): CarbonAwareDecision {
  return new CarbonAwareDecision(WORLD, { exploration: false });
}

describe('CarbonAwareDecision: fresh predictors are the structural model (hand-computed)', () => {
  it('predicts latency, device energy and carbon as worked out by hand', () => {
    const decision = fresh().decide(context(), { mode: 'mean', predictions: 'all' });
    decision.assessments.forEach((a, i) => {
      expect(a.latency.point).toBeCloseTo(EXPECTED.latencyMs[i]!, 9);
      expect(a.predictions!.latencyMs.point).toBeCloseTo(EXPECTED.latencyMs[i]!, 9);
      expect(a.predictions!.deviceEnergyJ.point).toBeCloseTo(EXPECTED.deviceEnergyJ[i]!, 12);
      expect(a.predictions!.carbonG.point / EXPECTED.carbonG[i]!).toBeCloseTo(1, 12);
    });
    const server = decision.assessments[3]!.predictions!;
    expect(server.headMs).toMatchObject({ point: 0, lower: 0, upper: 0, method: 'structural' });
    expect(server.transferMs.point).toBeCloseTo(610, 9);
    expect(decision.assessments[0]!.predictions!.transferMs).toMatchObject({ point: 0, upper: 0 });
  });

  it('carbon, SLO 100 ms: split-2/int8 (107 < 113, 128, 160), nothing binds', () => {
    const d = fresh().decide(context(), { mode: 'mean', sloMs: 100 });
    expect(d.candidate.id).toBe('split-2/int8');
    expect(d.bound).toBe('none');
    expect(d.sloUnmet).toBe(false);
    expect(d.assessments.map((a) => a.feasible)).toEqual([true, false, true, false]);
    expect(d.assessments[1]!.excludedBy).toEqual(['slo']);
    expect(ids(d.runnersUp)).toEqual(['device/none', 'split-2/none', 'server/none']);
    expect(d.explanation).toContain('Chose split-2/int8');
    expect(d.explanation).toContain('Binding constraint: none');
    expect(d.explanation).toContain('split-2/none 3.14e-5 g (out: its predicted latency 125 ms exceeds the SLO 100 ms)');
  });

  it('an output-error limit rules int8 out: device/none, and the error limit is what bound', () => {
    const d = fresh().decide(context(), { mode: 'mean', sloMs: 100, maxOutputError: 0.001 });
    expect(d.candidate.id).toBe('device/none');
    expect(d.bound).toBe('error');
    expect(d.assessments[2]!.excludedBy).toEqual(['error']);
    expect(d.explanation).toContain('Binding constraint: error: split-2/int8 has less carbon (2.97e-5 g) but its output error 0.01 exceeds the limit');
    // A limit the int8 error meets changes nothing; an unknown error never meets one.
    expect(fresh().decide(context(), { mode: 'mean', sloMs: 100, maxOutputError: 0.01 }).candidate.id).toBe('split-2/int8');
    const unknown = new CarbonAwareDecision([DEVICE, { ...SPLIT_INT8, maxAbsError: undefined }], { exploration: false });
    expect(unknown.decide(context(), { mode: 'mean', maxOutputError: 1 }).candidate.id).toBe('device/none');
  });

  it('SLO 45 ms rules int8 (50 ms) out: device/none, bound by the SLO', () => {
    const d = fresh().decide(context(), { mode: 'mean', sloMs: 45 });
    expect(d.candidate.id).toBe('device/none');
    expect(d.bound).toBe('slo');
    expect(d.explanation).toContain('Binding constraint: slo: split-2/int8 has less carbon (2.97e-5 g) but its predicted latency 50 ms exceeds the SLO 45 ms');
  });

  it('no candidate meets SLO 30 ms: the fastest (device, 40 ms), flagged', () => {
    const d = fresh().decide(context(), { mode: 'mean', sloMs: 30 });
    expect(d.candidate.id).toBe('device/none');
    expect(d.sloUnmet).toBe(true);
    expect(d.bound).toBe('slo');
    expect(d.relaxed).toEqual(['slo']);
    expect(d.assessments.every((a) => !a.feasible)).toBe(true);
    expect(d.explanation).toContain('No candidate meets the SLO by its predicted latency: took the fastest bound (40 ms)');
  });

  it('objectives: latency picks device (40 ms), energy picks split-2/int8 (0.1025 J), carbon under SLO 45 device', () => {
    expect(fresh().decide(context(), { mode: 'mean', objective: 'latency' }).candidate.id).toBe('device/none');
    const energy = fresh().decide(context(), { mode: 'mean', objective: 'energy' });
    expect(energy.candidate.id).toBe('split-2/int8');
    expect(energy.chosen.objectiveValue).toBeCloseTo(0.1025, 12);
    expect(fresh().decide(context(), { mode: 'mean', objective: 'energy', sloMs: 45 }).candidate.id).toBe('device/none');
  });

  it('battery low and not charging: only candidates within 10% of the least device energy (0.1025 J) stay in', () => {
    const low = context({ powerSource: 'battery', batteryPercent: 10, charging: false });
    const d = fresh().decide(low, { mode: 'mean', objective: 'latency', sloMs: 100 });
    // device/none spends 0.2 J > 0.1025 x 1.1: out, so the fastest left is split-2/int8.
    expect(d.candidate.id).toBe('split-2/int8');
    expect(d.bound).toBe('battery');
    expect(d.assessments[0]!.excludedBy).toEqual(['battery']);
    expect(d.explanation).toContain('device/none has less latency (40 ms) but the battery is low and it would spend 0.2 J on the device');
    // Charging, above the threshold, off battery, or the rule off: device/none again.
    for (const ctx of [context({ powerSource: 'battery', batteryPercent: 10, charging: true }), context({ powerSource: 'battery', batteryPercent: 50 }), context({ batteryPercent: 10 })]) {
      expect(fresh().decide(ctx, { mode: 'mean', objective: 'latency' }).candidate.id).toBe('device/none');
    }
    expect(fresh().decide(low, { mode: 'mean', objective: 'latency', batteryReserve: false }).candidate.id).toBe('device/none');
    // An absolute budget: 0.105 J leaves only split-2/int8 (0.1025 J); 0.05 J leaves nothing, so the rule is relaxed.
    const capped = fresh().decide(low, { mode: 'mean', objective: 'carbon', batteryReserve: { belowPercent: 20, maxDeviceEnergyJ: 0.105 } });
    expect(capped.assessments.filter((a) => a.feasible).map((a) => a.candidate.id)).toEqual(['split-2/int8']);
    const none = fresh().decide(low, { mode: 'mean', sloMs: 100, batteryReserve: { belowPercent: 20, maxDeviceEnergyJ: 0.05 } });
    expect(none.relaxed).toEqual(['battery']);
    expect(none.sloUnmet).toBe(false);
    expect(none.candidate.id).toBe('device/none');
  });
});

/** int8: 4 latencies of 120 ms (2.4 x 50) then 15 of 50; device: 19 of 44 (1.1 x 40). alpha 0.2. */
function calibrated(): CarbonAwareDecision {
  const decider = new CarbonAwareDecision(WORLD, {
    alphas: [0.2],
    ridge: FROZEN_RIDGE,
    exploration: false,
    methods: { adaptive: (point, spec) => new SplitConformal(point, { alpha: spec.alpha, window: 9 }) },
  });
  for (let i = 0; i < 19; i += 1) {
    decider.observe('split-2/int8', context(), { latencyMs: i < 4 ? 120 : 50 });
    decider.observe('device/none', context(), { latencyMs: 44 });
  }
  return decider;
}

describe('CarbonAwareDecision: robust and adaptive bounds (hand-computed)', () => {
  it('robust: int8 upper bound 50 x 2.4 = 120 > SLO 100 (16th of 19 scores), so device/none (upper 44)', () => {
    const d = calibrated().decide(context(), { mode: 'robust', sloMs: 100 });
    const int8 = d.assessments[2]!.latency;
    expect(int8.point).toBeCloseTo(50, 6);
    expect(int8.upper).toBeCloseTo(120, 6);
    expect(int8.lower).toBeCloseTo(50 / 2.4, 6);
    expect(int8.n).toBe(19);
    expect(d.assessments[0]!.latencyBound).toBeCloseTo(44, 6);
    expect(d.assessments[1]!.latencyBound).toBe(Number.POSITIVE_INFINITY);
    expect(d.candidate.id).toBe('device/none');
    expect(d.bound).toBe('slo');
    expect(d.explanation).toContain('split-2/int8 has less carbon (2.97e-5 g) but its latency bound 120 ms exceeds the SLO 100 ms');
    // The same predictors in mean mode take int8 (50 ms point).
    expect(calibrated().decide(context(), { mode: 'mean', sloMs: 100 }).candidate.id).toBe('split-2/int8');
  });

  it('adaptive: a 9-score window has forgotten the slow start, so int8 (upper 50) comes back', () => {
    const d = calibrated().decide(context(), { mode: 'adaptive', sloMs: 100 });
    expect(d.assessments[2]!.latency.upper).toBeCloseTo(50, 6);
    expect(d.assessments[2]!.latency.n).toBe(9);
    expect(d.predictions.latencyMs).toEqual(d.assessments[2]!.latency);
    expect(d.predictions.latencyMs.method).toBe('split');
    expect(d.candidate.id).toBe('split-2/int8');
  });

  it("predicts any candidate on request (a caller's cut), with the same intervals as the decision", () => {
    const decider = calibrated();
    const d = decider.decide(context(), { mode: 'adaptive', sloMs: 100 });
    expect(decider.predict('split-2/int8', context(), { mode: 'adaptive' })).toEqual(d.predictions);
    expect(decider.predict('device/none', context(), { mode: 'robust' }).latencyMs.upper).toBeCloseTo(44, 6);
    expect(() => decider.predict('nope', context())).toThrow(/unknown candidate/);
  });

  it('robust fallback: under SLO 40 no upper bound fits, the fastest bound (device, 44) is taken and flagged', () => {
    const d = calibrated().decide(context(), { mode: 'robust', sloMs: 40 });
    expect(d.candidate.id).toBe('device/none');
    expect(d.sloUnmet).toBe(true);
    expect(d.chosen.latencyBound).toBeCloseTo(44, 6);
  });

  it('cold start: no finite bound anywhere, so the fastest prediction, flagged as not shown to meet the SLO', () => {
    const d = fresh().decide(context(), { mode: 'robust', sloMs: 100 });
    expect(d.assessments.every((a) => a.latencyBound === Number.POSITIVE_INFINITY)).toBe(true);
    expect(d.candidate.id).toBe('device/none');
    expect(d.sloUnmet).toBe(true);
  });

  it('keeps only the families asked for, and refuses a mode whose family it does not keep', () => {
    const robustOnly = new CarbonAwareDecision(WORLD, { families: ['robust'], exploration: false });
    robustOnly.observe('device/none', context(), { latencyMs: 40, headMs: 40 });
    expect(robustOnly.toJSON().models['device/none']!.metrics.latencyMs!.methods).toHaveLength(1);
    expect(robustOnly.decide(context(), { mode: 'mean', sloMs: 100 }).candidate.id).toBe('split-2/int8');
    expect(() => robustOnly.decide(context(), { mode: 'adaptive' })).toThrow(/mode 'adaptive' needs the adaptive family/);
    expect(robustOnly.stats.decisions).toBe(1);
    const adaptiveOnly = new CarbonAwareDecision(WORLD, { families: ['adaptive'], exploration: false });
    expect(adaptiveOnly.decide(context(), { mode: 'set', sloMs: 100 }).predictions.latencyMs.method).toBe('pid'); // set mode falls back to the family it has
    expect(CarbonAwareDecision.fromJSON(JSON.parse(JSON.stringify(robustOnly))).families).toEqual(['robust']);
    expect(() => new CarbonAwareDecision(WORLD, { families: [] })).toThrow(/families must be a non-empty list/);
  });

  it('refuses an alpha it does not calibrate, an unknown mode or objective, and a bad context', () => {
    expect(() => calibrated().decide(context(), { alpha: 0.1 })).toThrow(/alpha 0.1 is not one the decider calibrates/);
    expect(() => fresh().decide(context(), { mode: 'best' as never })).toThrow(/mode must be one of/);
    expect(() => fresh().decide(context(), { objective: 'cost' as never })).toThrow(/objective must be one of/);
    expect(() => fresh().decide(context({ uplinkBps: { mean: 0, sd: 0 } }))).toThrow(/uplinkBps.mean must be a finite number > 0/);
    expect(() => fresh().observe('nope', context(), { latencyMs: 1 })).toThrow(/unknown candidate 'nope'/);
    expect(() => fresh().observe('device/none', context(), { latencyMs: -1 })).toThrow(/latencyMs must be a finite number >= 0/);
  });
});

describe('adaptive mode over the default online method', () => {
  it('uses conformal PID, and its state survives a round trip through JSON', () => {
    const decider = new CarbonAwareDecision(WORLD, { exploration: false });
    for (let i = 0; i < 60; i += 1) decider.observe('device/none', context(), { latencyMs: 40 + (i % 7), headMs: 40 + (i % 7) });
    const d = decider.decide(context(), { mode: 'adaptive', sloMs: 100 });
    const latency = decider.predict('device/none', context(), { mode: 'adaptive' }).latencyMs;
    expect(latency.method).toBe('pid');
    expect(Number.isFinite(latency.upper)).toBe(true);
    const restored = CarbonAwareDecision.fromJSON(JSON.parse(JSON.stringify(decider)));
    expect(restored.predict('device/none', context(), { mode: 'adaptive' }).latencyMs).toEqual(latency);
    expect(restored.decide(context(), { mode: 'adaptive', sloMs: 100 }).candidate.id).toBe(d.candidate.id);
  });
});
