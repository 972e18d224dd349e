import { CarboncpError } from '@carboncp/protocol';
import { systemClock, type Clock } from '../../client/clock.js';
import type { PowerModel, PowerReading, PowerSource } from '../../client/power-source.js';
import type { CommandRunner } from './command-runner.js';
import { CpuModelSource } from './cpu-model.js';
import { JetsonIna3221Source } from './jetson-ina3221.js';
import { LinuxPowerSupplySource } from './linux-power-supply.js';
import { MacIoregSource } from './macos-ioreg.js';
import { RaplSource } from './rapl.js';
import { WindowsWmiSource } from './windows-wmi.js';

/**
 * Several sources read together: battery state from the first that reports it, power (watts
 * and energy counter) from the first measured one that has it (a laptop on mains: battery from
 * power_supply, power from RAPL), else the model's estimate. `kind` labels the power; `source`
 * names every source used. A layer that fails a read is skipped for that read, and says so.
 */
export class LayeredPowerSource implements PowerSource {
  readonly name: string;

  constructor(
    readonly layers: readonly PowerSource[],
    private readonly clock: Clock = systemClock,
    /** Carried on every reading: what detection found and skipped. */
    readonly detectionNotes: readonly string[] = [],
  ) {
    this.name = layers.map((l) => l.name).join('+') || 'none';
    const suggested = layers.map((l) => l.suggestedIntervalMs).filter((ms): ms is number => ms !== undefined);
    if (suggested.length > 0) this.suggestedIntervalMs = Math.max(...suggested);
  }

  /** The slowest layer's suggestion. */
  readonly suggestedIntervalMs?: number;

  async read(): Promise<PowerReading> {
    const diagnostics = [...this.detectionNotes];
    let battery: PowerReading | undefined;
    let power: PowerReading | undefined;
    for (const layer of this.layers) {
      if (battery && power) break;
      let reading: PowerReading;
      try {
        reading = await layer.read();
      } catch (error) {
        diagnostics.push(`${layer.name}: ${describe(error)}`);
        continue;
      }
      if (reading.diagnostics) diagnostics.push(...reading.diagnostics);
      if (!battery && reading.batteryPercent !== undefined) battery = reading;
      if (!power && (reading.watts !== undefined || reading.energyJoules !== undefined)) power = reading;
    }
    const reading: PowerReading = { kind: power?.kind ?? 'estimated', source: '', at: this.clock.now() };
    const sources: string[] = [];
    if (power) {
      sources.push(power.source);
      if (power.watts !== undefined) reading.watts = power.watts;
      if (power.energyJoules !== undefined) reading.energyJoules = power.energyJoules;
    } else {
      diagnostics.push('no power measured and no power model given: no watts');
    }
    if (battery) {
      if (battery !== power) sources.push(`battery ${battery.source}`);
      reading.batteryPercent = battery.batteryPercent!;
      if (battery.batteryFullWh !== undefined) reading.batteryFullWh = battery.batteryFullWh;
      if (battery.charging !== undefined) reading.charging = battery.charging;
      if (battery.externalPower !== undefined) reading.externalPower = battery.externalPower;
    }
    reading.source = sources.join('; ') || 'none';
    if (diagnostics.length > 0) reading.diagnostics = diagnostics;
    return reading;
  }
}

function describe(error: unknown): string {
  if (error instanceof CarboncpError) return `${error.code} ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

export interface DetectPowerSourceOptions {
  /** The device profile's power model: the estimate where nothing measures power. */
  model?: PowerModel;
  platform?: NodeJS.Platform;
  sysfsRoot?: string;
  /** Runs ioreg / PowerShell (tests replay recorded output). */
  run?: CommandRunner;
  clock?: Clock;
  cpuTimes?: ConstructorParameters<typeof CpuModelSource>[0]['cpuTimes'];
}

export interface DetectedPowerSource {
  source: LayeredPowerSource;
  /** One line per candidate: used, or why not. */
  notes: string[];
}

/**
 * Picks what works here by reading each candidate once: Linux: Jetson INA3221, then the
 * batteries in power_supply, then RAPL; macOS: ioreg; Windows: WMI BatteryStatus; the CPU
 * model (when a model is given) always last. Candidates that fail are left out and their
 * reason (RAPL root-only, no battery) is kept in the notes and in every reading's diagnostics.
 */
export async function detectPowerSource(options: DetectPowerSourceOptions = {}): Promise<DetectedPowerSource> {
  const clock = options.clock ?? systemClock;
  const platform = options.platform ?? process.platform;
  const sysfs = { clock, ...(options.sysfsRoot !== undefined ? { sysfsRoot: options.sysfsRoot } : {}) };
  const command = { clock, ...(options.run !== undefined ? { run: options.run } : {}) };
  const candidates: PowerSource[] = [];
  if (platform === 'linux') candidates.push(new JetsonIna3221Source(sysfs), new LinuxPowerSupplySource(sysfs), new RaplSource(sysfs));
  else if (platform === 'darwin') candidates.push(new MacIoregSource(command));
  else if (platform === 'win32') candidates.push(new WindowsWmiSource(command));

  const used: PowerSource[] = [];
  const notes: string[] = [];
  const skipped: string[] = [];
  for (const candidate of candidates) {
    try {
      const reading = await candidate.read();
      used.push(candidate);
      notes.push(`${candidate.name}: used (${reading.source})`);
    } catch (error) {
      const line = `${candidate.name}: not used: ${describe(error)}`;
      notes.push(line);
      skipped.push(line);
    }
  }
  if (options.model) {
    const model = new CpuModelSource({ model: options.model, clock, ...(options.cpuTimes ? { cpuTimes: options.cpuTimes } : {}) });
    used.push(model);
    notes.push(`model: fallback estimate (${options.model.source})`);
  } else {
    notes.push('model: none given');
  }
  return { source: new LayeredPowerSource(used, clock, skipped), notes };
}
