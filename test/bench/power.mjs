#!/usr/bin/env node
/**
 * What the device's power context costs.
 *   1. On a request (the cached path): PowerSampler.latest() and PowerSampler.energy(t0, t1) over
 *      a full history (120 readings), for a counter history (RAPL-like) and a power history
 *      (battery / INA3221-like). Goal: under 20 µs.
 *   2. Off the request path: one sample of what detectPowerSource picks on this machine (with a
 *      power model, so something always answers), each Linux candidate's read against the real
 *      /sys (what they find), and RAPL / INA3221 / power_supply reads against fixture trees of the
 *      real layout in a temp dir (file reads of the same shape as on such a machine).
 * Medians over rounds; the load average before and after. Needs dist: `npm run setup`.
 * Usage: node test/bench/power.mjs [--rounds 21] [--calls 20000] [--samples 200]
 */
import { cpus, loadavg } from 'node:os';
import { filledSampler, samplePowerSources } from './power-samples.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(args[at + 1]);
};
const ROUNDS = option('rounds', 21);
const CALLS = option('calls', 20000);
const SAMPLES = option('samples', 200);
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const load = () => loadavg().map((v) => v.toFixed(2)).join(' ');
const out = (line) => process.stdout.write(`${line}\n`);

out(`machine: ${cpus()[0]?.model ?? '?'} x${cpus().length}, Node ${process.version}, ${process.platform}`);
out(`load average before: ${load()}`);

// 1. The cached path.
const cached = {};
for (const kind of ['counter', 'power']) {
  const { sampler, now } = await filledSampler(kind);
  const latestUs = [];
  const energyUs = [];
  let sink = 0;
  for (let round = 0; round < ROUNDS; round++) {
    let t = performance.now();
    for (let i = 0; i < CALLS; i++) sink += sampler.latest().at;
    latestUs.push(((performance.now() - t) * 1000) / CALLS);
    t = performance.now();
    // A 30 ms head ending 40 ms after the newest sample (partly extrapolated, as on a live request).
    for (let i = 0; i < CALLS; i++) sink += sampler.energy(now + 10 - (i & 7), now + 40).joules;
    energyUs.push(((performance.now() - t) * 1000) / CALLS);
  }
  if (!Number.isFinite(sink)) throw new Error('unreachable');
  cached[kind] = { latestUs: median(latestUs), energyUs: median(energyUs) };
  out(`cached ${kind} history (120 readings): latest() ${median(latestUs).toFixed(3)} µs, energy(t0, t1) ${median(energyUs).toFixed(3)} µs (median of ${ROUNDS} rounds x ${CALLS} calls)`);
}

// 2. Sensor samples (shared with context-read.mjs).
const { detection, rows } = await samplePowerSources({ samples: SAMPLES });
out(`detectPowerSource on this machine:\n  ${detection.join('\n  ')}`);
for (const row of rows) out(`sample ${row.label}: median ${row.medianUs.toFixed(1)} µs, p99 ${row.p99Us.toFixed(1)} µs over ${row.samples} (${row.outcome})`);

out(`load average after: ${load()}`);
