#!/usr/bin/env node
/**
 * The simulation study of issue #9, section 6, through @carboncp/sim with the calibrator's own
 * decision code. Two parts:
 *
 *  - headline: the CarbonCP setting (ResNet-18, a battery phone, the grid and the uplink changing
 *    by the hour and the second, the server's load by the hour), every policy, two weeks: the
 *    Pixel 4 at its measured speed, then at a budget phone's measured speed (Galaxy A03s);
 *  - sensitivity: the headline's phone made 1-8x slower at the same power, where offloading
 *    starts to pay;
 *  - breadth: every zoo model x two device speeds (the Pixel 4's, a budget phone's) x Wi-Fi and
 *    LTE radio energy x two Mahimahi uplinks x 16 grid pairs
 *    (each of the six zones for the device, the server in the same zone, in FR and in PL), two
 *    weeks each, and for every carboncp mode whether it kept SLO violations at or below alpha,
 *    cut carbon against the best fixed baseline and stayed within 10% of the oracle.
 *
 * Writes results/sim-study.json (every record) and results/sim-study.md (the tables the README
 * quotes), with the machine and the load average. Needs the build (`npm run setup`) and
 * ../shared/data beside the repository.
 * Usage: node test/bench/sim-study.mjs [--part headline|sensitivity|breadth|all] [--days N] [--models a,b]
 */
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { simulate } from '@carboncp/sim';
import { ALPHA, ASSUMPTIONS, budgetPhoneSlowdown, deviceMedianMs, load, loadInputs, loadModelInputs, log, MODELS, r4, scenario, SLO_FACTOR, ZONES } from './sim-scenario.mjs';

const { values } = parseArgs({
  options: {
    part: { type: 'string', default: 'all' },
    days: { type: 'string' },
    models: { type: 'string' },
    out: { type: 'string', default: new URL('./results/sim-study', import.meta.url).pathname },
  },
});
const MODES = ['carboncp-mean', 'carboncp-robust', 'carboncp-adaptive', 'carboncp-set', 'carboncp-budget'];
const FIXED = ['device', 'server'];
const BASELINES = ['device', 'server', 'neurosurgeon', 'energy-optimal', 'carbon-greedy'];

const inputs = await loadInputs();
const machine = { cpu: cpus()[0]?.model ?? '?', cores: cpus().length, node: process.version };
const started = { at: new Date().toISOString(), load: load() };
log(`machine: ${machine.cpu} x${machine.cores}, Node ${machine.node}; load average ${started.load.join(' ')}`);

function record(result) {
  return result.policies.map((p) => ({
    policy: p.policy,
    carbonG: r4(p.carbonG),
    carbonBySide: { device: r4(p.carbonBySide.device), network: r4(p.carbonBySide.network), server: r4(p.carbonBySide.server) },
    sloViolationRate: r4(p.sloViolationRate),
    deviceJ: r4(p.deviceJ),
    batteryDrainPct: r4(p.batteryDrainPct),
    regretPct: r4(p.regretPct),
    coverage: r4(p.coverage),
    meanLatencyMs: r4(p.meanLatencyMs),
    p95LatencyMs: r4(p.p95LatencyMs),
    explored: p.explored,
    cuts: Object.fromEntries(Object.entries(p.cutCounts).sort((a, b) => b[1] - a[1]).slice(0, 4)),
  }));
}

/** The best fixed baseline: the fixed policy of least carbon among those that kept the SLO at 1 - alpha (else among all, flagged). */
function bestFixed(records) {
  const fixed = records.filter((r) => FIXED.includes(r.policy));
  const keeping = fixed.filter((r) => r.sloViolationRate <= ALPHA);
  const pool = keeping.length ? keeping : fixed;
  const best = pool.reduce((a, b) => (b.carbonG < a.carbonG ? b : a));
  return { policy: best.policy, carbonG: best.carbonG, keepsSlo: keeping.length > 0 };
}

function verdicts(records) {
  const best = bestFixed(records);
  return Object.fromEntries(
    records
      .filter((r) => MODES.includes(r.policy))
      .map((r) => {
        const cutPct = (100 * (best.carbonG - r.carbonG)) / best.carbonG;
        return [r.policy, { sloKept: r.sloViolationRate <= ALPHA, cutPct: r4(cutPct), cuts: cutPct > 0.05, withinOracle: r.regretPct <= 10, regretPct: r.regretPct, sloViolationRate: r.sloViolationRate }];
      }),
  );
}

async function headline(days) {
  const model = await loadModelInputs('resnet18');
  const budgetPhone = await budgetPhoneSlowdown();
  const runs = [];
  const settings = [
    { label: 'Pixel 4 speed', slowdown: 1, radio: 'wifi', trace: 'TMobile-LTE-short' },
    { label: 'budget-phone speed', slowdown: budgetPhone.slowdown, radio: 'wifi', trace: 'TMobile-LTE-short' },
    { label: 'budget-phone speed', slowdown: budgetPhone.slowdown, radio: 'wifi', trace: 'ATT-LTE-driving' },
    { label: 'budget-phone speed', slowdown: budgetPhone.slowdown, radio: 'lte', trace: 'TMobile-LTE-short' },
  ];
  for (const { label, slowdown, radio, trace } of settings) {
    const o = { device: 'pixel-4', radio, deviceZone: 'DE', serverZone: 'FR', trace, hours: 24 * days, startMonth: 2, slowdown };
    const probe = await scenario(inputs, model, { ...o, hours: 1, sloMs: 1 });
    const sloMs = Math.round(SLO_FACTOR * deviceMedianMs(model, probe.headScale));
    const began = performance.now();
    const result = simulate(await scenario(inputs, model, { ...o, sloMs }));
    const records = record(result);
    runs.push({ ...o, label, model: 'resnet18', sloMs, requests: result.requests, wallS: Number(((performance.now() - began) / 1000).toFixed(1)), bestFixed: bestFixed(records), verdicts: verdicts(records), policies: records });
    log(`headline ${label} ${radio} ${trace}: ${result.requests} requests in ${runs.at(-1).wallS} s (load ${load().join(' ')})`);
  }
  return { model: 'resnet18', device: 'pixel-4', budgetPhone, outputBytes: model.outputBytes, candidates: model.candidates.length, runs };
}

/**
 * Sensitivity of the headline: the same phone made k times slower at the same power (so k times
 * the compute energy), Wi-Fi, the T-Mobile uplink, DE device and FR server; the SLO follows the
 * slower device (1.5 x its median), as a user would set it.
 */
async function sensitivity(days) {
  const model = await loadModelInputs('resnet18');
  const policies = [...BASELINES, ...MODES, 'oracle'];
  const runs = [];
  for (const slowdown of [1, 2, 4, 6, 8]) {
    for (const [deviceZone, serverZone] of [['DE', 'FR'], ['GB', 'DE']]) {
      const o = { device: 'pixel-4', radio: 'wifi', deviceZone, serverZone, trace: 'TMobile-LTE-short', hours: 24 * days, startMonth: 2, slowdown, policies };
      const probe = await scenario(inputs, model, { ...o, hours: 1, sloMs: 1 });
      const sloMs = Math.round(SLO_FACTOR * deviceMedianMs(model, probe.headScale));
      const records = record(simulate(await scenario(inputs, model, { ...o, sloMs })));
      runs.push({ slowdown, deviceZone, serverZone, sloMs, bestFixed: bestFixed(records), verdicts: verdicts(records), policies: records });
      log(`sensitivity x${slowdown} ${deviceZone}->${serverZone}: done (load ${load().join(' ')})`);
    }
  }
  return { model: 'resnet18', device: 'pixel-4', radio: 'wifi', trace: 'TMobile-LTE-short', days, runs };
}

async function breadth(days, models) {
  const pairs = [];
  for (const z of ZONES) for (const s of [z, 'FR', 'PL']) if (!pairs.some(([a, b]) => a === z && b === s)) pairs.push([z, s]);
  const policies = [...BASELINES, ...MODES, 'oracle'];
  const speeds = [
    { speed: 'Pixel 4', slowdown: 1 },
    { speed: 'budget phone', slowdown: (await budgetPhoneSlowdown()).slowdown },
  ];
  const runs = [];
  for (const name of models) {
    const model = await loadModelInputs(name);
    for (const { speed, slowdown } of speeds) {
      for (const radio of ['wifi', 'lte']) {
        for (const trace of ['TMobile-LTE-short', 'ATT-LTE-driving']) {
          const began = performance.now();
          for (const [deviceZone, serverZone] of pairs) {
            const o = { device: 'pixel-4', radio, deviceZone, serverZone, trace, hours: 24 * days, startMonth: 2, slowdown, policies };
            const probe = await scenario(inputs, model, { ...o, hours: 1, sloMs: 1 });
            const sloMs = Math.round(SLO_FACTOR * deviceMedianMs(model, probe.headScale));
            const records = record(simulate(await scenario(inputs, model, { ...o, sloMs })));
            const oracle = records.find((r) => r.policy === 'oracle');
            const best = bestFixed(records);
            runs.push({ model: name, speed, slowdown, radio, trace, deviceZone, serverZone, sloMs, candidates: model.candidates.length, bestFixed: best, oracleCutPct: r4((100 * (best.carbonG - oracle.carbonG)) / best.carbonG), verdicts: verdicts(records), policies: records });
          }
          log(`breadth ${name} ${speed} ${radio} ${trace}: ${pairs.length} grid pairs in ${((performance.now() - began) / 1000).toFixed(1)} s (load ${load().join(' ')})`);
        }
      }
    }
  }
  return { days, speeds, pairs: pairs.map(([d, s]) => `${d}->${s}`), runs };
}

const part = values.part;
const out = { machine, started, assumptions: ASSUMPTIONS, alpha: ALPHA, sloRule: `SLO = ${SLO_FACTOR} x the device's own full-model median latency`, command: `node test/bench/sim-study.mjs ${process.argv.slice(2).join(' ')}`.trim() };
if (part === 'headline' || part === 'all') out.headline = await headline(Number(values.days ?? 28));
if (part === 'sensitivity' || part === 'all') out.sensitivity = await sensitivity(Number(values.days ?? 14));
if (part === 'breadth' || part === 'all') out.breadth = await breadth(Number(values.days ?? 14), values.models ? values.models.split(',') : MODELS);
out.finished = { at: new Date().toISOString(), load: load() };
await writeFile(`${values.out}-${part}.json`, `${JSON.stringify(out, null, 1)}\n`);
log(`wrote ${values.out}-${part}.json`);
