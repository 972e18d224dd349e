/**
 * The simulation study's shared inputs (issue #9, section 6): measured latency profiles of every
 * zoo model (test/bench/profiles/, from `carboncp profile`), their outputs' bytes (a shape probe),
 * the shared real traces (Electricity Maps 2022 grids, Mahimahi uplinks, the Environmentally
 * Equitable AI inference-power trace as the server's load) and the device profiles. Used by
 * sim-study.mjs; every assumption a run makes is in `assumptions` so that the results carry it.
 */
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { candidatesFromProfile } from '@carboncp/calibrator';
import { parseNetworkTrace, parseTraceCsv } from '@carboncp/carbon';
import { loadDeviceProfile } from '@carboncp/carbon/node';
import { loadModel, profileFromJson } from '@carboncp/core';
import { outputBytesPerSample, spreadCuts } from '@carboncp/core/node';
import { ensureModel, getZooModel, listModels } from '@carboncp/models';
import { headScaleOf } from '@carboncp/sim';

const DATA = new URL('../../../shared/data/', import.meta.url);
const PROFILES = new URL('./profiles/', import.meta.url);

export const MAX_SPLITS = 24;
/** The study's miss budget and SLO rule: the SLO is SLO_FACTOR x the device's own full-model median. */
export const ALPHA = 0.1;
export const SLO_FACTOR = 1.5;

/** Progress on stderr, the load average rounded, a figure to 4 significant digits: shared by the sim-* scripts. */
export const log = (line) => process.stderr.write(`${line}\n`);
export const load = () => loadavg().map((v) => Number(v.toFixed(2)));
export const r4 = (v) => (v === null || v === undefined ? null : Number(v.toPrecision(4)));
export const ZONES = ['DE', 'FR', 'GB', 'PL', 'ES', 'CA-QC'];
/** Every zoo model (each has a measured profile in profiles/). */
export const MODELS = listModels().map((m) => m.name);

/** The server's utilisation from a real hourly inference-power trace: (P - Pmin) / (Pmax - Pmin), scaled into [0.05, 0.85]. */
export function utilisationFromPower(csvText) {
  const watts = csvText.trim().split('\n').slice(1).map((line) => Number(line.split(',')[1]));
  const min = Math.min(...watts);
  const max = Math.max(...watts);
  return { values: watts.map((w) => 0.05 + (0.8 * (w - min)) / (max - min)), stepMinutes: 60 };
}

export async function loadInputs() {
  const text = async (path) => readFile(new URL(path, DATA), 'utf8');
  const grids = parseTraceCsv(await text('carbon/electricitymaps_2022_hourly.csv'));
  const mahimahi = await text('network/mahimahi_cellular_capacity_100ms.csv');
  const uplinks = {};
  for (const trace of ['TMobile-LTE-short', 'ATT-LTE-driving', 'Verizon-LTE-short']) uplinks[trace] = parseNetworkTrace(mahimahi, { trace, direction: 'up', name: 'mahimahi' });
  const serverLoad = utilisationFromPower(await text('sites/equitableai_glb_AI_workload_hourly.csv'));
  const reference = await loadDeviceProfile('dev-machine');
  return { grids, uplinks, serverLoad, reference };
}

/**
 * How much slower a budget phone (Samsung Galaxy A03s) runs ResNet-18 than the Pixel 4 the
 * device profile describes, both on one large core in float, from the mobile-ml-benchmark
 * end-to-end latencies (Li, Paolieri, Golubchik, EdgeSys 2024): the headline's device speed.
 */
export async function budgetPhoneSlowdown() {
  const [header, ...rows] = (await readFile(new URL('devices/mobilemlbench_tflite_cnn_e2e.csv', DATA), 'utf8')).trim().split('\n').map((l) => l.split(','));
  const row = rows.find((r) => r[0] === 'resnet18');
  const at = (column) => Number(row[header.indexOf(column)]);
  return { slowdown: at('a03s|1large|float|mean') / at('pixel4|1large|float|mean'), a03sMs: at('a03s|1large|float|mean') / 1000, pixel4Ms: at('pixel4|1large|float|mean') / 1000 };
}

/** A zoo model's measured profile, its outputs' bytes, and the candidates a device would weigh. */
export async function loadModelInputs(name) {
  const profile = profileFromJson(JSON.parse(await readFile(new URL(`${name}.json`, PROFILES), 'utf8')));
  const zoo = getZooModel(name);
  const model = await loadModel(new Uint8Array(await readFile(await ensureModel(name))), name);
  const outputBytes = await outputBytesPerSample(model, zoo.inputShapes);
  const inputBytes = profile.plans.find((p) => p.id === 'server').bytesPerSample;
  // Splits that send less than the input (the others are dominated by 'server' on bytes and by
  // 'device' on compute), at most MAX_SPLITS of them spread evenly over the graph: the
  // simulation's cost grows with the candidates, and a device would bound them the same way.
  const smaller = profile.plans.filter((p) => p.id.startsWith('split-') && p.bytesPerSample < inputBytes);
  const planIds = ['server', ...spreadCuts(smaller, MAX_SPLITS).map((p) => p.id), 'device'];
  const candidates = candidatesFromProfile(profile, { planIds, outputBytesPerSample: outputBytes });
  return { name, profile, outputBytes, inputBytes, candidates, measuredOn: profile.device, measuredAt: profile.measuredAt };
}

/** The simulator options of one run. */
export async function scenario(inputs, model, o) {
  const device = await loadDeviceProfile(o.device);
  // slowdown: a device that many times slower than the profile's at the same power (a sensitivity, not a device).
  const headScale = headScaleOf(device, inputs.reference) * (o.slowdown ?? 1);
  return {
    candidates: model.candidates,
    device,
    radio: o.radio,
    headScale,
    deviceCarbon: inputs.grids.series.get(o.deviceZone),
    serverCarbon: inputs.grids.series.get(o.serverZone),
    uplink: inputs.uplinks[o.trace],
    server: { powerW: inputs.reference.power.activeW.value, pue: o.pue ?? 1.2, utilisation: inputs.serverLoad },
    start: Date.UTC(2022, o.startMonth ?? 0, 1),
    hours: o.hours,
    rate: { perMinute: o.perMinute ?? 1 },
    sloMs: o.sloMs,
    alpha: o.alpha ?? 0.1,
    seed: o.seed ?? 1,
    policies: o.policies,
    maxSteps: 200,
  };
}

/** The device's own full-model latency (median, ms) for a model: what the SLOs are set against. */
export function deviceMedianMs(model, headScale) {
  return model.profile.plans.find((p) => p.id === 'device').head.medianMs * headScale;
}

export const ASSUMPTIONS = [
  'Latency profiles measured on this machine (AMD EPYC, 2 vCPU, onnxruntime-node 1.30 CPU, one intra-op thread as the dev-machine profile\'s speed figure, `carboncp profile MODEL --threads 1 --runs 40 --warmup 5`), heads scaled by the device profile\'s measured speed on ResNet-18 against this machine (headScaleOf); tails run at the measured speed on a server drawing the dev-machine profile\'s active watts, PUE 1.2.',
  'Outputs sent back: measured by a shape probe at the zoo input shape; the candidates are server, device and the splits that send less than the input (at most 24, spread evenly over the graph), no compression.',
  'Carbon: Electricity Maps 2022 hourly direct intensity; the device\'s energy (compute and radio) at the device\'s grid, the server\'s at the server\'s; the policies see the carbon package\'s seasonal forecast, one hour ahead, with its error.',
  'Radio energy: the device profile\'s (AT&T ARO Wi-Fi and LTE models: per byte, plus one tail and promotion per request at one request a minute).',
  'Uplink: the Mahimahi trace named, looped; downlink: the same trace. Server load: the Environmentally Equitable AI hourly inference-power trace mapped to M/M/1 utilisation 0.05..0.85.',
  'Requests: Poisson, one a minute; seed 1; battery drains by the requests\' energy and charges 22:00-06:00 UTC.',
];
