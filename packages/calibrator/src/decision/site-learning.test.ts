/**
 * Learning shared across sites (DeciderOptions.poolSites) and the equity cap's dual update
 * (SiteEquity), by hand. The world is sites.test.ts's: split-2/int8 at A (+0 ms) and C (+60 ms),
 * 50 ms at A by its structural model.
 */
import { describe, expect, it } from 'vitest';
import { candidatesForSites } from '../candidates/site-candidates.js';
import { CarbonAwareDecision, type DeciderOptions } from './decider.js';
import { DEVICE, SPLIT_INT8, context } from './decision.test-support.js';
import { SiteEquity } from './site-equity.js';

const SITES = [
  { site: 'A', rttMs: 0 },
  { site: 'C', rttMs: 60 },
];
const ctx = context({ sites: { A: { intensityGPerKwh: 400 }, C: { intensityGPerKwh: 20 } } });

function taught(options: DeciderOptions): CarbonAwareDecision {
  const d = new CarbonAwareDecision(candidatesForSites([DEVICE, SPLIT_INT8], SITES), { exploration: false, ...options });
  // Every request at A takes twice what the structural model says: a log-ratio of ln 2 to learn.
  const structural = d.predict('split-2/int8@A', ctx).latencyMs.point;
  for (let i = 0; i < 60; i += 1) d.observe('split-2/int8@A', ctx, { latencyMs: 2 * structural });
  return d;
}

describe('learning shared across sites', () => {
  it('pooled (the default): a request at A teaches the same cut at C; its own RTT stays its own', () => {
    const fresh = new CarbonAwareDecision(candidatesForSites([DEVICE, SPLIT_INT8], SITES), { exploration: false });
    const before = { A: fresh.predict('split-2/int8@A', ctx).latencyMs, C: fresh.predict('split-2/int8@C', ctx).latencyMs };
    const d = taught({});
    const after = { A: d.predict('split-2/int8@A', ctx).latencyMs, C: d.predict('split-2/int8@C', ctx).latencyMs };
    // The ridge (prior precision 1, 60 observations at one context) learns n|x|^2 / (1 + n|x|^2) of
    // the log ratio ln 2, |x| >= 1 (the intercept): a factor in [2^(60/61), 2], the same at both sites.
    const factor = after.A.point / before.A.point;
    expect(factor).toBeGreaterThanOrEqual(Math.exp((Math.LN2 * 60) / 61) - 1e-9);
    expect(factor).toBeLessThanOrEqual(2);
    expect(after.C.point / before.C.point).toBeCloseTo(factor, 9);
    // C's structural latency carries its 60 ms more RTT, corrected by the same factor.
    expect(after.C.point - after.A.point).toBeCloseTo(60 * factor, 2);
    // The conformal window is pooled too: C has a finite interval without a request of its own.
    expect(Number.isFinite(before.C.upper)).toBe(false);
    expect(Number.isFinite(after.C.upper)).toBe(true);
    expect(d.freshness()['split-2/int8@C']!.observations).toBe(0);
  });

  it('alone (poolSites: false): C learns nothing from A', () => {
    const d = taught({ poolSites: false });
    const fresh = new CarbonAwareDecision(candidatesForSites([DEVICE, SPLIT_INT8], SITES), { exploration: false, poolSites: false });
    expect(d.predict('split-2/int8@C', ctx).latencyMs.point).toBeCloseTo(fresh.predict('split-2/int8@C', ctx).latencyMs.point, 9);
    expect(Number.isFinite(d.predict('split-2/int8@C', ctx).latencyMs.upper)).toBe(false);
  });

  it('the pooling survives toJSON / fromJSON', () => {
    const d = CarbonAwareDecision.fromJSON(JSON.parse(JSON.stringify(taught({}))));
    const A = d.predict('split-2/int8@A', ctx).latencyMs.point;
    d.observe('split-2/int8@A', ctx, { latencyMs: 4 * A });
    // The one observation at A moved C as well: they still share one model.
    const again = CarbonAwareDecision.fromJSON(JSON.parse(JSON.stringify(taught({}))));
    expect(d.predict('split-2/int8@C', ctx).latencyMs.point).toBeGreaterThan(again.predict('split-2/int8@C', ctx).latencyMs.point * 1.001);
  });
});

describe('SiteEquity: the dual update by hand (cap 0.5, step 1)', () => {
  it("steps on each request's own excess in units of the mean footprint", () => {
    const e = new SiteEquity({ sites: ['A', 'B'], cap: 0.5, step: 1 });
    // A, 2 g: mean 2 g, so the request is 1 mean; A: 0 + (1 - 0.5) x 1 = 0.5; B: max(0, 0 - 0.5) = 0.
    e.record('A', 2);
    expect(e.penalties().A).toBeCloseTo(0.5, 12);
    expect(e.penalties().B).toBe(0);
    // A, 1 g: mean 1.5 g, the request is 2/3 of it; A: 0.5 + 0.5 x 2/3.
    e.record('A', 1);
    expect(e.penalties().A).toBeCloseTo(0.5 + 1 / 3, 12);
    // A request on the device changes nothing.
    e.record(undefined, 0);
    expect(e.penalties().A).toBeCloseTo(0.5 + 1 / 3, 12);
    // B, 3 g: mean 2 g, the request is 1.5 of it; A: 5/6 - 0.5 x 1.5 = 1/12; B: 0 + 0.5 x 1.5 = 0.75.
    e.record('B', 3);
    expect(e.penalties().A).toBeCloseTo(1 / 12, 12);
    expect(e.penalties().B).toBeCloseTo(0.75, 12);
    expect(e.shares()).toEqual({ A: 0.5, B: 0.5 });
    const restored = new SiteEquity({ sites: ['A', 'B'], cap: 0.5, step: 1 }, JSON.parse(JSON.stringify(e.toJSON())));
    restored.record('B', 2);
    e.record('B', 2);
    expect(restored.penalties()).toEqual(e.penalties());
  });
});
