#!/usr/bin/env node
/**
 * What reading the context costs (issue #7, section 7): on a request, from cached values (goal:
 * under 20 µs), and off it, one sensor sample.
 *
 * 1. Per request. A device client (createClient) connected to a real server on 127.0.0.1 (the
 *    PP-OCR classifier), its server context and network estimate filled by pings, a probe and
 *    one request, as they are after a while of traffic. Parts:
 *    - `cutContext`: what SplitClient does on every request that names no cut: builds the
 *      CutContext (inputDims from the request's tensors, remoteUsable, lastServerContext,
 *      networkEstimate(), clock.now()) and holds the policy's answer to a caller's rules
 *      (askPolicy), with the default policy. It calls SplitClient's policyChoice, private in
 *      TypeScript only, on purpose: the bench times the shipped code, not a copy of it.
 *    - its parts alone: `inputDims` (the same expression), `networkEstimate()`, `lastServerContext`;
 *    - `energyCounter` / `energyPower`: PowerSampler.energy(t0, t1) over a full 120-reading history
 *      of a counter (RAPL-like) or of power (battery / INA3221-like), a 30 ms head window ending
 *      40 ms after the newest reading (partly extrapolated, as on a live request);
 *    - `carbonPeek`: withLastKnown(trace provider).peek({ zone }): the last value, no I/O;
 *    - `wholeCounter` / `wholePower`: cutContext + energyCounter (or energyPower) + carbonPeek,
 *      what a calibrator reads per request; the goal is judged on the larger p99 of the two.
 *    Phase A times every call alone, parts interleaved call by call in rotating order;
 *    performance.now()'s own cost (an empty call timed the same way, its median) is subtracted:
 *    median and p99 per part. Phase B times batches of --batch calls per part, interleaved by
 *    round, for the parts below the timer's resolution: the median per-call mean.
 *    For reference, not cached: `await provider.current()` of the trace (an async lookup).
 * 2. A sensor sample of each power source (power-samples.mjs, shared with power.mjs): what this
 *    machine has, RAPL where readable, fixture trees for the rest.
 *
 * Writes --out (default test/bench/results/context-read.json) with the machine (CPU model, cores,
 * OS, Node) and the load average before and after. Needs dist: `npm run setup`.
 * Usage: node test/bench/context-read.mjs [--calls 20000] [--rounds 21] [--batch 1000] [--samples 200] [--out FILE]
 */
import { existsSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeHost, ocrModelPath, seededInputs } from '@carboncp/core/node';
import { createClient } from '@carboncp/device/node';
import { startServer } from '@carboncp/server';
// @carboncp/carbon is not a dependency of the test suites (no lockfile change): its build, by path.
import { createProvider, withLastKnown } from '../../packages/carbon/dist/index.js';
import { nodeProviderContext, nodeProviderFactories } from '../../packages/carbon/dist/node/index.js';
import { filledSampler, quantile, samplePowerSources } from './power-samples.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '21' },
    batch: { type: 'string', default: '1000' },
    samples: { type: 'string', default: '200' },
    out: { type: 'string', default: join(here, 'results', 'context-read.json') },
  },
});
const CALLS = Number(args.calls);
const ROUNDS = Number(args.rounds);
const BATCH = Number(args.batch);
const SAMPLES = Number(args.samples);
const load = () => loadavg().map((v) => Number(v.toFixed(2)));
const out = (line) => process.stdout.write(`${line}\n`);

const result = { date: new Date().toISOString(), machine: { ...describeHost(), node: process.version }, loadBefore: load(), settings: { calls: CALLS, rounds: ROUNDS, batch: BATCH, samples: SAMPLES } };
out(`machine: ${result.machine.cpu} x${result.machine.cores}, ${result.machine.os}, Node ${process.version}; load average before ${result.loadBefore.join(' ')}`);

// A client with a filled context.
const CLS = ocrModelPath('ch_ppocr_mobile_v2.0_cls_infer.onnx');
const SHAPE = { x: [1, 3, 48, 192] };
const server = await startServer({ models: [CLS], inputShapes: { 'ch_ppocr_mobile_v2.0_cls_infer': SHAPE }, host: '127.0.0.1', port: 0, executionProviders: ['cpu'], carbonIntensity: { value_g_per_kwh: 250, source: 'bench' }, log: () => {} });
const client = await createClient({ model: CLS, server: server.url, inputShapes: SHAPE });
await client.ready(10_000);
const inputs = seededInputs(client.partition.model, SHAPE, 1);
const split = client.plans.find((plan) => plan.kind === 'split');
await client.infer(inputs, { cut: split.id });
for (let i = 0; i < 5; i++) await client.serverContext();
await client.probeNetwork();
if (typeof client.policyChoice !== 'function') throw new Error('SplitClient.policyChoice is gone: point the bench at the code that now builds the CutContext');
if (!client.lastServerContext || !client.networkEstimate()?.uplinkBps) throw new Error('the client context is not filled');
const choice = client.policyChoice(inputs, undefined, {});
if (choice.plan.id !== 'server') throw new Error(`the default policy chose ${choice.plan.id}`);

const counter = await filledSampler('counter');
const power = await filledSampler('power');

const shared = join(root, '..', 'shared', 'data', 'carbon', 'electricitymaps_2022_hourly.csv');
const trace = existsSync(shared) ? `csv:${shared},zone=DE,wrap=year` : `csv:${join(root, 'packages', 'carbon', 'src', 'fixtures', 'DE.csv')},wrap=week`;
const provider = await createProvider(trace, nodeProviderFactories, nodeProviderContext());
const carbon = withLastKnown(provider);
const zone = { zone: 'DE' };
await carbon.current(zone);
if (!(carbon.peek(zone)?.gPerKwh > 0)) throw new Error('no cached carbon intensity');
result.setup = { model: 'ppocr-cls (PP-OCR direction classifier)', plans: client.plans.length, serverContext: client.lastServerContext, network: client.networkEstimate(), carbon: carbon.peek(zone), trace };

let sink = 0;
const parts = {
  timer: () => 0,
  cutContext: () => client.policyChoice(inputs, undefined, {}).compression.length,
  inputDims: () => Object.keys(Object.fromEntries(Object.entries(inputs).map(([name, tensor]) => [name, tensor.dims]))).length,
  networkEstimate: () => client.networkEstimate().rttMs.n,
  lastServerContext: () => client.lastServerContext.queueDepth,
  energyCounter: (i) => counter.sampler.energy(counter.now + 10 - (i & 7), counter.now + 40).joules,
  energyPower: (i) => power.sampler.energy(power.now + 10 - (i & 7), power.now + 40).joules,
  carbonPeek: () => carbon.peek(zone).gPerKwh,
  wholeCounter: (i) => client.policyChoice(inputs, undefined, {}).compression.length + counter.sampler.energy(counter.now + 10 - (i & 7), counter.now + 40).joules + carbon.peek(zone).gPerKwh,
  wholePower: (i) => client.policyChoice(inputs, undefined, {}).compression.length + power.sampler.energy(power.now + 10 - (i & 7), power.now + 40).joules + carbon.peek(zone).gPerKwh,
};
const names = Object.keys(parts);

// Warm-up: every part until the JIT has settled.
for (let i = 0; i < 5000; i++) for (const name of names) sink += parts[name](i);

// Phase A: every call timed alone, parts interleaved call by call, the order rotating.
const samples = Object.fromEntries(names.map((name) => [name, new Float64Array(CALLS)]));
for (let i = 0; i < CALLS; i++) {
  for (let k = 0; k < names.length; k++) {
    const name = names[(i + k) % names.length];
    const fn = parts[name];
    const t0 = performance.now();
    sink += fn(i);
    const t1 = performance.now();
    samples[name][i] = (t1 - t0) * 1000;
  }
}
const timerUs = quantile(samples.timer, 0.5);

// Phase B: batches, for what is below the timer's resolution.
const batchMeans = Object.fromEntries(names.map((name) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (let k = 0; k < names.length; k++) {
    const name = names[(round + k) % names.length];
    const fn = parts[name];
    const t0 = performance.now();
    for (let i = 0; i < BATCH; i++) sink += fn(i);
    batchMeans[name].push(((performance.now() - t0) * 1000) / BATCH);
  }
}

// For reference, not cached: the trace provider's async lookup.
const currentUs = [];
for (let i = 0; i < 2000; i++) {
  const t0 = performance.now();
  sink += (await provider.current(zone)).gPerKwh;
  currentUs.push((performance.now() - t0) * 1000);
}
if (!Number.isFinite(sink)) throw new Error('unreachable');

result.timerUs = timerUs;
result.perRequest = Object.fromEntries(
  names
    .filter((name) => name !== 'timer')
    .map((name) => {
      const net = Array.from(samples[name], (us) => Math.max(0, us - timerUs));
      return [name, { medianUs: quantile(net, 0.5), p99Us: quantile(net, 0.99), maxUs: Math.max(...net), batchMeanUs: quantile(batchMeans[name], 0.5) }];
    }),
);
result.traceCurrentUs = { medianUs: quantile(currentUs, 0.5), p99Us: quantile(currentUs, 0.99) };
const goalUs = 20;
const wholeP99Us = Math.max(result.perRequest.wholeCounter.p99Us, result.perRequest.wholePower.p99Us);
result.goal = { us: goalUs, wholeP99Us, met: wholeP99Us < goalUs };

out(`timer (performance.now() pair): median ${timerUs.toFixed(3)} µs, subtracted below`);
out(`${'part'.padEnd(18)} ${'median µs'.padStart(10)} ${'p99 µs'.padStart(10)} ${'batch mean µs'.padStart(14)}`);
for (const [name, r] of Object.entries(result.perRequest)) {
  out(`${name.padEnd(18)} ${r.medianUs.toFixed(3).padStart(10)} ${r.p99Us.toFixed(3).padStart(10)} ${r.batchMeanUs.toFixed(3).padStart(14)}`);
}
out(`trace provider current() (async, not cached): median ${result.traceCurrentUs.medianUs.toFixed(2)} µs, p99 ${result.traceCurrentUs.p99Us.toFixed(2)} µs`);
out(`goal: the whole read under ${goalUs} µs at p99: ${result.goal.met ? 'met' : 'NOT met'} (${result.goal.wholeP99Us.toFixed(2)} µs)`);

await client.close();
await server.close({ drainMs: 0 });

// 2. Sensor samples.
const sensors = await samplePowerSources({ samples: SAMPLES });
result.sensorSamples = sensors;
out(`detectPowerSource here:\n  ${sensors.detection.join('\n  ')}`);
for (const row of sensors.rows) out(`sample ${row.label}: median ${row.medianUs.toFixed(1)} µs, p99 ${row.p99Us.toFixed(1)} µs over ${row.samples} (${row.outcome})`);

result.loadAfter = load();
out(`load average after: ${result.loadAfter.join(' ')}`);
writeFileSync(args.out, `${JSON.stringify(result, null, 2)}\n`);
out(`written: ${args.out}`);
