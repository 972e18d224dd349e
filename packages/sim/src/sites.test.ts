/**
 * Several sites on the hand-checked world (sim.test-support.ts handWorld): the device grid at
 * 1000 g/kWh from the third hour; 'server/none' (0.051 J radio, 0.1 J server, 31 ms + the
 * site's RTT) at three sites. Grams x 3.6e6 once the device grid is 1000: device 200; server
 * 51 + 0.1 I: A (I 300, 1 L/kWh, +0 ms) 81, B (100, 2 L/kWh, +10 ms) 61, C (50, 8 L/kWh, +30 ms)
 * 56. Water x 3.6e6 L: A 0.1, B 0.2, C 0.8. C is the least carbon; with 10 g per litre B is
 * (63 against C's 64).
 */
import type { SiteSeries } from '@carboncp/carbon';
import { describe, expect, it } from 'vitest';
import { HOUR_MS, START, handWorld } from './sim.test-support.js';
import { simulate } from './simulate.js';
import type { SimSite } from './site-world.js';

function site(name: string, intensity: number, water: number): SiteSeries {
  const n = 6;
  return { site: name, startMs: START - HOUR_MS, stepMs: HOUR_MS, carbonGPerKwh: Array(n).fill(intensity), wueLPerKwh: Array(n).fill(water), priceUsdPerMwh: Array(n).fill(0) };
}

const SITES: SimSite[] = [
  { series: site('A', 300, 1), rttMs: 0 },
  { series: site('B', 100, 2), rttMs: 10 },
  { series: site('C', 50, 8), rttMs: 30 },
];

/**
 * These runs explore at 10% and last 12 hours at 10 a minute, so that the steady state dominates
 * (written when each site candidate learnt only from its own outcomes and the farther sites'
 * intervals stayed infinite for about a thousand requests; learning is now shared across sites).
 */
const WARM = { decider: { exploration: { rate: 0.1 } }, rate: { perMinute: 10, arrivals: 'fixed' as const }, hours: 12 };

function run(extra: Parameters<typeof handWorld>[0] = {}) {
  return simulate(handWorld({ sites: SITES, deviceCarbon: handWorld().deviceCarbon, ...extra }));
}

describe('simulate with several sites', () => {
  it('is deterministic for a seed', () => {
    const a = run({ seed: 3 });
    const b = run({ seed: 3 });
    expect(a.requests).toBe(240);
    expect(JSON.stringify(a.policies)).toBe(JSON.stringify(b.policies));
    expect(JSON.stringify(a.sites)).toBe(JSON.stringify(b.sites));
  });

  it('runs the default site policies; single-site is C in hindsight and stays there', () => {
    const r = run();
    expect(r.policies.map((p) => p.policy)).toEqual(['device', 'oracle', 'single-site', 'carboncp-sites', 'carboncp-sites-equity']);
    expect(r.sites!.singleSite).toBe('C');
    const single = r.sites!.policies['single-site']!;
    expect(single.requestsBySite.A! + single.requestsBySite.B!).toBe(0);
    const oracle = r.policies.find((p) => p.policy === 'oracle')!;
    // From the third hour (device at 1000 g/kWh) the oracle sends everything to C: 56 g x 1e-6 / 3.6 each.
    expect(oracle.cutCounts['server/none@C']).toBeGreaterThanOrEqual(120);
    const water = r.sites!.policies.oracle!.waterL;
    expect(water).toBeCloseTo(((oracle.cutCounts['server/none@C'] ?? 0) * 0.8 + (oracle.cutCounts['server/none@B'] ?? 0) * 0.2 + (oracle.cutCounts['server/none@A'] ?? 0) * 0.1) / 3.6e6, 12);
  });

  it('a water weight moves carboncp-sites from C to B', () => {
    const dry = run({ ...WARM, policies: ['carboncp-sites'] }).sites!.policies['carboncp-sites']!;
    const wet = run({ ...WARM, policies: ['carboncp-sites'], siteOptions: { waterWeight: 10 } }).sites!.policies['carboncp-sites']!;
    expect(dry.requestsBySite.C!).toBeGreaterThan(dry.requestsBySite.B!);
    expect(wet.requestsBySite.B!).toBeGreaterThan(wet.requestsBySite.C!);
    expect(wet.waterL).toBeLessThan(dry.waterL);
  });

  it('the equity cap holds the worst site near its share; without it one site carries most', () => {
    const r = run({ ...WARM, policies: ['carboncp-sites', 'carboncp-sites-equity'], siteOptions: { equityCap: 0.5 } });
    const free = r.sites!.policies['carboncp-sites']!;
    const capped = r.sites!.policies['carboncp-sites-equity']!;
    expect(free.maxShare).toBeGreaterThan(0.8);
    expect(capped.maxShare).toBeLessThanOrEqual(0.5 + 0.01);
    expect(capped.shareBySite.C!).toBeGreaterThan(0.45);
    // The cap's price: more carbon than the free choice.
    const carbon = (name: string) => r.policies.find((p) => p.policy === name)!.carbonG;
    expect(carbon('carboncp-sites-equity')).toBeGreaterThan(carbon('carboncp-sites'));
  });

  it('a site down for two hours loses nothing: every request of every policy goes elsewhere', () => {
    const down: SimSite[] = SITES.map((x) => (x.series.site === 'C' ? { ...x, down: [[START + HOUR_MS, START + 3 * HOUR_MS]] } : x));
    let duringDown = 0;
    const r = simulate(
      handWorld({
        sites: down,
        onRequest: (rec) => {
          if (rec.time >= START + HOUR_MS && rec.time < START + 3 * HOUR_MS) {
            duringDown += 1;
            for (const k of rec.choices) expect(rec.candidates[k]!.endsWith('@C')).toBe(false);
          }
        },
      }),
    );
    expect(duringDown).toBe(120);
    for (const p of r.policies) {
      expect(p.requests).toBe(240);
      expect(Number.isFinite(p.p95LatencyMs)).toBe(true);
      expect(r.sites!.policies[p.policy]!.lost).toBe(0);
    }
    // single-site (C) failed over during the window, and came back after it.
    const single = r.sites!.policies['single-site']!;
    expect(single.requestsBySite.A! + single.requestsBySite.B!).toBeGreaterThan(0);
    expect(single.requestsBySite.C!).toBeGreaterThan(0);
  });

  it('refuses site policies without sites', () => {
    expect(() => simulate(handWorld({ policies: ['carboncp-sites'] }))).toThrow(/needs sites/);
  });
});
