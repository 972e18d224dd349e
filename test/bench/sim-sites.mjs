/**
 * Several server sites in the simulator (issue #11, sections 3 and 5): ResNet-18's measured
 * profile (profiles/resnet18.json), a Pixel 4 slowed to the budget phone's speed
 * (budgetPhoneSlowdown), Wi-Fi radio energy, the TMobile-LTE uplink, the DE grid at the device,
 * and the ten sites of the Environmentally Equitable AI file (Li, Yang, Wierman, Ren; MIT) over
 * its own period, 2022-09-22 .. 2022-10-11: each site's hourly carbon and WUE. Compares one site
 * (the best in hindsight), the per-request choice of site, and the same under the equity cap, at
 * no water weight and at a water weight; and a run with the best site down for a day.
 *
 * RTT offsets per site are ASSUMED from distance to a device in Germany (not measured): see SITE_RTT_MS.
 *
 * Usage: node test/bench/sim-sites.mjs [--days 19] [--splits 4] [--out test/bench/results/sim-sites] (after npm run setup)
 */
import { readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { parseSiteTrace, SITE_TRACE_SOURCE } from '@carboncp/carbon';
import { simulate } from '@carboncp/sim';
import { ALPHA, ASSUMPTIONS, budgetPhoneSlowdown, deviceMedianMs, load, loadInputs, loadModelInputs, log, r4, scenario, SLO_FACTOR } from './sim-scenario.mjs';

const { values } = parseArgs({
  options: {
    days: { type: 'string', default: '19' },
    splits: { type: 'string', default: '4' },
    out: { type: 'string', default: new URL('./results/sim-sites', import.meta.url).pathname },
  },
});
const days = Number(values.days);
/** A sensitivity, not a price: grams CO2e weighed like one litre of water. */
const WATER_WEIGHT = 50;
/** Extra RTT over the network's (ms), assumed from great-circle distance to a device in Germany (~1 ms per 100 km round trip, rounded). */
const SITE_RTT_MS = { Germany: 0, Netherlands: 8, Belgium: 8, Denmark: 12, Virginia: 90, Georgia: 105, Texas: 120, Nevada: 150, Japan: 240, Singapore: 170 };
const POLICIES = ['device', 'carbon-greedy', 'single-site', 'carboncp-sites', 'carboncp-sites-equity', 'oracle'];

const machine = { cpu: cpus()[0]?.model ?? '?', cores: cpus().length, node: process.version };
const started = { at: new Date().toISOString(), load: load() };
log(`machine: ${machine.cpu} x${machine.cores}, Node ${machine.node}; load average ${started.load.join(' ')}`);
const inputs = await loadInputs();
const sitesText = await readFile(new URL('../../../shared/data/sites/equitableai_glb_10loc_water_carbon_price_hourly.csv', import.meta.url), 'utf8');
const series = parseSiteTrace(sitesText);
const model = await loadModelInputs('resnet18');
// Fewer splits than the study (each remote candidate is run at ten sites): server, device and `splits` spread evenly.
const splits = model.candidates.filter((c) => c.kind === 'split');
const keep = Number(values.splits);
const kept = Array.from({ length: Math.min(keep, splits.length) }, (_, i) => splits[Math.floor(((i + 0.5) * splits.length) / Math.min(keep, splits.length))]);
const candidates = model.candidates.filter((c) => c.kind !== 'split' || kept.includes(c));
const { slowdown } = await budgetPhoneSlowdown();
const start = series[0].startMs;
const hours = Math.min(days * 24, series[0].carbonGPerKwh.length);
const base = await scenario(inputs, { ...model, candidates }, { device: 'pixel-4', radio: 'wifi', deviceZone: 'DE', serverZone: 'DE', trace: 'TMobile-LTE-short', slowdown, hours, sloMs: 1, policies: POLICIES });
const sloMs = SLO_FACTOR * deviceMedianMs(model, base.headScale);

function sites(down) {
  return series.map((s) => ({ series: s, rttMs: SITE_RTT_MS[s.site] ?? 0, ...(down && down.site === s.site ? { down: [[down.from, down.to]] } : {}) }));
}

const runs = [];
const meanOf = (a) => a.reduce((x, y) => x + y, 0) / a.length;
const siteMeans = Object.fromEntries(series.map((s) => [s.site, { carbonGPerKwh: r4(meanOf(s.carbonGPerKwh.slice(0, hours))), waterLPerKwh: r4(meanOf(s.wueLPerKwh.slice(0, hours))) }]));
for (const setting of [
  { name: 'carbon only', waterWeight: 0 },
  { name: `water weight ${WATER_WEIGHT} g/L`, waterWeight: WATER_WEIGHT },
  { name: 'best site down for day 5', waterWeight: 0, downDay: 5 },
  // Sensitivity: every remote candidate at ten sites needs its own ~1/alpha observations; 10% exploration warms them sooner.
  { name: 'carbon only, exploration 10%', waterWeight: 0, exploration: 0.1 },
  // Before learning was shared across sites: each site candidate learns from its own outcomes only.
  { name: 'carbon only, each site candidate learning alone (poolSites false)', waterWeight: 0, poolSites: false },
]) {
  const began = Date.now();
  let down;
  if (setting.downDay !== undefined) {
    const best = Object.entries(siteMeans).sort((a, b) => a[1].carbonGPerKwh - b[1].carbonGPerKwh)[0][0];
    down = { site: best, from: start + setting.downDay * 86_400_000, to: start + (setting.downDay + 1) * 86_400_000 };
  }
  const r = simulate({ ...base, candidates, start, sloMs, sites: sites(down), siteOptions: { waterWeight: setting.waterWeight }, decider: { ...(setting.exploration ? { exploration: { rate: setting.exploration } } : {}), ...(setting.poolSites === false ? { poolSites: false } : {}) } });
  const wallS = (Date.now() - began) / 1000;
  log(`${setting.name}: ${r.requests} requests in ${wallS.toFixed(0)} s; single site ${r.sites.singleSite}`);
  runs.push({
    setting: setting.name,
    waterWeight: setting.waterWeight,
    exploration: setting.exploration ?? 0.02,
    poolSites: setting.poolSites ?? true,
    down: down ? { site: down.site, from: new Date(down.from).toISOString(), to: new Date(down.to).toISOString() } : null,
    requests: r.requests,
    wallS,
    singleSite: r.sites.singleSite,
    policies: r.policies.map((p) => {
      const s = r.sites.policies[p.policy];
      const top = Object.entries(s.shareBySite).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([n, v]) => `${n} ${(100 * v).toFixed(1)}%`);
      return {
        policy: p.policy,
        carbonG: r4(p.carbonG),
        waterL: r4(s.waterL),
        serverCarbonG: r4(s.serverCarbonG),
        sloViolationRate: r4(p.sloViolationRate),
        p95LatencyMs: r4(p.p95LatencyMs),
        maxShare: r4(s.maxShare),
        topShares: top,
        requestsBySite: Object.fromEntries(Object.entries(s.requestsBySite).filter(([, v]) => v > 0)),
        onDevice: s.onDevice,
        lost: s.lost,
      };
    }),
  });
}
const finished = { at: new Date().toISOString(), load: load() };
const out = {
  machine,
  started,
  finished,
  days: hours / 24,
  period: { from: new Date(start).toISOString(), hours },
  setting: { model: 'resnet18', device: 'pixel-4', slowdown: r4(slowdown), radio: 'wifi', deviceZone: 'DE', uplink: 'TMobile-LTE-short', candidates: candidates.map((c) => c.id), sloMs: r4(sloMs), alpha: ALPHA, equityCap: 1.5 / series.length, siteRttMs: SITE_RTT_MS },
  siteMeans,
  assumptions: [
    ...ASSUMPTIONS.filter((a) => !a.startsWith('Carbon:')),
    `Sites: ${SITE_TRACE_SOURCE}: hourly carbon (kg/kWh x 1000) and WUE (L/kWh) per site; the file has no separate grid water figure, so water = WUE x server kWh. The policies see each site's carbon and water through the carbon package's forecaster (one hour ahead). The device's grid: Electricity Maps 2022 DE.`,
    'Site RTT offsets assumed from distance (SITE_RTT_MS), not measured; the server power, PUE and load are the same at every site.',
    `Water weight ${WATER_WEIGHT} g CO2e per litre: a sensitivity, not a price.`,
  ],
  runs,
};
await writeFile(`${values.out}.json`, `${JSON.stringify(out, null, 2)}\n`);
const lines = [
  '# Several server sites (issue #11 §3)',
  '',
  `Written by \`node test/bench/sim-sites.mjs --days ${days} --splits ${keep}\` at ${finished.at}. Machine: ${machine.cpu} x${machine.cores}, Node ${machine.node}; load average ${started.load.join(' ')} at the start, ${finished.load.join(' ')} at the end (the carbon and water figures do not depend on the load; the wall times do).`,
  '',
  `ResNet-18, Pixel 4 at the budget phone's speed (x${r4(slowdown)}), Wi-Fi, TMobile-LTE uplink, DE device grid, ${hours} hours from ${new Date(start).toISOString().slice(0, 10)}, one request a minute (Poisson), SLO ${r4(sloMs)} ms (1.5 x the device's median), candidates ${candidates.map((c) => c.id).join(', ')} at each of ten sites. Equity cap ${(100 * 1.5 / series.length).toFixed(0)}% of the sites' footprint.`,
  '',
  '| site | mean g/kWh | mean WUE L/kWh | assumed extra RTT ms |',
  '| --- | --- | --- | --- |',
  ...Object.entries(siteMeans).map(([n, m]) => `| ${n} | ${m.carbonGPerKwh} | ${m.waterLPerKwh} | ${SITE_RTT_MS[n]} |`),
  '',
];
for (const run of runs) {
  lines.push(`## ${run.setting}${run.down ? ` (${run.down.site} down ${run.down.from} .. ${run.down.to})` : ''}`, '', `${run.requests} requests, ${run.wallS.toFixed(0)} s wall; single-site used ${run.singleSite}.`, '');
  lines.push('| policy | carbon g | water L | SLO miss | p95 ms | largest shares | on device | lost |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const p of run.policies) lines.push(`| ${p.policy} | ${p.carbonG} | ${p.waterL} | ${(100 * p.sloViolationRate).toFixed(1)}% | ${p.p95LatencyMs} | ${p.maxShare > 0 ? p.topShares.join(', ') : '-'} | ${p.onDevice} | ${p.lost} |`);
  lines.push('');
}
lines.push('Assumptions:', '', ...out.assumptions.map((a) => `- ${a}`), '');
await writeFile(`${values.out}.md`, `${lines.join('\n')}\n`);
log(`wrote ${values.out}.json and .md`);
