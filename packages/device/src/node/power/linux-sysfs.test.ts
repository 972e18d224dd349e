import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '@carboncp/protocol';
import { ManualClock } from '../../client/clock.js';
import { JetsonIna3221Source } from './jetson-ina3221.js';
import { LinuxPowerSupplySource } from './linux-power-supply.js';
import { RaplSource } from './rapl.js';
import {
  AGX_ORIN,
  LAPTOP_CHARGING,
  LAPTOP_DISCHARGING,
  NANO_JETPACK4,
  orinNanoTree,
  raplTree,
  SIGNED_CURRENT_GAUGE,
  THINKPAD_TWO_BATTERIES,
  writeSysfs,
  type SysfsTree,
} from './sysfs-fixtures.test-support.js';

// Root reads any file whatever its mode, so a root-only energy_uj is simulated by failing the read
// of the paths listed here with EACCES, as the kernel does for other users.
const denied = vi.hoisted(() => new Set<string>());
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const readFile = (async (path: unknown, ...rest: unknown[]) => {
    if (denied.has(String(path))) throw Object.assign(new Error(`EACCES: permission denied, open '${String(path)}'`), { code: 'EACCES' });
    return (fs.readFile as (...a: unknown[]) => unknown)(path, ...rest);
  }) as typeof fs.readFile;
  return { ...fs, readFile, default: { ...fs, readFile } };
});

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  denied.clear();
  while (cleanups.length > 0) await cleanups.pop()!();
});
async function tree(t: SysfsTree) {
  const fixture = await writeSysfs(t);
  cleanups.push(fixture.remove);
  return fixture;
}

describe('LinuxPowerSupplySource', () => {
  it('a laptop on battery: power_now in µW, percent from energy_now/energy_full (µWh)', async () => {
    const { root } = await tree(LAPTOP_DISCHARGING);
    const reading = await new LinuxPowerSupplySource({ sysfsRoot: root, clock: new ManualClock(42) }).read();
    expect(reading.watts).toBeCloseTo(8.123456, 9);
    expect(reading.batteryPercent).toBeCloseTo((100 * 40.5) / 51.3, 9);
    // energy_full 51300000 µWh.
    expect(reading.batteryFullWh).toBeCloseTo(51.3, 9);
    expect(reading).toMatchObject({ kind: 'measured', source: 'power_supply:BAT0 power_now', at: 42, charging: false, externalPower: false });
    expect(reading.diagnostics).toBeUndefined();
  });

  it('charging on AC: battery state, no watts, and a diagnostic saying why', async () => {
    const { root } = await tree(LAPTOP_CHARGING);
    const reading = await new LinuxPowerSupplySource({ sysfsRoot: root }).read();
    expect(reading.watts).toBeUndefined();
    expect(reading).toMatchObject({ charging: true, externalPower: true });
    expect(reading.batteryPercent).toBeCloseTo(78.947, 2);
    expect(reading.diagnostics?.join()).toMatch(/external power.*not the system draw/);
  });

  it('two batteries: current_now x voltage_now and power_now summed; charge-based energy; peripheral batteries ignored', async () => {
    const { root } = await tree(THINKPAD_TWO_BATTERIES);
    const reading = await new LinuxPowerSupplySource({ sysfsRoot: root }).read();
    // 0.512 A x 12.1 V + 3.5 W.
    expect(reading.watts).toBeCloseTo(9.6952, 9);
    // (24.42 + 10) / (44.4 + 23.2) Wh.
    expect(reading.batteryPercent).toBeCloseTo(50.917159763, 6);
    // charge_full 4000000 µAh x voltage_min_design 11100000 µV = 44.4 Wh, + energy_full 23.2 Wh.
    expect(reading.batteryFullWh).toBeCloseTo(67.6, 9);
    expect(reading.source).toBe('power_supply:BAT0+BAT1 current_now*voltage_now,power_now');
  });

  it('a signed fuel-gauge current counts by magnitude; capacity gives the percent', async () => {
    const { root } = await tree(SIGNED_CURRENT_GAUGE);
    const reading = await new LinuxPowerSupplySource({ sysfsRoot: root }).read();
    expect(reading.watts).toBeCloseTo(3.2895, 9);
    expect(reading.batteryPercent).toBe(64);
    // Only capacity (%): the full energy is not known, so not reported.
    expect(reading.batteryFullWh).toBeUndefined();
    expect(reading.externalPower).toBe(false);
  });

  it('no battery (a desktop, this machine): NOT_FOUND', async () => {
    const { root } = await tree({ 'class/power_supply/AC/type': 'Mains', 'class/power_supply/AC/online': '1' });
    await expect(new LinuxPowerSupplySource({ sysfsRoot: root }).read()).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
  });
});

describe('RaplSource', () => {
  it('top-level zones only; watts from the counter rate; energy unwrapped across max_energy_range_uj', async () => {
    const max = 262143328850;
    const fixture = await tree(raplTree(262143000000, max));
    const clock = new ManualClock(0);
    const source = new RaplSource({ sysfsRoot: fixture.root, clock });
    const first = await source.read();
    expect(first).toMatchObject({ kind: 'measured', source: 'rapl:package-0', energyJoules: 0 });
    expect(first.watts).toBeUndefined();
    // 1 s later the counter wrapped: (max - 262143000000) + 500000 = 828850 µJ.
    clock.busy(1000);
    await fixture.update('class/powercap/intel-rapl:0/energy_uj', '500000');
    const second = await source.read();
    expect(second.energyJoules).toBeCloseTo(0.82885, 12);
    expect(second.watts).toBeCloseTo(0.82885, 12);
    // No wrap: +12 J in 0.5 s = 24 W; the total keeps counting past the wrap.
    clock.busy(500);
    await fixture.update('class/powercap/intel-rapl:0/energy_uj', '12500000');
    const third = await source.read();
    expect(third.energyJoules).toBeCloseTo(12.82885, 12);
    expect(third.watts).toBeCloseTo(24, 9);
  });

  it('sums packages, or reads psys alone where the platform has it', async () => {
    const two = await tree({
      ...raplTree(1_000_000),
      'class/powercap/intel-rapl:1/name': 'package-1',
      'class/powercap/intel-rapl:1/energy_uj': '5000000',
      'class/powercap/intel-rapl:1/max_energy_range_uj': '262143328850',
    });
    const clock = new ManualClock(0);
    const source = new RaplSource({ sysfsRoot: two.root, clock });
    await source.read();
    clock.busy(1000);
    await two.update('class/powercap/intel-rapl:0/energy_uj', '3000000');
    await two.update('class/powercap/intel-rapl:1/energy_uj', '9000000');
    const reading = await source.read();
    expect(reading.source).toBe('rapl:package-0+package-1');
    expect(reading.watts).toBeCloseTo(6, 9);

    const psys = await tree({
      ...raplTree(1_000_000),
      'class/powercap/intel-rapl:1/name': 'psys',
      'class/powercap/intel-rapl:1/energy_uj': '5000000',
      'class/powercap/intel-rapl:1/max_energy_range_uj': '262143328850',
    });
    expect((await new RaplSource({ sysfsRoot: psys.root }).read()).source).toBe('rapl:psys');
  });

  it('root-only energy_uj (EACCES): CARBONCP_IO saying so, with the path', async () => {
    const fixture = await tree(raplTree(1000));
    const path = `${fixture.root}/class/powercap/intel-rapl:0/energy_uj`;
    denied.add(path);
    const error = await new RaplSource({ sysfsRoot: fixture.root }).read().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.IO, details: { path, errno: 'EACCES' } });
    expect((error as Error).message).toMatch(/root-only \(EACCES\)/);
  });

  it('no powercap (a VM, this machine): NOT_FOUND', async () => {
    const { root } = await tree({ 'class/power_supply/.keep': '' });
    await expect(new RaplSource({ sysfsRoot: root }).read()).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
  });
});

describe('JetsonIna3221Source', () => {
  it('finds rails by label whatever the hwmon number, and reports the board input rail (mV x mA)', async () => {
    for (const hwmon of [1, 3, 7]) {
      const { root } = await tree(orinNanoTree(hwmon));
      const source = new JetsonIna3221Source({ sysfsRoot: root, clock: new ManualClock(5) });
      const reading = await source.read();
      expect(reading).toMatchObject({ kind: 'measured', source: 'jetson-ina3221:VDD_IN', at: 5 });
      expect(reading.watts).toBeCloseTo(6.17728, 9);
      expect(source.railsFound().map((r) => r.label).sort()).toEqual(['VDD_CPU_GPU_CV', 'VDD_IN', 'VDD_SOC']);
    }
  });

  it('AGX Orin: two sensors, NC channels skipped, no input rail: the rails summed and said so', async () => {
    const { root } = await tree(AGX_ORIN);
    const reading = await new JetsonIna3221Source({ sysfsRoot: root }).read();
    expect(reading.watts).toBeCloseTo(19.660608, 9);
    expect(reading.source).toBe('jetson-ina3221:sum(VDD_GPU_SOC+VDD_CPU_CV+VIN_SYS_5V0+VDDQ_VDD2_1V8AO)');
    expect(reading.diagnostics?.[0]).toMatch(/no board-input rail/);
  });

  it('follows the live values on every read', async () => {
    const fixture = await tree(orinNanoTree(4));
    const source = new JetsonIna3221Source({ sysfsRoot: fixture.root });
    await source.read();
    await fixture.update('bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon4/curr1_input', '2000');
    expect((await source.read()).watts).toBeCloseTo(10.16, 9);
  });

  it('JetPack 4 (ina3221x IIO driver): rail_name_N and in_powerN_input in mW', async () => {
    const { root } = await tree(NANO_JETPACK4);
    const source = new JetsonIna3221Source({ sysfsRoot: root });
    const reading = await source.read();
    expect(reading).toMatchObject({ source: 'jetson-ina3221:POM_5V_IN', watts: 3.42 });
    expect(source.railsFound().map((r) => `${r.layout}:${r.label}`).sort()).toEqual(['iio:POM_5V_CPU', 'iio:POM_5V_GPU', 'iio:POM_5V_IN']);
  });

  it('no INA3221: NOT_FOUND', async () => {
    const { root } = await tree(LAPTOP_DISCHARGING);
    await expect(new JetsonIna3221Source({ sysfsRoot: root }).read()).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
  });
});
