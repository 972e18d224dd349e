/**
 * One sensor sample of each power source, off the request path (shared by power.mjs and
 * context-read.mjs): what detectPowerSource picks on this machine (with a placeholder power
 * model, so something always answers), each Linux candidate against the real /sys (what they
 * find here: RAPL where it is readable), and the RAPL, power_supply and INA3221 readers against
 * fixture trees of the real layout in a temp dir (the same file operations, not the same kernel
 * cost). And the cached side: a PowerSampler whose history is full, as a request finds it.
 * Needs dist: `npm run setup`.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { detectPowerSource, JetsonIna3221Source, LinuxPowerSupplySource, ManualClock, PowerSampler, RaplSource } from '@carboncp/device/node';

const sorted = (values) => [...values].sort((a, b) => a - b);
/** Linear-interpolated quantile (type 7) of unsorted values. */
export function quantile(values, q) {
  const s = sorted(values);
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  return s[lo] + (s[Math.ceil(at)] - s[lo]) * (at - lo);
}

/**
 * A sampler with a full 120-reading history at 100 ms of a ManualClock: a counter history
 * (RAPL-like: energyJoules) or a power history (battery / INA3221-like: watts). Returns it stopped,
 * and the clock's time of the newest reading.
 */
export async function filledSampler(kind) {
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

async function timeReads(label, source, samples) {
  const us = [];
  let last;
  for (let i = 0; i < samples; i++) {
    const t = performance.now();
    try {
      last = await source.read();
    } catch (error) {
      last = error;
    }
    us.push((performance.now() - t) * 1000);
  }
  const outcome = last instanceof Error ? `fails: ${last.code ?? ''} ${last.message}` : `${last.kind} ${last.watts?.toFixed(3) ?? '-'} W, ${last.source}`;
  return { label, medianUs: quantile(us, 0.5), p99Us: quantile(us, 0.99), samples, outcome };
}

async function fixture(tree) {
  const root = await mkdtemp(join(tmpdir(), 'carboncp-power-bench-'));
  for (const [path, value] of Object.entries(tree)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), `${value}\n`);
  }
  return root;
}

const HW = 'bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3';
const TREES = {
  rapl: {
    'class/powercap/intel-rapl:0/name': 'package-0',
    'class/powercap/intel-rapl:0/energy_uj': '123456789',
    'class/powercap/intel-rapl:0/max_energy_range_uj': '262143328850',
    'class/powercap/intel-rapl:0:0/name': 'core',
  },
  battery: {
    'class/power_supply/AC/type': 'Mains',
    'class/power_supply/AC/online': '0',
    'class/power_supply/BAT0/type': 'Battery',
    'class/power_supply/BAT0/status': 'Discharging',
    'class/power_supply/BAT0/power_now': '8123456',
    'class/power_supply/BAT0/energy_now': '40500000',
    'class/power_supply/BAT0/energy_full': '51300000',
    'class/power_supply/BAT0/capacity': '78',
  },
  jetson: {
    [`${HW}/in1_label`]: 'VDD_IN', [`${HW}/in1_input`]: '5080', [`${HW}/curr1_input`]: '1216',
    [`${HW}/in2_label`]: 'VDD_CPU_GPU_CV', [`${HW}/in2_input`]: '5072', [`${HW}/curr2_input`]: '384',
    [`${HW}/in3_label`]: 'VDD_SOC', [`${HW}/in3_input`]: '5072', [`${HW}/curr3_input`]: '768',
  },
};

/** Times `samples` back-to-back reads of each source; returns detection's notes and one row per source. */
export async function samplePowerSources({ samples = 200 } = {}) {
  const detected = await detectPowerSource({ model: { idleWatts: 10, activeWatts: 30, source: 'bench placeholder model (not this machine)' } });
  const rows = [
    await timeReads('detected source (this machine)', detected.source, samples),
    await timeReads('LinuxPowerSupplySource, real /sys', new LinuxPowerSupplySource(), samples),
    await timeReads('RaplSource, real /sys', new RaplSource(), samples),
    await timeReads('JetsonIna3221Source, real /sys', new JetsonIna3221Source(), samples),
  ];
  const roots = { rapl: await fixture(TREES.rapl), battery: await fixture(TREES.battery), jetson: await fixture(TREES.jetson) };
  try {
    rows.push(await timeReads('RaplSource, fixture tree (temp dir)', new RaplSource({ sysfsRoot: roots.rapl }), samples));
    rows.push(await timeReads('LinuxPowerSupplySource, fixture tree', new LinuxPowerSupplySource({ sysfsRoot: roots.battery }), samples));
    rows.push(await timeReads('JetsonIna3221Source, fixture tree', new JetsonIna3221Source({ sysfsRoot: roots.jetson }), samples));
  } finally {
    for (const root of Object.values(roots)) await rm(root, { recursive: true, force: true });
  }
  return { detection: detected.notes, rows };
}
