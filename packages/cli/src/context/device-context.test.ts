import { cpus } from 'node:os';
import { loadDeviceProfile } from '@carboncp/carbon/node';
import { ManualClock } from '@carboncp/device/node';
import { afterEach, describe, expect, it } from 'vitest';
import {
  LAPTOP_CHARGING,
  SIGNED_CURRENT_GAUGE,
  raplTree,
  writeSysfs,
  type SysfsTree,
} from '../../../device/src/node/power/sysfs-fixtures.test-support.js';
import { describeDevice, powerModelOf, readPower } from './device-context.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});
async function tree(t: SysfsTree) {
  const fixture = await writeSysfs(t);
  cleanups.push(fixture.remove);
  return fixture;
}

describe('readPower', () => {
  it('RAPL with two readings: the counter delta over the window and its rate, measured; battery from power_supply', async () => {
    const fixture = await tree({ ...LAPTOP_CHARGING, ...raplTree(1_000_000) });
    const clock = new ManualClock(0);
    // The wait between the readings: the counter moves 2.5 J while the clock moves 500 ms (no sleep).
    const wait = async (ms: number) => {
      await fixture.update('class/powercap/intel-rapl:0/energy_uj', '3500000');
      clock.busy(ms);
    };
    const power = await readPower({ sysfsRoot: fixture.root, sampleMs: 500, clock, wait });
    expect(power.windowMs).toBe(500);
    expect(power.watts).toMatchObject({ kind: 'measured', unit: 'W', source: 'rapl:package-0 over 500 ms' });
    expect(power.watts.value).toBeCloseTo(5, 9);
    expect(power.windowEnergyJ).toMatchObject({ kind: 'measured', unit: 'J', source: 'rapl:package-0 counter delta over 500 ms' });
    expect(power.windowEnergyJ.value).toBeCloseTo(2.5, 9);
    // The battery is the laptop's on AC: 40.5 / 51.3 Wh, charging, from its own layer.
    expect(power.battery.levelPercent).toMatchObject({ kind: 'measured', source: 'power_supply:BAT0', unit: '%' });
    expect(power.battery.levelPercent.value).toBeCloseTo((100 * 40.5) / 51.3, 9);
    expect(power.battery.charging).toEqual({ value: true, kind: 'measured', source: 'power_supply:BAT0' });
    expect(power.battery.externalPower).toEqual({ value: true, kind: 'measured', source: 'power_supply:BAT0' });
    expect(power.battery.fullWh).toMatchObject({ kind: 'measured', source: 'power_supply:BAT0 (full charge now)' });
    expect(power.battery.fullWh.value).toBeCloseTo(51.3, 9);
    expect(power.detection).toEqual([
      expect.stringMatching(/^jetson-ina3221: not used: CARBONCP_NOT_FOUND/),
      'linux-power-supply: used (power_supply:BAT0)',
      'rapl: used (rapl:package-0)',
      'model: none given',
    ]);
    // The battery's own reason for having no watts is kept; detection's skips are not repeated.
    expect(power.diagnostics).toEqual([expect.stringMatching(/power_supply:BAT0: on external power/)]);
  });

  it('nothing measures: the profile\'s power model, estimated, at the utilisation over the window; capacity from the profile', async () => {
    const fixture = await tree({ 'class/power_supply/.keep': '' });
    const profile = await loadDeviceProfile('framework-13-amd');
    const clock = new ManualClock(0);
    const power = await readPower({ profile, sysfsRoot: fixture.root, sampleMs: 200, clock, wait: async (ms) => clock.busy(ms) });
    expect(power.watts.kind).toBe('estimated');
    expect(power.watts.source).toMatch(/^model:cpu-utilisation \d+% \(idle 2\.7 W, active 46\.7 W; linear power model \(idle -> active\) of device profile 'framework-13-amd'\) over 200 ms$/);
    expect(power.watts.value).toBeGreaterThanOrEqual(2.7);
    expect(power.watts.value).toBeLessThanOrEqual(46.7);
    expect(power.windowEnergyJ).toMatchObject({ value: null, kind: 'unavailable', source: 'no energy counter here (RAPL gives one)' });
    expect(power.battery.levelPercent).toMatchObject({ value: null, kind: 'unavailable', source: 'no source reported a battery (see detection)' });
    expect(power.battery.fullWh).toMatchObject({ value: 61, kind: 'estimated', unit: 'Wh' });
    expect(power.battery.fullWh.source).toMatch(/^device profile 'framework-13-amd' battery.capacityWh \(estimated: TechPowerUp/);
    expect(power.detection.at(-1)).toBe("model: fallback estimate (linear power model (idle -> active) of device profile 'framework-13-amd')");
  });

  it('one reading: a gauge with capacity only, the battery\'s draw measured; no counter delta; a profile without power numbers gives no model', async () => {
    const fixture = await tree(SIGNED_CURRENT_GAUGE);
    const profile = await loadDeviceProfile('macbook-air-m1');
    expect(powerModelOf(profile)).toEqual({ why: "device profile 'macbook-air-m1' does not know its idle and active power" });
    const power = await readPower({ profile, sysfsRoot: fixture.root, sampleMs: 0 });
    expect(power.windowMs).toBe(0);
    expect(power.watts).toMatchObject({ kind: 'measured', source: 'power_supply:battery current_now*voltage_now' });
    expect(power.watts.value).toBeCloseTo(3.2895, 9);
    expect(power.battery.levelPercent).toMatchObject({ value: 64, kind: 'measured' });
    expect(power.battery.charging).toMatchObject({ value: false, kind: 'measured' });
    expect(power.battery.fullWh).toMatchObject({ value: 49.9, kind: 'estimated' });
    expect(power.windowEnergyJ).toMatchObject({ kind: 'unavailable', source: 'one reading: a counter delta needs --power-sample-ms' });
  });

  it('nothing measures and no profile: no watts, and why', async () => {
    const fixture = await tree({ 'class/power_supply/.keep': '' });
    const power = await readPower({ sysfsRoot: fixture.root, sampleMs: 0 });
    expect(power.watts).toEqual({ value: null, unit: 'W', kind: 'unavailable', source: 'nothing measured power here and no --device profile given, so no power model (see detection)' });
    expect(power.detection).toContain('model: none given');
    expect(power.diagnostics).toEqual(['no power measured and no power model given: no watts']);
  });
});

describe('describeDevice', () => {
  it('reports the host as os.cpus() and os.loadavg() give it, labelled measured', () => {
    const device = describeDevice(undefined);
    expect(device.cores).toEqual({ value: cpus().length, kind: 'measured', source: 'os.cpus().length (logical cores)' });
    expect(device.cpu.value).toBe(cpus()[0]?.model.trim() || 'unknown');
    expect(device.node.value).toBe(process.version);
    expect(device.profile).toBeNull();
    if (process.platform !== 'win32') expect(device.loadAverage.value).toHaveLength(3);
  });
});
