/**
 * The equity cap and the learning shared across sites on the real ten-site file
 * (../shared/data/sites: Li, Yang, Wierman, Ren's hourly carbon and WUE per site), with the
 * made-up noisy candidates of sim.test-support.ts and a jittery uplink. Skipped, with a line
 * saying so, where the shared data is not checked out.
 */
import { existsSync, readFileSync } from 'node:fs';
import { candidatesFromProfile } from '@carboncp/calibrator';
import { parseNetworkTrace, parseSiteTrace, parseTraceCsv } from '@carboncp/carbon';
import { loadDeviceProfile } from '@carboncp/carbon/node';
import { profileFromJson } from '@carboncp/core';
import { describe, expect, it } from 'vitest';
import { HOUR_MS, hourly, jitteryLink, noisyCandidates, testDevice } from './sim.test-support.js';
import { headScaleOf } from './settings.js';
import { simulate } from './simulate.js';
import type { SimulationOptions } from './options.js';

const DATA = new URL('../../../../shared/data/', import.meta.url);
const FILE = new URL('sites/equitableai_glb_10loc_water_carbon_price_hourly.csv', DATA);
const present = existsSync(FILE);
if (!present) console.log(`skipped: the real ten-site trace is not here (${FILE.pathname}); check out ../shared to run these tests`);

/** Extra RTT per site (ms), assumed from distance to a device in Germany, as test/bench/sim-sites.mjs does. */
const RTT_MS: Record<string, number> = { Germany: 0, Netherlands: 8, Belgium: 8, Denmark: 12, Virginia: 90, Georgia: 105, Texas: 120, Nevada: 150, Japan: 240, Singapore: 170 };

/** The stated tolerance of the equity cap over a run of a few thousand requests (see SiteEquity): one percentage point. */
const CAP_TOLERANCE = 0.01;
/** Over the bench's 19 days (27,478 requests): half a point. */
const BENCH_TOLERANCE = 0.005;

function options(extra: Partial<SimulationOptions> = {}): SimulationOptions {
  const series = parseSiteTrace(readFileSync(FILE, 'utf8'));
  const start = series[0]!.startMs;
  return {
    candidates: noisyCandidates(),
    device: testDevice(null, 1e-7),
    deviceCarbon: hourly('DEV', Array(24 * 5).fill(600), start - HOUR_MS),
    start,
    uplink: jitteryLink(7),
    server: { powerW: 5, utilisation: 0.3 },
    hours: 72,
    rate: { perMinute: 1 },
    sloMs: 600,
    seed: 2,
    sites: series.map((s) => ({ series: s, rttMs: RTT_MS[s.site] ?? 0 })),
    ...extra,
  };
}

describe.skipIf(!present)('sites on the real ten-site trace', () => {
  it(`the equity cap holds: the worst site carries at most the cap (15%) + ${CAP_TOLERANCE * 100} point of the footprint`, () => {
    const r = simulate(options({ policies: ['carboncp-sites', 'carboncp-sites-equity'] }));
    const free = r.sites!.policies['carboncp-sites']!;
    const capped = r.sites!.policies['carboncp-sites-equity']!;
    expect(r.requests).toBeGreaterThan(4000);
    // Without the cap one site carries far more than its share; with it, no site more than the cap.
    expect(free.maxShare).toBeGreaterThan(0.3);
    expect(capped.maxShare).toBeLessThanOrEqual(0.15 + CAP_TOLERANCE);
    // The cap is met by spreading, not by leaving the sites: at least seven carry some of it.
    expect(Object.values(capped.requestsBySite).filter((n) => n > 0).length).toBeGreaterThanOrEqual(7);
    expect(capped.lost).toBe(0);
  });

  it('learning shared across sites (poolSites) spends less carbon than each site candidate learning alone', () => {
    const pooled = simulate(options({ policies: ['carboncp-sites'] }));
    const alone = simulate(options({ policies: ['carboncp-sites'], decider: { poolSites: false } }));
    const carbon = (r: typeof pooled) => r.policies[0]!.carbonG;
    expect(carbon(pooled)).toBeLessThan(carbon(alone));
    // Pooled, the site candidates need no warm-up each: fewer requests run on the device while they learn.
    expect(pooled.sites!.policies['carboncp-sites']!.onDevice).toBeLessThan(alone.sites!.policies['carboncp-sites']!.onDevice);
  });
});

/**
 * The scenario of test/bench/sim-sites.mjs, where the cap used to fail (worst site 19-26% against
 * 15%): ResNet-18's measured profile (test/bench/profiles), its four splits of that run, a Pixel 4
 * at the budget phone's speed, Wi-Fi, the TMobile-LTE uplink, the DE grid at the device, the
 * shared inference-power trace as the server's load; all 19 days (27,478 requests, ~20 s).
 * The old update (a step on the cumulative share) ended this run at 22.3%; this one ends at 14.5%.
 */
async function benchScenario(): Promise<SimulationOptions> {
  const text = (path: string) => readFileSync(new URL(path, DATA), 'utf8');
  const profile = profileFromJson(JSON.parse(readFileSync(new URL('../../../test/bench/profiles/resnet18.json', import.meta.url), 'utf8')));
  // ResNet-18's output: 1000 float32 per sample (what the bench's shape probe measures).
  const candidates = candidatesFromProfile(profile, { planIds: ['server', 'split-40', 'split-49', 'split-57', 'split-65', 'device'], outputBytesPerSample: 4000 });
  const [header, ...rows] = text('devices/mobilemlbench_tflite_cnn_e2e.csv').trim().split('\n').map((l) => l.split(','));
  const row = rows.find((r) => r[0] === 'resnet18')!;
  const slowdown = Number(row[header!.indexOf('a03s|1large|float|mean')]) / Number(row[header!.indexOf('pixel4|1large|float|mean')]);
  const device = await loadDeviceProfile('pixel-4');
  const reference = await loadDeviceProfile('dev-machine');
  const headScale = headScaleOf(device, reference) * slowdown;
  const watts = text('sites/equitableai_glb_AI_workload_hourly.csv').trim().split('\n').slice(1).map((l) => Number(l.split(',')[1]));
  const [min, max] = [Math.min(...watts), Math.max(...watts)];
  const series = parseSiteTrace(readFileSync(FILE, 'utf8'));
  const deviceMs = profile.plans.find((p) => p.id === 'device')!.head.medianMs * headScale;
  return {
    candidates,
    device,
    radio: 'wifi',
    headScale,
    deviceCarbon: parseTraceCsv(text('carbon/electricitymaps_2022_hourly.csv')).series.get('DE')!,
    uplink: parseNetworkTrace(text('network/mahimahi_cellular_capacity_100ms.csv'), { trace: 'TMobile-LTE-short', direction: 'up', name: 'mahimahi' }),
    server: { powerW: reference.power.activeW.value!, pue: 1.2, utilisation: { values: watts.map((w) => 0.05 + (0.8 * (w - min)) / (max - min)), stepMinutes: 60 } },
    start: series[0]!.startMs,
    hours: Math.min(19 * 24, series[0]!.carbonGPerKwh.length),
    rate: { perMinute: 1 },
    sloMs: 1.5 * deviceMs,
    alpha: 0.1,
    seed: 1,
    sites: series.map((s) => ({ series: s, rttMs: RTT_MS[s.site] ?? 0 })),
    policies: ['carboncp-sites-equity'],
    // Each site candidate learning alone, as when the cap failed: the case the dual update must hold by itself.
    decider: { poolSites: false },
  };
}

describe.skipIf(!present)('the equity cap on the bench scenario of sim-sites.mjs', () => {
  it(`holds within ${BENCH_TOLERANCE * 100} point of the 15% cap`, async () => {
    const r = simulate(await benchScenario());
    const capped = r.sites!.policies['carboncp-sites-equity']!;
    expect(r.requests).toBe(27478);
    expect(capped.maxShare).toBeLessThanOrEqual(0.15 + BENCH_TOLERANCE);
    expect(Object.values(capped.requestsBySite).reduce((a, b) => a + b, 0)).toBeGreaterThan(500);
    expect(capped.lost).toBe(0);
  });
});
