import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { systemClock, type Clock } from '../../client/clock.js';
import type { PowerReading, PowerSource } from '../../client/power-source.js';
import { execCommand, type CommandRunner } from './command-runner.js';
import type { CommandSourceOptions } from './macos-ioreg.js';

/**
 * One PowerShell call for both root\wmi classes: BatteryStatus (rates in mW, capacity in mWh)
 * and BatteryFullChargedCapacity (mWh) for the percentage. @() keeps one battery a JSON array.
 */
export const WMI_BATTERY_SCRIPT =
  "$s = @(Get-CimInstance -Namespace root/wmi -ClassName BatteryStatus | Select-Object InstanceName,PowerOnline,Charging,Discharging,ChargeRate,DischargeRate,RemainingCapacity,Voltage); " +
  '$f = @(Get-CimInstance -Namespace root/wmi -ClassName BatteryFullChargedCapacity | Select-Object InstanceName,FullChargedCapacity); ' +
  'ConvertTo-Json -Compress -Depth 3 -InputObject @{ status = $s; full = $f }';

interface WmiStatus {
  InstanceName?: string;
  PowerOnline?: boolean;
  Charging?: boolean;
  Discharging?: boolean;
  ChargeRate?: number;
  DischargeRate?: number;
  RemainingCapacity?: number;
  Voltage?: number;
}

/**
 * A Windows battery through WMI's root\wmi BatteryStatus, read with PowerShell's
 * Get-CimInstance: DischargeRate (mW) is the system's draw while discharging; on mains
 * (PowerOnline) the reading has no watts and says why. Several batteries are summed.
 */
export class WindowsWmiSource implements PowerSource {
  readonly name = 'wmi';
  /** Each read starts PowerShell (a few hundred ms of CPU); the firmware refreshes the rate every few seconds anyway. */
  readonly suggestedIntervalMs = 15_000;
  private readonly run: CommandRunner;
  private readonly clock: Clock;

  constructor(options: CommandSourceOptions = {}) {
    this.run = options.run ?? execCommand(10_000);
    this.clock = options.clock ?? systemClock;
  }

  async read(): Promise<PowerReading> {
    let output: string;
    try {
      output = await this.run('powershell.exe', ['-NoProfile', '-NonInteractive', '-Command', WMI_BATTERY_SCRIPT]);
    } catch (error) {
      throw new CarboncpError(ErrorCode.IO, 'PowerShell Get-CimInstance root/wmi BatteryStatus failed', { cause: error });
    }
    return readingFromWmi(output, this.clock.now());
  }
}

export function readingFromWmi(output: string, at: number): PowerReading {
  let parsed: { status?: WmiStatus[] | WmiStatus; full?: Array<{ InstanceName?: string; FullChargedCapacity?: number }> | { InstanceName?: string; FullChargedCapacity?: number } };
  try {
    parsed = JSON.parse(output);
  } catch (error) {
    throw new CarboncpError(ErrorCode.IO, 'BatteryStatus: PowerShell printed no JSON', { cause: error });
  }
  const status = ([] as WmiStatus[]).concat(parsed.status ?? []);
  const full = ([] as Array<{ InstanceName?: string; FullChargedCapacity?: number }>).concat(parsed.full ?? []);
  if (status.length === 0) throw new CarboncpError(ErrorCode.NOT_FOUND, 'WMI: no BatteryStatus instance (no battery)');
  const reading: PowerReading = { kind: 'measured', source: 'wmi:BatteryStatus', at };
  const online = status.some((s) => s.PowerOnline === true);
  reading.externalPower = online;
  reading.charging = status.some((s) => s.Charging === true);
  const remaining = status.reduce((sum, s) => sum + (s.RemainingCapacity ?? 0), 0);
  const fullTotal = status.reduce((sum, s) => sum + (full.find((f) => f.InstanceName === s.InstanceName)?.FullChargedCapacity ?? 0), 0);
  if (fullTotal > 0) {
    reading.batteryPercent = Math.min(100, (100 * remaining) / fullTotal);
    reading.batteryFullWh = fullTotal / 1000;
  }
  const discharging = status.filter((s) => s.Discharging === true && typeof s.DischargeRate === 'number' && s.DischargeRate > 0);
  if (online) {
    reading.diagnostics = ['wmi: on mains (PowerOnline): battery rate is not the system draw'];
  } else if (discharging.length === 0) {
    reading.diagnostics = ['wmi: on battery but no DischargeRate reported'];
  } else {
    reading.watts = discharging.reduce((sum, s) => sum + s.DischargeRate!, 0) / 1000;
    reading.source = 'wmi:BatteryStatus DischargeRate';
  }
  return reading;
}
