import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@carboncp/protocol';
import { ManualClock } from '../../client/clock.js';
import type { CommandRunner } from './command-runner.js';
import { MacIoregSource, parseIoreg, signed64 } from './macos-ioreg.js';
import { WindowsWmiSource, WMI_BATTERY_SCRIPT } from './windows-wmi.js';

const recorded = (name: string) => readFileSync(new URL(`./testing/${name}`, import.meta.url), 'utf8');

/** Replays one recorded output and remembers the command line it was asked for. */
function replay(output: string | Error): CommandRunner & { calls: Array<[string, readonly string[]]> } {
  const calls: Array<[string, readonly string[]]> = [];
  const run = (async (file: string, args: readonly string[]) => {
    calls.push([file, args]);
    if (output instanceof Error) throw output;
    return output;
  }) as CommandRunner & { calls: typeof calls };
  run.calls = calls;
  return run;
}

describe('signed64', () => {
  it('reads ioreg’s unsigned print of a negative 64-bit number', () => {
    expect(signed64('18446744073709550326')).toBe(-1290);
    expect(signed64('18446744073709551615')).toBe(-1);
    expect(signed64('1843')).toBe(1843);
    expect(signed64('0')).toBe(0);
  });
});

describe('MacIoregSource', () => {
  it('an Intel Mac on battery: Voltage x |InstantAmperage|, percent from CurrentCapacity/MaxCapacity', async () => {
    const run = replay(recorded('ioreg-intel-discharging.txt'));
    const reading = await new MacIoregSource({ run, clock: new ManualClock(9) }).read();
    expect(run.calls).toEqual([['ioreg', ['-rn', 'AppleSmartBattery']]]);
    // 12.395 V x 1.290 A (InstantAmperage, not the averaged Amperage of -1322 mA).
    expect(reading.watts).toBeCloseTo(15.98955, 9);
    expect(reading.batteryPercent).toBeCloseTo((100 * 4829) / 6335, 9);
    expect(reading).toMatchObject({ kind: 'measured', source: 'ioreg:AppleSmartBattery Voltage*InstantAmperage', at: 9, charging: false, externalPower: false });
  });

  it('an Apple-silicon Mac charging on the adapter: battery state, no watts, and why', async () => {
    const reading = await new MacIoregSource({ run: replay(recorded('ioreg-apple-silicon-charging.txt')) }).read();
    expect(reading.watts).toBeUndefined();
    expect(reading).toMatchObject({ batteryPercent: 89, charging: true, externalPower: true });
    expect(reading.diagnostics?.[0]).toMatch(/not the system draw/);
  });

  it('keeps only top-level keys (the nested LegacyBatteryInfo dictionary is one value)', () => {
    const properties = parseIoreg(recorded('ioreg-intel-discharging.txt'));
    expect(properties.get('Voltage')).toBe('12395');
    expect(properties.get('ExternalConnected')).toBe(false);
    expect(properties.has('Cycle Count')).toBe(false);
  });

  it('no battery (a Mac mini prints nothing) is NOT_FOUND; a failing ioreg is IO', async () => {
    await expect(new MacIoregSource({ run: replay('') }).read()).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
    await expect(new MacIoregSource({ run: replay(new Error('spawn ioreg ENOENT')) }).read()).rejects.toMatchObject({ code: ErrorCode.IO });
  });
});

describe('WindowsWmiSource', () => {
  it('on battery: DischargeRate in mW; percent from RemainingCapacity / FullChargedCapacity (mWh)', async () => {
    const run = replay(recorded('wmi-battery-discharging.json'));
    const reading = await new WindowsWmiSource({ run, clock: new ManualClock(3) }).read();
    expect(run.calls[0]![0]).toBe('powershell.exe');
    expect(run.calls[0]![1].at(-1)).toBe(WMI_BATTERY_SCRIPT);
    expect(reading.watts).toBeCloseTo(9.874, 9);
    expect(reading.batteryPercent).toBeCloseTo((100 * 31240) / 47157, 9);
    // FullChargedCapacity 47157 mWh.
    expect(reading.batteryFullWh).toBeCloseTo(47.157, 9);
    expect(reading).toMatchObject({ kind: 'measured', source: 'wmi:BatteryStatus DischargeRate', at: 3, charging: false, externalPower: false });
  });

  it('on mains and charging: no watts (ChargeRate is not the system draw), and why', async () => {
    const reading = await new WindowsWmiSource({ run: replay(recorded('wmi-battery-charging.json')) }).read();
    expect(reading.watts).toBeUndefined();
    expect(reading.batteryPercent).toBeCloseTo((100 * 20113) / 26486, 9);
    expect(reading).toMatchObject({ charging: true, externalPower: true });
    expect(reading.diagnostics?.[0]).toMatch(/PowerOnline/);
  });

  it('two batteries: rates summed, capacities summed before the ratio', async () => {
    const reading = await new WindowsWmiSource({ run: replay(recorded('wmi-battery-two.json')) }).read();
    expect(reading.watts).toBeCloseTo(7.6, 9);
    expect(reading.batteryPercent).toBeCloseTo((100 * 27000) / 45000, 9);
    expect(reading.batteryFullWh).toBeCloseTo(45, 9);
  });

  it('a desktop (no instance), output that is not JSON, a failing PowerShell: coded errors', async () => {
    await expect(new WindowsWmiSource({ run: replay('{"status":[],"full":[]}') }).read()).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
    await expect(new WindowsWmiSource({ run: replay('Get-CimInstance : Not supported') }).read()).rejects.toMatchObject({ code: ErrorCode.IO });
    await expect(new WindowsWmiSource({ run: replay(new Error('spawn powershell.exe ENOENT')) }).read()).rejects.toMatchObject({ code: ErrorCode.IO });
  });
});
