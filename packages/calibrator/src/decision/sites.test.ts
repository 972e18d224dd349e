/**
 * Several sites, worked by hand on the decision's test world (decision.test-support.ts): the
 * split-2/int8 candidate at a site with intensity I spends device energy 0.1025 J at 800 g/kWh
 * (82 / 3.6e6 g) plus 100 W x 5 ms = 0.5 J at I (0.5 I / 3.6e6 g); its latency is 50 ms plus
 * the site's extra RTT. The device alone: 160 / 3.6e6 g, 40 ms.
 *
 *   site  I    extra RTT  water L/kWh  carbon x 3.6e6   latency   water x 3.6e6 L
 *   A     400   0          0            82 + 200 = 282   50        0
 *   B     100  20          1            82 +  50 = 132   70        0.5
 *   C      20  60         10            82 +  10 =  92  110        5
 */
import { describe, expect, it } from 'vitest';
import { candidatesForSites } from '../candidates/site-candidates.js';
import { CarbonAwareDecision } from './decider.js';
import { DEVICE, FROZEN_RIDGE, SPLIT_INT8, context } from './decision.test-support.js';
import type { DecideOptions } from './decision-types.js';
import { serverEnergyJ, serverIntensityFor, type SiteConditions } from './site-conditions.js';
import { SiteEquity } from './site-equity.js';

const SITES = [
  { site: 'A', rttMs: 0 },
  { site: 'B', rttMs: 20 },
  { site: 'C', rttMs: 60 },
];
const CONDITIONS: Record<string, SiteConditions> = {
  A: { intensityGPerKwh: 400, waterLPerKwh: 0 },
  B: { intensityGPerKwh: 100, waterLPerKwh: 1 },
  C: { intensityGPerKwh: 20, waterLPerKwh: 10 },
};
const MEAN: DecideOptions = { mode: 'mean', explore: false, batteryReserve: false };

function decider(): CarbonAwareDecision {
  return new CarbonAwareDecision(candidatesForSites([DEVICE, SPLIT_INT8], SITES), { ridge: FROZEN_RIDGE, exploration: false });
}

function ctx(sites: Record<string, SiteConditions> = CONDITIONS) {
  return context({ sites });
}

describe('candidatesForSites', () => {
  it('puts each remote candidate at each site, the device once', () => {
    const out = candidatesForSites([DEVICE, SPLIT_INT8], [...SITES.slice(0, 2), { site: 'D', rttMs: 5, tailOffsetMs: 3 }]);
    expect(out.map((c) => c.id)).toEqual(['device/none', 'split-2/int8@A', 'split-2/int8@B', 'split-2/int8@D']);
    expect(out[0]).toEqual(DEVICE);
    expect(out.map((c) => c.siteRttMs)).toEqual([undefined, 0, 20, 5]);
    expect(out[3]!.tail.medianMs).toBe(8);
    expect(out[2]!.tail.medianMs).toBe(5);
  });

  it('refuses no sites, a duplicate and a negative offset', () => {
    expect(() => candidatesForSites([DEVICE], [])).toThrow(/at least one site/);
    expect(() => candidatesForSites([DEVICE], [{ site: 'A' }, { site: 'A' }])).toThrow(/distinct/);
    expect(() => candidatesForSites([DEVICE], [{ site: 'A', rttMs: -1 }])).toThrow(/rttMs/);
  });
});

describe('choosing a site', () => {
  it('by carbon: the lowest-carbon site, its intensity in the prediction', () => {
    const d = decider().decide(ctx(), MEAN);
    expect(d.candidate.id).toBe('split-2/int8@C');
    const byId = Object.fromEntries(d.assessments.map((a) => [a.candidate.id, a]));
    expect(byId['split-2/int8@A']!.objectiveValue * 3.6e6).toBeCloseTo(282, 6);
    expect(byId['split-2/int8@B']!.objectiveValue * 3.6e6).toBeCloseTo(132, 6);
    expect(byId['split-2/int8@C']!.objectiveValue * 3.6e6).toBeCloseTo(92, 6);
    expect(byId['split-2/int8@C']!.latency.point).toBeCloseTo(110, 6);
  });

  it('by water: 10 g per litre makes C (92 + 50) dearer than B (132 + 5)', () => {
    const d = decider().decide(ctx(), { ...MEAN, waterWeight: 10 });
    expect(d.candidate.id).toBe('split-2/int8@B');
    expect(d.chosen.objectiveValue * 3.6e6).toBeCloseTo(137, 6);
  });

  it('by latency: an SLO of 100 ms rules C (110 ms) out, B (70 ms) meets it', () => {
    const d = decider().decide(ctx(), { ...MEAN, sloMs: 100 });
    expect(d.candidate.id).toBe('split-2/int8@B');
    expect(d.bound).toBe('slo');
  });

  it('a measured RTT to a site replaces the offset', () => {
    const d = decider().decide(ctx({ ...CONDITIONS, C: { ...CONDITIONS.C!, rttMs: 20 } }), { ...MEAN, sloMs: 100 });
    expect(d.candidate.id).toBe('split-2/int8@C');
    expect(d.chosen.latency.point).toBeCloseTo(60, 6);
  });

  it('a site down is never chosen, and with every site down the device runs it', () => {
    const down = (names: string[]) => Object.fromEntries(Object.entries(CONDITIONS).map(([s, c]) => [s, { ...c, up: !names.includes(s) }]));
    const d1 = decider().decide(ctx(down(['C'])), MEAN);
    expect(d1.candidate.id).toBe('split-2/int8@B');
    expect(d1.assessments.find((a) => a.candidate.site === 'C')!.excludedBy).toEqual(['site']);
    expect(d1.bound).toBe('site');
    expect(d1.explanation).toMatch(/its site C is down/);
    const d2 = decider().decide(ctx(down(['A', 'B', 'C'])), { ...MEAN, sloMs: 1 });
    expect(d2.candidate.id).toBe('device/none');
    expect(d2.sloUnmet).toBe(true);
  });

  it('refuses a malformed site and a negative water weight', () => {
    expect(() => decider().decide(ctx({ X: { intensityGPerKwh: -1 } }), MEAN)).toThrow(/sites\.X\.intensityGPerKwh/);
    expect(() => decider().decide(ctx(), { ...MEAN, waterWeight: -1 })).toThrow(/waterWeight/);
  });
});

describe('a stream over sites', () => {
  /** n requests; site C down for requests in [downFrom, downTo); equity when given. */
  function stream(n: number, equity?: SiteEquity, down?: [number, number]) {
    const d = decider();
    const chosen: (string | undefined)[] = [];
    const footprint: Record<string, number> = { A: 0, B: 0, C: 0 };
    for (let i = 0; i < n; i += 1) {
      const isDown = down !== undefined && i >= down[0] && i < down[1];
      const c = ctx({ ...CONDITIONS, C: { ...CONDITIONS.C!, up: !isDown } });
      const decision = d.decide(c, { ...MEAN, ...(equity ? { sitePenalties: equity.penalties() } : {}) });
      const site = decision.candidate.site;
      chosen.push(site);
      const g = site === undefined ? 0 : (serverEnergyJ(c, decision.predictions.serverMs.point) / 3.6e6) * serverIntensityFor(decision.candidate, c);
      if (site !== undefined) footprint[site]! += g;
      equity?.record(site, g);
    }
    return { chosen, footprint };
  }

  it('without the cap C carries everything; with a 0.5 cap no site carries more than about half', () => {
    expect(stream(200).chosen.every((s) => s === 'C')).toBe(true);
    const equity = new SiteEquity({ sites: ['A', 'B', 'C'], cap: 0.5 });
    const { footprint } = stream(2000, equity);
    const total = footprint.A! + footprint.B! + footprint.C!;
    const shares = Object.values(footprint).map((f) => f / total);
    expect(Math.max(...shares)).toBeLessThanOrEqual(0.5 + 0.02);
    expect(footprint.C! / total).toBeGreaterThan(0.4);
    const own = equity.shares();
    expect(own.C).toBeCloseTo(footprint.C! / total, 9);
  });

  it('C going down mid-stream loses nothing: every request gets an up site', () => {
    const { chosen } = stream(100, undefined, [30, 60]);
    expect(chosen).toHaveLength(100);
    expect(chosen.slice(30, 60).every((s) => s === 'B')).toBe(true);
    expect(chosen.slice(0, 30).every((s) => s === 'C')).toBe(true);
    expect(chosen.slice(60).every((s) => s === 'C')).toBe(true);
  });

  it('SiteEquity refuses a cap no share can hold, and an unknown site', () => {
    expect(() => new SiteEquity({ sites: ['A', 'B', 'C'], cap: 0.3 })).toThrow(/cap/);
    expect(() => new SiteEquity({ sites: ['A'], cap: 1 }).record('Z', 1)).toThrow(/unknown site/);
  });
});
