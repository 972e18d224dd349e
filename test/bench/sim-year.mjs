#!/usr/bin/env node
/**
 * A year of hourly context at one request a minute (525,600 decisions) through @carboncp/sim
 * (issue #9, section 6): goal under 60 s for the carboncp robust policy on this machine; then the
 * same year with every policy, timed per policy.
 *
 * Scenario: ResNet-18 (the zoo's, profiled here on the fly with onnxruntime, 1 thread, or
 * --profile FILE from `carboncp profile --json`), candidates 'server', every split whose
 * activations are smaller than the input, and 'device' (no compression); a Pixel 4 (battery,
 * LTE; heads scaled by its measured speed against the reference machine); the device on the
 * DE grid and the server on FR (Electricity Maps 2022, hourly, forecast-driven); the TMobile-LTE
 * Mahimahi uplink, looped; server 7.5 W (the reference machine's active power) at 30% utilisation.
 *
 * The machine, the load average before and after, and the time split (true outcomes, each
 * policy's decide + learn, the rest of the loop) are written to results/sim-year.json. Needs the
 * build (`npm run setup`).
 * Usage: node test/bench/sim-year.mjs [--profile FILE] [--hours 8760] [--slo-ms 500] [--skip-all] [--out FILE]
 */
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { candidatesFromProfile } from '@carboncp/calibrator';
import { parseNetworkTrace, parseTraceCsv } from '@carboncp/carbon';
import { loadDeviceProfile } from '@carboncp/carbon/node';
import { loadModel, partition, profileFromJson } from '@carboncp/core';
import { profileModel } from '@carboncp/core/node';
import { ensureModel } from '@carboncp/models';
import { headScaleOf, simulate } from '@carboncp/sim';

const { values } = parseArgs({
  options: {
    profile: { type: 'string' },
    hours: { type: 'string', default: '8760' },
    'slo-ms': { type: 'string', default: '500' },
    'skip-all': { type: 'boolean', default: false },
    out: { type: 'string', default: new URL('./results/sim-year.json', import.meta.url).pathname },
  },
});
const DATA = new URL('../../../shared/data/', import.meta.url);
const out = (line) => process.stderr.write(`${line}\n`);
const load = () => loadavg().map((v) => Number(v.toFixed(2)));
const round = (v, digits = 3) => Number(v.toFixed(digits));

const machine = { cpu: cpus()[0]?.model ?? '?', cores: cpus().length, memoryGiB: round(totalmem() / 2 ** 30, 1), node: process.version, os: `${platform()} ${release()}` };
out(`machine: ${machine.cpu} x${machine.cores}, Node ${machine.node}; load average: ${load().join(' ')}`);

const modelFile = await ensureModel('resnet18');
const model = await loadModel(new Uint8Array(await readFile(modelFile)), 'resnet18');
const parts = await partition(model);
let profile;
let profileSource;
if (values.profile) {
  profile = profileFromJson(JSON.parse(await readFile(values.profile, 'utf8')), { modelDigest: model.digest });
  profileSource = values.profile;
} else {
  out('profiling resnet18 (20 runs, 1 thread) ...');
  profile = await profileModel(parts, { runs: 20, warmup: 3, threads: 1, checkCuts: 0 });
  profileSource = 'profiled on the fly (profileModel: 20 runs, 3 warm-up, 1 thread)';
}
const inputBytes = parts.plans.find((p) => p.kind === 'server').bytesPerSample;
const planIds = parts.plans.filter((p) => p.kind !== 'split' || p.bytesPerSample < inputBytes).map((p) => p.id);
const candidates = candidatesFromProfile(profile, { plans: parts.plans, planIds, outputBytesPerSample: 1000 * 4 });

const device = await loadDeviceProfile('pixel-4');
const reference = await loadDeviceProfile('dev-machine');
const grids = parseTraceCsv(await readFile(new URL('carbon/electricitymaps_2022_hourly.csv', DATA), 'utf8'));
const uplink = parseNetworkTrace(await readFile(new URL('network/mahimahi_cellular_capacity_100ms.csv', DATA), 'utf8'), { trace: 'TMobile-LTE-short', direction: 'up', name: 'mahimahi' });
const hours = Number(values.hours);
const scenario = {
  candidates,
  device,
  radio: 'lte',
  headScale: headScaleOf(device, reference),
  deviceCarbon: grids.series.get('DE'),
  serverCarbon: grids.series.get('FR'),
  uplink,
  server: { powerW: reference.power.activeW.value, utilisation: 0.3 },
  hours,
  rate: { perMinute: 1, arrivals: 'fixed' },
  sloMs: Number(values['slo-ms']),
  seed: 1,
};

function run(policies) {
  const loadBefore = load();
  let next = 0.1;
  const began = performance.now();
  const result = simulate({
    ...scenario,
    policies,
    progressEvery: 10_000,
    onProgress: (done, expected) => {
      if (done / expected >= next) {
        out(`  ${Math.round((100 * done) / expected)}% after ${((performance.now() - began) / 1000).toFixed(1)} s`);
        next += 0.1;
      }
    },
  });
  const wallMs = performance.now() - began;
  const policyMs = Object.values(result.timing.policies).reduce((a, b) => a + b, 0);
  return {
    policies,
    requests: result.requests,
    wallS: round(wallMs / 1000, 2),
    usPerRequest: round((wallMs * 1000) / result.requests, 2),
    split: {
      outcomesS: round(result.timing.outcomesMs / 1000, 2),
      policiesS: Object.fromEntries(Object.entries(result.timing.policies).map(([k, v]) => [k, round(v / 1000, 2)])),
      restS: round((wallMs - result.timing.outcomesMs - policyMs) / 1000, 2),
    },
    loadBefore,
    loadAfter: load(),
    results: result.policies.map((p) => ({
      policy: p.policy,
      carbonG: round(p.carbonG, 4),
      sloViolationRate: round(p.sloViolationRate, 4),
      coverage: p.coverage === null ? null : round(p.coverage, 4),
      regretPct: round(p.regretPct, 2),
      batteryDrainPct: p.batteryDrainPct === null ? null : round(p.batteryDrainPct, 1),
      cuts: Object.keys(p.cutCounts).length,
    })),
    oracleCarbonG: round(result.oracleCarbonG, 4),
  };
}

out(`${candidates.length} candidates; ${hours} hours at 1 request/min; SLO ${scenario.sloMs} ms; head scale ${scenario.headScale.toFixed(2)}`);
out('carboncp-robust alone:');
const robust = run(['carboncp-robust']);
out(`  ${robust.requests} requests in ${robust.wallS} s (${robust.usPerRequest} µs each; goal < 60 s): ${JSON.stringify(robust.split)}`);
let all = null;
if (!values['skip-all']) {
  out('every policy:');
  all = run(undefined);
  out(`  ${all.requests} requests in ${all.wallS} s: ${JSON.stringify(all.split)}`);
}

const report = {
  benchmark: 'sim-year',
  when: new Date().toISOString(),
  machine,
  quiet: robust.loadBefore[0] <= 0.5,
  scenario: {
    model: 'resnet18',
    profile: profileSource,
    candidates: candidates.map((c) => c.id),
    device: device.id,
    radio: 'lte',
    headScale: round(scenario.headScale, 3),
    deviceZone: 'DE',
    serverZone: 'FR',
    uplink: uplink.source,
    serverPowerW: scenario.server.powerW,
    utilisation: 0.3,
    hours,
    perMinute: 1,
    sloMs: scenario.sloMs,
    carbonView: 'forecast',
  },
  goal: { decisions: 525_600, seconds: 60, policy: 'carboncp-robust', met: robust.requests >= 525_600 && robust.wallS < 60 },
  robust,
  all,
};
await writeFile(values.out, `${JSON.stringify(report, null, 2)}\n`);
out(`written ${values.out}`);
