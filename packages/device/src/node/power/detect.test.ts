import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../client/clock.js';
import { PowerSampler, type PowerModel } from '../../client/power-source.js';
import { CpuModelSource, cpuTotals } from './cpu-model.js';
import { detectPowerSource } from './detect.js';
import { LAPTOP_CHARGING, LAPTOP_DISCHARGING, orinNanoTree, raplTree, writeSysfs, type SysfsTree } from './sysfs-fixtures.test-support.js';

const MODEL: PowerModel = { idleWatts: 3, activeWatts: 9, source: 'test profile' };
const core = (busy: number, idle: number) => ({ times: { user: busy, nice: 0, sys: 0, irq: 0, idle } });

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});
async function tree(t: SysfsTree) {
  const fixture = await writeSysfs(t);
  cleanups.push(fixture.remove);
  return fixture;
}

describe('CpuModelSource', () => {
  it('estimates idle + (active - idle) x utilisation from os.cpus() deltas, labelled estimated', async () => {
    const times = [[core(100, 900), core(100, 900)], [core(400, 1600), core(100, 1900)]];
    const source = new CpuModelSource({ model: MODEL, cpuTimes: () => times.shift()!, clock: new ManualClock(1) });
    // Since boot: 200 busy of 2000 = 10%: 3 + 6 x 0.1 = 3.6 W.
    const first = await source.read();
    expect(first.watts).toBeCloseTo(3.6, 9);
    expect(first.kind).toBe('estimated');
    // Delta: busy 300 of 2000 = 15%: 3.9 W.
    const second = await source.read();
    expect(second.watts).toBeCloseTo(3.9, 9);
    expect(second.source).toBe('model:cpu-utilisation 15% (idle 3 W, active 9 W; test profile)');
  });

  it('cpuTotals sums user, nice, sys and irq as busy', () => {
    expect(cpuTotals([{ times: { user: 1, nice: 2, sys: 3, irq: 4, idle: 10 } }])).toEqual({ busy: 10, total: 20 });
  });
});

describe('detectPowerSource', () => {
  it('Jetson: the INA3221 input rail, measured; RAPL and power_supply absence noted', async () => {
    const { root } = await tree(orinNanoTree(5));
    const { source, notes } = await detectPowerSource({ platform: 'linux', sysfsRoot: root, model: MODEL, clock: new ManualClock(0) });
    const reading = await source.read();
    expect(reading).toMatchObject({ kind: 'measured', source: 'jetson-ina3221:VDD_IN' });
    expect(reading.watts).toBeCloseTo(6.17728, 9);
    expect(notes[0]).toMatch(/^jetson-ina3221: used/);
    expect(notes.join('\n')).toMatch(/rapl: not used: CARBONCP_NOT_FOUND/);
  });

  it('a laptop on AC with RAPL: battery from power_supply, power from RAPL, energy counter kept', async () => {
    const fixture = await tree({ ...LAPTOP_CHARGING, ...raplTree(1_000_000) });
    const clock = new ManualClock(0);
    const { source } = await detectPowerSource({ platform: 'linux', sysfsRoot: fixture.root, model: MODEL, clock });
    clock.busy(1000);
    await fixture.update('class/powercap/intel-rapl:0/energy_uj', '8000000');
    const reading = await source.read();
    expect(reading.watts).toBeCloseTo(7, 9);
    expect(reading.energyJoules).toBeCloseTo(7, 9);
    expect(reading).toMatchObject({ kind: 'measured', source: 'rapl:package-0; battery power_supply:BAT0', charging: true, externalPower: true });
    expect(reading.batteryPercent).toBeCloseTo(78.947, 2);
    expect(reading.batteryFullWh).toBeCloseTo(51.3, 9);
  });

  it('a laptop on battery: the battery draw itself', async () => {
    const { root } = await tree(LAPTOP_DISCHARGING);
    const { source } = await detectPowerSource({ platform: 'linux', sysfsRoot: root, model: MODEL });
    const reading = await source.read();
    expect(reading.watts).toBeCloseTo(8.123456, 9);
    expect(reading.source).toBe('power_supply:BAT0 power_now');
  });

  it('nothing measurable (no battery, RAPL missing): the model, labelled estimated, with the reasons', async () => {
    const { root } = await tree({ 'class/power_supply/.keep': '' });
    const { source } = await detectPowerSource({ platform: 'linux', sysfsRoot: root, model: MODEL, cpuTimes: () => [core(50, 50)] });
    const reading = await source.read();
    expect(reading.kind).toBe('estimated');
    expect(reading.watts).toBeCloseTo(6, 9);
    expect(reading.source).toMatch(/^model:cpu-utilisation/);
    expect(reading.diagnostics?.join('\n')).toMatch(/linux-power-supply: not used: CARBONCP_NOT_FOUND no battery/);
  });

  it('nothing measurable and no model: no watts and it says so (never a silent constant)', async () => {
    const { root } = await tree({ 'class/power_supply/.keep': '' });
    const { source, notes } = await detectPowerSource({ platform: 'linux', sysfsRoot: root });
    const reading = await source.read();
    expect(reading.watts).toBeUndefined();
    expect(reading.diagnostics?.at(-1)).toMatch(/no power model given/);
    expect(notes.at(-1)).toBe('model: none given');
  });

  it('macOS and Windows: the recorded ioreg / WMI outputs through the injected runner', async () => {
    const mac = readFileSync(new URL('./testing/ioreg-intel-discharging.txt', import.meta.url), 'utf8');
    const win = readFileSync(new URL('./testing/wmi-battery-discharging.json', import.meta.url), 'utf8');
    const fromMac = await (await detectPowerSource({ platform: 'darwin', run: async () => mac, model: MODEL })).source.read();
    expect(fromMac.watts).toBeCloseTo(15.98955, 9);
    const fromWin = await (await detectPowerSource({ platform: 'win32', run: async () => win, model: MODEL })).source.read();
    expect(fromWin.watts).toBeCloseTo(9.874, 9);
  });

  it('feeds a sampler whose window energy integrates the estimate, labelled model (hand-computed)', async () => {
    const clock = new ManualClock(0);
    // Cumulative busy/idle per read: 25%, 75%, 25% utilisation: 4.5, 7.5, 4.5 W.
    const steps = [[core(25, 75)], [core(100, 100)], [core(125, 175)]];
    const { source } = await detectPowerSource({ platform: 'aix', model: MODEL, clock, cpuTimes: () => steps.shift() ?? [core(125, 175)] });
    // detection reads nothing from the model; the sampler's three samples take the three steps.
    const sampler = new PowerSampler(source, { clock, intervalMs: 1000 });
    await sampler.start();
    await clock.advance(2000);
    sampler.stop();
    // [0, 2000]: (4.5+7.5)/2 x 1 s + (7.5+4.5)/2 x 1 s = 12 J.
    expect(sampler.energy(0, 2000)).toMatchObject({ joules: 12, kind: 'estimated', method: 'model', extrapolatedMs: 0 });
  });
});
