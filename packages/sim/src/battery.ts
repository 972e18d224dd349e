import type { DeviceProfile } from '@carboncp/carbon';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { SimulationOptions } from './options.js';

const HOUR_MS = 3_600_000;
const J_PER_WH = 3600;

/** The resolved battery settings (null capacity: a mains-powered device). */
export interface BatterySettings {
  capacityJ: number | null;
  startPercent: number;
  plugged: readonly [number, number] | null;
  chargeW: number;
  backgroundW: number;
}

export function batterySettings(device: DeviceProfile, options: SimulationOptions['battery'] = {}): BatterySettings {
  const wh = device.battery?.capacityWh.value ?? null;
  const startPercent = options.startPercent ?? 100;
  const plugged = options.pluggedHoursUtc === undefined ? ([22, 6] as const) : options.pluggedHoursUtc;
  const chargeW = options.chargeW ?? 10;
  const backgroundW = options.backgroundW ?? 0;
  if (!(startPercent >= 0 && startPercent <= 100)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `battery.startPercent must be in [0, 100], got ${startPercent}`);
  if (plugged && !plugged.every((h) => Number.isFinite(h) && h >= 0 && h <= 24)) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `battery.pluggedHoursUtc must be two hours in [0, 24], got ${JSON.stringify(plugged)}`);
  }
  if (!(chargeW >= 0) || !(backgroundW >= 0)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'battery.chargeW and battery.backgroundW must be >= 0 W');
  return { capacityJ: wh === null ? null : wh * J_PER_WH, startPercent, plugged, chargeW, backgroundW };
}

/** Whether the device is plugged in at epoch ms t (hours [from, to) UTC, wrapping midnight when to < from). */
export function pluggedAt(plugged: readonly [number, number] | null, t: number): boolean {
  if (!plugged) return false;
  const hour = (((t / HOUR_MS) % 24) + 24) % 24;
  const [from, to] = plugged;
  return from <= to ? hour >= from && hour < to : hour >= from || hour < to;
}

/**
 * One policy's battery: drained by the energy of the requests it chose and by the background
 * draw, charged while plugged in. Between two events the state of the earlier one holds (at a
 * request a minute the error of that is a minute of charging at most, per switch).
 */
export class Battery {
  percent: number;
  private lastMs: number;
  private plugged: boolean;

  constructor(
    private readonly s: BatterySettings & { capacityJ: number },
    startMs: number,
  ) {
    this.percent = s.startPercent;
    this.lastMs = startMs;
    this.plugged = pluggedAt(s.plugged, startMs);
  }

  /** Moves the clock to t: background draw, and charging if plugged since the last event. */
  advance(t: number): void {
    const seconds = (t - this.lastMs) / 1000;
    if (seconds > 0) {
      const watts = (this.plugged ? this.s.chargeW : 0) - this.s.backgroundW;
      this.percent = clampPercent(this.percent + (100 * watts * seconds) / this.s.capacityJ);
    }
    this.lastMs = t;
    this.plugged = pluggedAt(this.s.plugged, t);
  }

  drain(joules: number): void {
    this.percent = clampPercent(this.percent - (100 * joules) / this.s.capacityJ);
  }

  get isPlugged(): boolean {
    return this.plugged;
  }
}

function clampPercent(p: number): number {
  return p < 0 ? 0 : p > 100 ? 100 : p;
}
