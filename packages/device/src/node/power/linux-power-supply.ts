import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { systemClock, type Clock } from '../../client/clock.js';
import type { PowerReading, PowerSource } from '../../client/power-source.js';
import { join, listDir, readAttr } from './sysfs.js';

const EXTERNAL_TYPES = new Set(['Mains', 'USB', 'USB_C', 'USB_PD', 'USB_PD_DRP', 'Wireless']);

export interface SysfsSourceOptions {
  /** Where sysfs is mounted (default '/sys'); tests point it at a fixture tree. */
  sysfsRoot?: string;
  clock?: Clock;
}

/** One battery as the kernel's power_supply class describes it, in SI units. */
export interface BatteryState {
  name: string;
  status?: string;
  watts?: number;
  /** Which attributes the watts came from. */
  wattsFrom?: 'power_now' | 'current_now*voltage_now';
  energyNowWh?: number;
  energyFullWh?: number;
  capacityPercent?: number;
}

/**
 * Batteries and mains adapters under /sys/class/power_supply. Kernel units
 * (Documentation/ABI/testing/sysfs-class-power): power µW, current µA, voltage µV, energy µWh,
 * charge µAh, capacity %. A battery's power is the system's draw only while it discharges:
 * while the device is on mains it measures the charging current (or nothing), so then the
 * reading has no watts and says why, and the caller falls back to RAPL or the model.
 */
export class LinuxPowerSupplySource implements PowerSource {
  readonly name = 'linux-power-supply';
  private readonly root: string;
  private readonly clock: Clock;

  constructor(options: SysfsSourceOptions = {}) {
    this.root = join(options.sysfsRoot ?? '/sys', 'class', 'power_supply');
    this.clock = options.clock ?? systemClock;
  }

  async read(): Promise<PowerReading> {
    const supplies = await Promise.all(
      (await listDir(this.root)).map(async (name) => {
        const dir = join(this.root, name);
        const [type, scope, present, online] = await Promise.all(['type', 'scope', 'present', 'online'].map((attr) => readAttr(join(dir, attr))));
        return { name, dir, type, scope, present, online };
      }),
    );
    const batteries: BatteryState[] = [];
    let mainsOnline: boolean | undefined;
    for (const supply of supplies) {
      if (supply.type === 'Battery') {
        // Peripheral batteries (a mouse: scope=Device) are not the device's.
        if (supply.scope === 'Device' || supply.present === '0') continue;
        batteries.push(await readBattery(supply.dir, supply.name));
      } else if (supply.type !== undefined && EXTERNAL_TYPES.has(supply.type) && supply.online !== undefined) {
        mainsOnline = (mainsOnline ?? false) || supply.online === '1';
      }
    }
    if (batteries.length === 0) {
      throw new CarboncpError(ErrorCode.NOT_FOUND, `no battery under ${this.root}`);
    }
    return summarise(batteries, mainsOnline, this.clock.now());
  }
}

const BATTERY_ATTRS = ['status', 'power_now', 'current_now', 'voltage_now', 'energy_now', 'energy_full', 'charge_now', 'charge_full', 'voltage_min_design', 'capacity'] as const;

async function readBattery(dir: string, name: string): Promise<BatteryState> {
  // All attributes at once: each read is a thread-pool round trip, and most batteries lack half of them.
  const texts = await Promise.all(BATTERY_ATTRS.map((attr) => readAttr(join(dir, attr))));
  const attrs = new Map(BATTERY_ATTRS.map((attr, i) => [attr, texts[i]]));
  const num = (attr: (typeof BATTERY_ATTRS)[number]): number | undefined => {
    const text = attrs.get(attr);
    if (text === undefined || text === '') return undefined;
    const value = Number(text);
    return Number.isFinite(value) ? value : undefined;
  };
  const state: BatteryState = { name };
  const status = attrs.get('status');
  if (status !== undefined) state.status = status;
  const powerUw = num('power_now');
  const currentUa = num('current_now');
  const voltageUv = num('voltage_now');
  if (powerUw !== undefined) {
    state.watts = Math.abs(powerUw) / 1e6;
    state.wattsFrom = 'power_now';
  } else if (currentUa !== undefined && voltageUv !== undefined) {
    // Some fuel gauges report a signed current (negative while discharging): the magnitude is the draw.
    state.watts = (Math.abs(currentUa) * voltageUv) / 1e12;
    state.wattsFrom = 'current_now*voltage_now';
  }
  const energyNow = num('energy_now');
  const energyFull = num('energy_full');
  if (energyNow !== undefined && energyFull !== undefined) {
    state.energyNowWh = energyNow / 1e6;
    state.energyFullWh = energyFull / 1e6;
  } else {
    // Charge-reporting gauges (µAh): energy = charge x the design minimum voltage (or the present voltage).
    const chargeNow = num('charge_now');
    const chargeFull = num('charge_full');
    const volts = num('voltage_min_design') ?? voltageUv;
    if (chargeNow !== undefined && chargeFull !== undefined && volts !== undefined) {
      state.energyNowWh = (chargeNow * volts) / 1e12;
      state.energyFullWh = (chargeFull * volts) / 1e12;
    }
  }
  const capacity = num('capacity');
  if (capacity !== undefined) state.capacityPercent = capacity;
  return state;
}

/** Several batteries (a ThinkPad's BAT0 and BAT1): percent weighted by energy where known, draw summed over those discharging. */
export function summarise(batteries: readonly BatteryState[], mainsOnline: boolean | undefined, at: number): PowerReading {
  const names = batteries.map((b) => b.name).join('+');
  const diagnostics: string[] = [];
  const charging = batteries.some((b) => b.status === 'Charging');
  const discharging = batteries.filter((b) => b.status === 'Discharging');
  const externalPower = mainsOnline ?? (discharging.length === 0 ? undefined : false);

  let batteryPercent: number | undefined;
  let batteryFullWh: number | undefined;
  const withEnergy = batteries.filter((b) => b.energyNowWh !== undefined && b.energyFullWh !== undefined && b.energyFullWh > 0);
  if (withEnergy.length === batteries.length) {
    const now = withEnergy.reduce((s, b) => s + b.energyNowWh!, 0);
    const full = withEnergy.reduce((s, b) => s + b.energyFullWh!, 0);
    batteryPercent = Math.min(100, (100 * now) / full);
    batteryFullWh = full;
  } else {
    const capacities = batteries.filter((b) => b.capacityPercent !== undefined);
    if (capacities.length > 0) batteryPercent = capacities.reduce((s, b) => s + b.capacityPercent!, 0) / capacities.length;
  }

  let watts: number | undefined;
  let from = '';
  if (externalPower === true || discharging.length === 0) {
    diagnostics.push(`power_supply:${names}: on external power (status ${batteries.map((b) => b.status ?? '?').join(',')}): battery power is not the system draw`);
  } else {
    const measured = discharging.filter((b) => b.watts !== undefined);
    if (measured.length === 0) {
      diagnostics.push(`power_supply:${names}: discharging but no power_now or current_now x voltage_now`);
    } else {
      watts = measured.reduce((s, b) => s + b.watts!, 0);
      from = ` ${[...new Set(measured.map((b) => b.wattsFrom))].join(',')}`;
    }
  }

  const reading: PowerReading = { kind: 'measured', source: `power_supply:${names}${from}`, at, charging };
  if (watts !== undefined) reading.watts = watts;
  if (batteryPercent !== undefined) reading.batteryPercent = batteryPercent;
  if (batteryFullWh !== undefined) reading.batteryFullWh = batteryFullWh;
  if (externalPower !== undefined) reading.externalPower = externalPower;
  if (diagnostics.length > 0) reading.diagnostics = diagnostics;
  return reading;
}
