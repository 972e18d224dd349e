import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { systemClock, type Clock } from '../../client/clock.js';
import type { PowerReading, PowerSource } from '../../client/power-source.js';
import { execCommand, type CommandRunner } from './command-runner.js';

export interface CommandSourceOptions {
  run?: CommandRunner;
  clock?: Clock;
}

const TWO_63 = 1n << 63n;
const TWO_64 = 1n << 64n;

/**
 * ioreg prints signed 64-bit registry numbers as unsigned: a discharging battery's
 * InstantAmperage of -1290 mA shows as 18446744073709550326.
 */
export function signed64(text: string): number {
  const value = BigInt(text);
  return Number(value >= TWO_63 ? value - TWO_64 : value);
}

/** The top-level `"Key" = value` lines of `ioreg -rn AppleSmartBattery` (numbers kept as text, Yes/No as booleans). */
export function parseIoreg(output: string): Map<string, string | boolean> {
  const properties = new Map<string, string | boolean>();
  for (const line of output.split('\n')) {
    const match = /^\s*\|?\s*"([A-Za-z0-9_]+)" = (.*)$/.exec(line);
    if (!match) continue;
    const value = match[2]!.trim();
    properties.set(match[1]!, value === 'Yes' ? true : value === 'No' ? false : value);
  }
  return properties;
}

function integer(properties: Map<string, string | boolean>, key: string): number | undefined {
  const value = properties.get(key);
  return typeof value === 'string' && /^-?\d+$/.test(value) ? signed64(value) : undefined;
}

/**
 * A Mac's battery through `ioreg -rn AppleSmartBattery`: Voltage (mV) x InstantAmperage (mA,
 * negative while discharging) is the battery's power, which is the system's draw while on
 * battery. On an adapter (ExternalConnected) it is the charging power, so the reading then has
 * no watts and says why. Percent: CurrentCapacity / MaxCapacity (mAh on Intel Macs, both
 * percent-scaled on Apple silicon: the ratio is right either way).
 */
export class MacIoregSource implements PowerSource {
  readonly name = 'ioreg';
  /** Each read starts ioreg (tens of ms); the gauge's InstantAmperage refreshes about once a second. */
  readonly suggestedIntervalMs = 5_000;
  private readonly run: CommandRunner;
  private readonly clock: Clock;

  constructor(options: CommandSourceOptions = {}) {
    this.run = options.run ?? execCommand();
    this.clock = options.clock ?? systemClock;
  }

  async read(): Promise<PowerReading> {
    let output: string;
    try {
      output = await this.run('ioreg', ['-rn', 'AppleSmartBattery']);
    } catch (error) {
      throw new CarboncpError(ErrorCode.IO, 'ioreg -rn AppleSmartBattery failed', { cause: error });
    }
    return readingFromIoreg(parseIoreg(output), this.clock.now());
  }
}

export function readingFromIoreg(properties: Map<string, string | boolean>, at: number): PowerReading {
  const voltageMv = integer(properties, 'Voltage');
  if (voltageMv === undefined) throw new CarboncpError(ErrorCode.NOT_FOUND, 'ioreg: no AppleSmartBattery (no Voltage)');
  const amperageMa = integer(properties, 'InstantAmperage') ?? integer(properties, 'Amperage');
  const current = integer(properties, 'CurrentCapacity');
  const max = integer(properties, 'MaxCapacity');
  const external = properties.get('ExternalConnected');
  const charging = properties.get('IsCharging');
  const reading: PowerReading = { kind: 'measured', source: 'ioreg:AppleSmartBattery', at };
  if (typeof charging === 'boolean') reading.charging = charging;
  if (typeof external === 'boolean') reading.externalPower = external;
  if (current !== undefined && max !== undefined && max > 0) reading.batteryPercent = Math.min(100, (100 * current) / max);
  if (external === true) {
    reading.diagnostics = ['ioreg: on the adapter (ExternalConnected): battery power is not the system draw'];
  } else if (amperageMa === undefined) {
    reading.diagnostics = ['ioreg: no InstantAmperage or Amperage'];
  } else {
    reading.watts = (voltageMv * Math.abs(amperageMa)) / 1e6;
    reading.source = 'ioreg:AppleSmartBattery Voltage*InstantAmperage';
  }
  return reading;
}
