import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@carboncp/core';
import { CarbonAwareDecision } from './decider.js';
import { context } from './decision.test-support.js';
import { allowedByLimits, withinQualityFloor } from './rules.js';
import { FAMILY_WORLD, LARGE, MID, SMALL } from './variants.test-support.js';

const fresh = () => new CarbonAwareDecision(FAMILY_WORLD, { exploration: false });
const G = 1 / 3.6e6;

describe('the quality floor (minQuality) over a family of variants (hand-computed)', () => {
  it('without a floor the cheapest of all is chosen: the small variant on the device (40 x G g)', () => {
    const d = fresh().decide(context(), { mode: 'mean', sloMs: 100 });
    expect(d.candidate.id).toBe('device/none/small');
    expect(d.candidate).toMatchObject({ variant: 'small', quality: 60 });
    expect(d.chosen.objectiveValue / (40 * G)).toBeCloseTo(1, 9);
    expect(d.bound).toBe('none');
  });

  it('a floor of 65 rules the small variant out: the cheapest allowed variant x cut is split-2/none/mid (79 x G g)', () => {
    const d = fresh().decide(context(), { mode: 'mean', sloMs: 100, minQuality: 65 });
    expect(d.candidate.id).toBe('split-2/none/mid');
    expect(d.chosen.objectiveValue / (79 * G)).toBeCloseTo(1, 9);
    expect(d.minQuality).toBe(65);
    expect(d.bound).toBe('quality');
    const byId = Object.fromEntries(d.assessments.map((a) => [a.candidate.id, a]));
    expect(byId['device/none/small']!.excludedBy).toEqual(['quality']);
    expect(byId['split-2/none/small']!.excludedBy).toEqual(['quality']);
    expect(byId['device/none/mid']!.feasible).toBe(true);
    expect(d.explanation).toContain('Binding constraint: quality: device/none/small has less carbon (1.11e-5 g) but its declared quality 60 is below the floor 65');
    expect(d.explanation).toContain('Runners-up: device/none/mid 2.22e-5 g; split-2/int8/large 2.97e-5 g;');
    const out = new CarbonAwareDecision([...SMALL, MID[1]!], { exploration: false }).decide(context(), { mode: 'mean', minQuality: 65 });
    expect(out.explanation).toContain('split-2/none/small 1.78e-5 g (out: its declared quality 60 is below the floor 65)');
  });

  it('the floor and the SLO together: SLO 60 ms also rules split-2/none/mid (68 ms) out, device/none/mid (80 x G g) is chosen', () => {
    const d = fresh().decide(context(), { mode: 'mean', sloMs: 60, minQuality: 65 });
    expect(d.candidate.id).toBe('device/none/mid');
    expect(d.assessments.find((a) => a.candidate.id === 'split-2/none/mid')!.excludedBy).toEqual(['slo']);
    // The rules are reported in CONSTRAINTS order: quality before slo.
    expect(d.assessments.find((a) => a.candidate.id === 'split-2/none/small')!.excludedBy).toEqual(['quality']);
    expect(d.assessments.find((a) => a.candidate.id === 'server/none/large')!.excludedBy).toEqual(['slo']);
    expect(d.bound).toBe('quality');
  });

  it('a floor of 70 leaves only the large variant: split-2/int8/large (107 x G g), as in WORLD', () => {
    const d = fresh().decide(context(), { mode: 'mean', sloMs: 100, minQuality: 70 });
    expect(d.candidate.id).toBe('split-2/int8/large');
    expect(d.chosen.objectiveValue / (107 * G)).toBeCloseTo(1, 9);
    expect(d.assessments.filter((a) => a.excludedBy.includes('quality')).map((a) => a.candidate.variant)).toEqual(['small', 'small', 'mid', 'mid']);
  });

  it('a floor no variant meets is relaxed (stated), taking the fastest bound: device/none/small (10 ms)', () => {
    const d = fresh().decide(context(), { mode: 'mean', sloMs: 100, minQuality: 80 });
    expect(d.candidate.id).toBe('device/none/small');
    expect(d.relaxed).toEqual(['quality']);
    expect(d.sloUnmet).toBe(false);
    expect(d.explanation).toContain('Relaxed: quality');
  });

  it('an unknown quality never meets a floor; no floor allows it', () => {
    const unknown = { ...SMALL[0]!, quality: undefined };
    expect(withinQualityFloor(unknown, 10)).toBe(false);
    expect(withinQualityFloor(unknown, undefined)).toBe(true);
    expect(withinQualityFloor(MID[0]!, 68)).toBe(true);
    expect(withinQualityFloor(MID[0]!, 68.01)).toBe(false);
    expect(allowedByLimits(LARGE[2]!, { minQuality: 70, maxOutputError: 0.001 })).toBe(false);
    expect(allowedByLimits(LARGE[2]!, { minQuality: 70, maxOutputError: 0.01 })).toBe(true);
    const d = new CarbonAwareDecision([unknown, ...MID], { exploration: false }).decide(context(), { mode: 'mean', minQuality: 10 });
    expect(d.candidate.id).toBe('split-2/none/mid');
    expect(d.explanation).toContain('its quality is unknown');
  });

  it('refuses a floor that is not a finite number and a candidate quality that is not one', () => {
    expect(() => fresh().decide(context(), { minQuality: Number.NaN })).toThrow(/minQuality must be a finite number/);
    expect(() => new CarbonAwareDecision([{ ...SMALL[0]!, quality: Number.POSITIVE_INFINITY }])).toThrow(/quality must be a finite number/);
  });

  it('never explores a candidate the floor rules out', () => {
    const decider = new CarbonAwareDecision(FAMILY_WORLD, { exploration: { rate: 0.9, seed: 3 } });
    const random = mulberry32(5);
    for (let i = 0; i < 200; i += 1) {
      const d = decider.decide(context({ deviceIntensityGPerKwh: 200 + 600 * random() }), { mode: 'robust', sloMs: 100, minQuality: 65 });
      expect(d.candidate.quality).toBeGreaterThanOrEqual(65);
      decider.observe(d.candidate.id, context(), { latencyMs: 50, carbonG: 1e-5, deviceEnergyJ: 0.1 }, d);
    }
    expect(decider.stats.explored).toBeGreaterThan(0);
  });

  it('a saved state keeps the variants and their qualities, and decides as before', () => {
    const decider = new CarbonAwareDecision(FAMILY_WORLD, { exploration: false });
    const random = mulberry32(11);
    for (let i = 0; i < 60; i += 1) {
      const ctx = context({ deviceIntensityGPerKwh: 200 + 600 * random() });
      const d = decider.decide(ctx, { mode: 'set', sloMs: 100, minQuality: 65 });
      decider.observe(d.candidate.id, ctx, { latencyMs: 40 + 20 * random(), carbonG: 2e-5 * (1 + random()), deviceEnergyJ: 0.1 }, d);
    }
    const restored = CarbonAwareDecision.fromJSON(JSON.parse(JSON.stringify(decider.toJSON())));
    expect(restored.candidates.map((c) => [c.id, c.variant, c.quality])).toEqual(FAMILY_WORLD.map((c) => [c.id, c.variant, c.quality]));
    for (const mode of ['mean', 'robust', 'set'] as const) {
      const ctx = context({ deviceIntensityGPerKwh: 300 });
      const a = decider.decide(ctx, { mode, sloMs: 100, minQuality: 65 });
      const b = restored.decide(ctx, { mode, sloMs: 100, minQuality: 65 });
      expect(b.candidate.id).toBe(a.candidate.id);
      expect(b.candidate.quality).toBeGreaterThanOrEqual(65);
      expect(b.chosen.latency.upper).toBe(a.chosen.latency.upper);
      expect(b.set?.threshold).toBe(a.set?.threshold);
    }
  });
});
