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
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  detectPowerSource,
  JetsonIna3221Source,
  LinuxPowerSupplySource,
  PowerSampler,
  RaplSource,
  ManualClock,
} from '@carboncp/device/node';

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
async function filledSampler(kind) {
  const clock = new ManualClock(0);
  let energy = 0;
  const source = {
    name: kind,
    read: async () => {
      energy += 5 + Math.sin(clock.now() / 700);
      return kind === 'counter'
        ? { kind: 'measured', source: 'rapl:package-0', energyJoules: energy, at: 0 }
        : { kind: 'measured', source: 'power_supply:BAT0 power_now', watts: 8 + Math.sin(clock.now() / 700), batteryPercent: 70, at: 0 };
    },
  };
  const sampler = new PowerSampler(source, { clock, intervalMs: 100, historySize: 120 });
  await sampler.start();
  await clock.advance(100 * 130);
  sampler.stop();
  return { sampler, now: clock.now() };
}

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

// 2. Sensor samples.
async function timeReads(label, source) {
  const us = [];
  let last;
  for (let i = 0; i < SAMPLES; i++) {
    const t = performance.now();
    try {
      last = await source.read();
    } catch (error) {
      last = error;
    }
    us.push((performance.now() - t) * 1000);
  }
  const what = last instanceof Error ? `fails: ${last.code ?? ''} ${last.message}` : `${last.kind} ${last.watts?.toFixed(3) ?? '-'} W, ${last.source}`;
  out(`sample ${label}: median ${median(us).toFixed(1)} µs over ${SAMPLES} (${what})`);
}

const detected = await detectPowerSource({ model: { idleWatts: 10, activeWatts: 30, source: 'bench placeholder model (not this machine)' } });
out(`detectPowerSource on this machine:\n  ${detected.notes.join('\n  ')}`);
await timeReads('detected source (this machine)', detected.source);
await timeReads('LinuxPowerSupplySource, real /sys', new LinuxPowerSupplySource());
await timeReads('RaplSource, real /sys', new RaplSource());
await timeReads('JetsonIna3221Source, real /sys', new JetsonIna3221Source());

async function fixture(tree) {
  const root = await mkdtemp(join(tmpdir(), 'carboncp-power-bench-'));
  for (const [path, value] of Object.entries(tree)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), `${value}\n`);
  }
  return root;
}
const rapl = await fixture({
  'class/powercap/intel-rapl:0/name': 'package-0',
  'class/powercap/intel-rapl:0/energy_uj': '123456789',
  'class/powercap/intel-rapl:0/max_energy_range_uj': '262143328850',
  'class/powercap/intel-rapl:0:0/name': 'core',
});
const battery = await fixture({
  'class/power_supply/AC/type': 'Mains',
  'class/power_supply/AC/online': '0',
  'class/power_supply/BAT0/type': 'Battery',
  'class/power_supply/BAT0/status': 'Discharging',
  'class/power_supply/BAT0/power_now': '8123456',
  'class/power_supply/BAT0/energy_now': '40500000',
  'class/power_supply/BAT0/energy_full': '51300000',
  'class/power_supply/BAT0/capacity': '78',
});
const hw = 'bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3';
const jetson = await fixture({
  [`${hw}/in1_label`]: 'VDD_IN', [`${hw}/in1_input`]: '5080', [`${hw}/curr1_input`]: '1216',
  [`${hw}/in2_label`]: 'VDD_CPU_GPU_CV', [`${hw}/in2_input`]: '5072', [`${hw}/curr2_input`]: '384',
  [`${hw}/in3_label`]: 'VDD_SOC', [`${hw}/in3_input`]: '5072', [`${hw}/curr3_input`]: '768',
});
await timeReads('RaplSource, fixture tree (tmpfs-like temp dir)', new RaplSource({ sysfsRoot: rapl }));
await timeReads('LinuxPowerSupplySource, fixture tree', new LinuxPowerSupplySource({ sysfsRoot: battery }));
await timeReads('JetsonIna3221Source, fixture tree', new JetsonIna3221Source({ sysfsRoot: jetson }));
for (const root of [rapl, battery, jetson]) await rm(root, { recursive: true, force: true });

out(`load average after: ${load()}`);
