import { loadavg, platform } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { powerModelSource, type DeviceProfile } from '@carboncp/carbon';
import { describeHost } from '@carboncp/core/node';
import { detectPowerSource, type Clock, type CommandRunner, type PowerModel, type PowerReading } from '@carboncp/device/node';
import { item, unavailable, type Item } from './context-item.js';

export interface DeviceSection {
  cpu: Item<string>;
  cores: Item<number>;
  os: Item<string>;
  node: Item<string>;
  /** 1, 5 and 15 minute load averages. */
  loadAverage: Item<number[]>;
  /** The device profile given with --device, whose numbers the estimates rest on. */
  profile: { id: string; name: string; class: string } | null;
}

export interface PowerSection {
  /** The device's draw: measured by the first source that has it, else the profile's model, else unavailable. */
  watts: Item<number>;
  /** Energy over the window between the two readings, from a counter (RAPL) where one exists. */
  windowEnergyJ: Item<number>;
  battery: { levelPercent: Item<number>; charging: Item<boolean>; externalPower: Item<boolean>; fullWh: Item<number> };
  /** Milliseconds between the two readings (0: one reading). */
  windowMs: number;
  /** detectPowerSource's notes: each candidate, used or why not. */
  detection: string[];
  /** What the reading itself says was skipped and why. */
  diagnostics: string[];
}

export interface PowerOptions {
  profile?: DeviceProfile;
  /** Where sysfs is mounted (default /sys); given, the Linux sources are the ones tried. */
  sysfsRoot?: string;
  /** Two readings this far apart (a counter's delta, utilisation over the window); 0: one reading. */
  sampleMs: number;
  /** Tests: the platform, a clock, a wait that moves it, recorded command output. */
  platform?: NodeJS.Platform;
  clock?: Clock;
  wait?: (ms: number) => Promise<void>;
  run?: CommandRunner;
}

export function describeDevice(profile: DeviceProfile | undefined): DeviceSection {
  const host = describeHost();
  const load = loadavg();
  return {
    cpu: item(host.cpu, 'measured', 'os.cpus()[0].model'),
    cores: item(host.cores, 'measured', 'os.cpus().length (logical cores)'),
    os: item(host.os, 'measured', 'os.platform() os.release() os.arch()'),
    node: item(process.version, 'measured', 'process.version'),
    loadAverage:
      platform() === 'win32'
        ? unavailable('os.loadavg() is always 0 on Windows')
        : item(load.map((x) => Math.round(x * 100) / 100), 'measured', 'os.loadavg() (1, 5, 15 min)'),
    profile: profile ? { id: profile.id, name: profile.name, class: profile.class } : null,
  };
}

/** The profile's idle and active watts as the power sources' model, or why there is none. */
export function powerModelOf(profile: DeviceProfile | undefined): { model?: PowerModel; why?: string } {
  if (!profile) return { why: 'no --device profile given, so no power model' };
  const { idleW, activeW } = profile.power;
  if (idleW.value === null || activeW.value === null) return { why: `device profile '${profile.id}' does not know its idle and active power` };
  return { model: { idleWatts: idleW.value, activeWatts: activeW.value, source: powerModelSource(profile) } };
}

/**
 * LayeredPowerSource names its power source first and a battery from another layer after
 * `; battery ` (sources themselves may contain '; '): each item carries the part that is its own.
 */
function sourcesOf(reading: PowerReading): { power: string; battery: string } {
  const marker = '; battery ';
  if (reading.source.startsWith('battery ')) return { power: reading.source, battery: reading.source.slice('battery '.length) };
  const at = reading.source.lastIndexOf(marker);
  if (at === -1) return { power: reading.source, battery: reading.source };
  return { power: reading.source.slice(0, at), battery: reading.source.slice(at + marker.length) };
}

/**
 * One sample of the device's power and battery, as a PowerSampler would take it: detection
 * reads every candidate once, then the chosen sources are read (twice, sampleMs apart, when
 * asked: a counter's rate and the CPU utilisation are then over that window).
 */
export async function readPower(options: PowerOptions): Promise<PowerSection> {
  const { model, why: noModel } = powerModelOf(options.profile);
  const platformName = options.platform ?? (options.sysfsRoot !== undefined ? 'linux' : undefined);
  const { source, notes } = await detectPowerSource({
    ...(model ? { model } : {}),
    ...(platformName ? { platform: platformName } : {}),
    ...(options.sysfsRoot !== undefined ? { sysfsRoot: options.sysfsRoot } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.run ? { run: options.run } : {}),
  });
  const first = await source.read();
  let reading = first;
  if (options.sampleMs > 0) {
    await (options.wait ?? ((ms: number) => sleep(ms)))(options.sampleMs);
    reading = await source.read();
  }
  const windowMs = Math.round((reading.at - first.at) * 1000) / 1000;
  const sources = sourcesOf(reading);
  // Every reading repeats detection's reasons for skipping a source; they are listed once, in `detection`.
  const diagnostics = (reading.diagnostics ?? []).filter((line) => !notes.includes(line));
  const windowNote = options.sampleMs > 0 ? ` over ${windowMs.toFixed(0)} ms` : '';

  let watts: Item<number>;
  // A counter's rate and the model's utilisation span the window; an instantaneous sensor's watts do not.
  const overWindow = reading.energyJoules !== undefined || reading.kind === 'estimated';
  if (reading.watts !== undefined) watts = item(reading.watts, reading.kind, `${sources.power}${overWindow ? windowNote : ''}`, 'W');
  else watts = unavailable(`nothing measured power here and ${noModel ?? 'the power model gave none'} (see detection)`, 'W');
  if (options.sampleMs === 0 && reading.watts !== undefined && overWindow) {
    // One reading: a counter's rate spans the gap since detection read it, the model's utilisation the time since boot.
    watts.source += reading.energyJoules !== undefined ? ' (rate since detection: pass --power-sample-ms for a window)' : ' (CPU utilisation since boot: pass --power-sample-ms for a window)';
  }

  let windowEnergyJ: Item<number>;
  if (reading !== first && first.energyJoules !== undefined && reading.energyJoules !== undefined) {
    windowEnergyJ = item(reading.energyJoules - first.energyJoules, 'measured', `${sources.power} counter delta${windowNote}`, 'J');
  } else {
    windowEnergyJ = unavailable(options.sampleMs > 0 ? 'no energy counter here (RAPL gives one)' : 'one reading: a counter delta needs --power-sample-ms', 'J');
  }
  return { watts, windowEnergyJ, battery: battery(reading, sources.battery, options.profile), windowMs, detection: notes, diagnostics };
}

function battery(reading: PowerReading, source: string, profile: DeviceProfile | undefined): PowerSection['battery'] {
  const noBattery =
    reading.batteryPercent === undefined
      ? profile?.battery === null
        ? `no battery found, and device profile '${profile.id}' has none`
        : 'no source reported a battery (see detection)'
      : 'the battery source does not report it';
  const capacity = profile?.battery?.capacityWh;
  const fullWh =
    reading.batteryFullWh !== undefined
      ? item(reading.batteryFullWh, 'measured', `${source} (full charge now)`, 'Wh')
      : capacity && capacity.value !== null
        ? item(capacity.value, 'estimated', `device profile '${profile!.id}' battery.capacityWh (${capacity.kind}: ${capacity.source})`, 'Wh')
        : unavailable(noBattery, 'Wh');
  return {
    levelPercent: reading.batteryPercent !== undefined ? item(reading.batteryPercent, 'measured', source, '%') : unavailable(noBattery, '%'),
    charging: reading.charging !== undefined && reading.batteryPercent !== undefined ? item(reading.charging, 'measured', source) : unavailable(noBattery),
    externalPower: reading.externalPower !== undefined ? item(reading.externalPower, 'measured', source) : unavailable(noBattery),
    fullWh,
  };
}
