import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * sysfs trees as the kernel lays them out, one attribute file per entry (path under /sys ->
 * contents, with the kernel's trailing newline). Values are in the kernel's units; the
 * comments give the numbers the tests expect.
 */
export type SysfsTree = Record<string, string>;

/** A laptop on battery: BAT0 reports power_now (µW) and energy (µWh); AC offline. 8.123456 W, 40.5/51.3 Wh = 78.947%. */
export const LAPTOP_DISCHARGING: SysfsTree = {
  'class/power_supply/AC/type': 'Mains',
  'class/power_supply/AC/online': '0',
  'class/power_supply/BAT0/type': 'Battery',
  'class/power_supply/BAT0/present': '1',
  'class/power_supply/BAT0/status': 'Discharging',
  'class/power_supply/BAT0/power_now': '8123456',
  'class/power_supply/BAT0/voltage_now': '11880000',
  'class/power_supply/BAT0/energy_now': '40500000',
  'class/power_supply/BAT0/energy_full': '51300000',
  'class/power_supply/BAT0/energy_full_design': '57000000',
  'class/power_supply/BAT0/capacity': '78',
};

/** The same laptop charging on AC: no system draw from the battery. */
export const LAPTOP_CHARGING: SysfsTree = {
  ...LAPTOP_DISCHARGING,
  'class/power_supply/AC/online': '1',
  'class/power_supply/BAT0/status': 'Charging',
  'class/power_supply/BAT0/power_now': '25010000',
};

/**
 * A ThinkPad with two batteries, both discharging (the firmware drains BAT1 first but both may
 * report a rate). BAT0: current_now 512000 µA x voltage_now 12100000 µV = 6.1952 W, charge-based
 * (charge_now 2200000 µAh, charge_full 4000000 µAh, voltage_min_design 11100000 µV:
 * 24.42 / 44.4 Wh); BAT1: power_now 3500000 µW, energy 10000000 / 23200000 µWh.
 * Sum: 9.6952 W; percent (24.42 + 10) / (44.4 + 23.2) = 50.9172%.
 */
export const THINKPAD_TWO_BATTERIES: SysfsTree = {
  'class/power_supply/AC/type': 'Mains',
  'class/power_supply/AC/online': '0',
  'class/power_supply/BAT0/type': 'Battery',
  'class/power_supply/BAT0/status': 'Discharging',
  'class/power_supply/BAT0/current_now': '512000',
  'class/power_supply/BAT0/voltage_now': '12100000',
  'class/power_supply/BAT0/charge_now': '2200000',
  'class/power_supply/BAT0/charge_full': '4000000',
  'class/power_supply/BAT0/voltage_min_design': '11100000',
  'class/power_supply/BAT0/capacity': '55',
  'class/power_supply/BAT1/type': 'Battery',
  'class/power_supply/BAT1/status': 'Discharging',
  'class/power_supply/BAT1/power_now': '3500000',
  'class/power_supply/BAT1/energy_now': '10000000',
  'class/power_supply/BAT1/energy_full': '23200000',
  'class/power_supply/BAT1/capacity': '43',
  // A wireless mouse's battery: scope Device, not the computer's.
  'class/power_supply/hidpp_battery_0/type': 'Battery',
  'class/power_supply/hidpp_battery_0/scope': 'Device',
  'class/power_supply/hidpp_battery_0/status': 'Discharging',
  'class/power_supply/hidpp_battery_0/capacity': '90',
};

/**
 * A phone-style fuel gauge with a signed current (negative while discharging) and only capacity:
 * |-850000 µA| x 3870000 µV = 3.2895 W, 64%.
 */
export const SIGNED_CURRENT_GAUGE: SysfsTree = {
  'class/power_supply/usb/type': 'USB',
  'class/power_supply/usb/online': '0',
  'class/power_supply/battery/type': 'Battery',
  'class/power_supply/battery/status': 'Discharging',
  'class/power_supply/battery/current_now': '-850000',
  'class/power_supply/battery/voltage_now': '3870000',
  'class/power_supply/battery/capacity': '64',
};

/** A desktop or server: no battery, RAPL readable. Package 0 only (with its core and dram subzones). */
export function raplTree(energyUj: number, maxRangeUj = 262143328850): SysfsTree {
  return {
    'class/powercap/intel-rapl/enabled': '1',
    'class/powercap/intel-rapl:0/name': 'package-0',
    'class/powercap/intel-rapl:0/energy_uj': String(energyUj),
    'class/powercap/intel-rapl:0/max_energy_range_uj': String(maxRangeUj),
    'class/powercap/intel-rapl:0/enabled': '1',
    'class/powercap/intel-rapl:0:0/name': 'core',
    'class/powercap/intel-rapl:0:0/energy_uj': String(Math.floor(energyUj / 2)),
    'class/powercap/intel-rapl:0:0/max_energy_range_uj': String(maxRangeUj),
    'class/powercap/intel-rapl:0:1/name': 'dram',
    'class/powercap/intel-rapl:0:1/energy_uj': '1000',
    'class/powercap/intel-rapl:0:1/max_energy_range_uj': String(maxRangeUj),
  };
}

/**
 * Jetson Orin Nano (JetPack 5/6, mainline ina3221 hwmon driver): one sensor at 1-0040, rails
 * VDD_IN, VDD_CPU_GPU_CV, VDD_SOC; in{N}_input mV, curr{N}_input mA. `hwmon` is the number the
 * kernel happened to give it this boot. VDD_IN: 5080 mV x 1216 mA = 6.17728 W.
 */
export function orinNanoTree(hwmon: number): SysfsTree {
  const dir = `bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon${hwmon}`;
  return {
    [`${dir}/name`]: 'ina3221',
    [`${dir}/in1_label`]: 'VDD_IN',
    [`${dir}/in1_input`]: '5080',
    [`${dir}/curr1_input`]: '1216',
    [`${dir}/curr1_crit`]: '5000',
    [`${dir}/in2_label`]: 'VDD_CPU_GPU_CV',
    [`${dir}/in2_input`]: '5072',
    [`${dir}/curr2_input`]: '384',
    [`${dir}/in3_label`]: 'VDD_SOC',
    [`${dir}/in3_input`]: '5072',
    [`${dir}/curr3_input`]: '768',
    // Shunt voltages (µV) and the summation channel: no labels, not rails.
    [`${dir}/in4_input`]: '9728',
    [`${dir}/in5_input`]: '3072',
    [`${dir}/in6_input`]: '6144',
    [`${dir}/in7_input`]: '18944',
  };
}

/**
 * Jetson AGX Orin: two sensors, no board-input rail. 1-0040: VDD_GPU_SOC 5072 mV x 1968 mA,
 * VDD_CPU_CV 5072 mV x 592 mA, VIN_SYS_5V0 5056 mV x 1024 mA; 1-0041: NC, VDDQ_VDD2_1V8AO
 * 5064 mV x 296 mA, NC. Sum: 9.981696 + 3.002624 + 5.177344 + 1.498944 = 19.660608 W.
 */
export const AGX_ORIN: SysfsTree = {
  'bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon2/in1_label': 'VDD_GPU_SOC',
  'bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon2/in1_input': '5072',
  'bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon2/curr1_input': '1968',
  'bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon2/in2_label': 'VDD_CPU_CV',
  'bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon2/in2_input': '5072',
  'bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon2/curr2_input': '592',
  'bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon2/in3_label': 'VIN_SYS_5V0',
  'bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon2/in3_input': '5056',
  'bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon2/curr3_input': '1024',
  'bus/i2c/drivers/ina3221/1-0041/hwmon/hwmon3/in1_label': 'NC',
  'bus/i2c/drivers/ina3221/1-0041/hwmon/hwmon3/in1_input': '0',
  'bus/i2c/drivers/ina3221/1-0041/hwmon/hwmon3/curr1_input': '0',
  'bus/i2c/drivers/ina3221/1-0041/hwmon/hwmon3/in2_label': 'VDDQ_VDD2_1V8AO',
  'bus/i2c/drivers/ina3221/1-0041/hwmon/hwmon3/in2_input': '5064',
  'bus/i2c/drivers/ina3221/1-0041/hwmon/hwmon3/curr2_input': '296',
  'bus/i2c/drivers/ina3221/1-0041/hwmon/hwmon3/in3_label': 'NC',
};

/**
 * Jetson Nano on JetPack 4 (L4T ina3221x IIO driver, as read by energymon and the Nano power
 * scripts): 6-0040/iio:device0, rail_name_{0,1,2} = POM_5V_IN, POM_5V_GPU, POM_5V_CPU,
 * in_power{N}_input mW. POM_5V_IN: 3420 mW.
 */
export const NANO_JETPACK4: SysfsTree = {
  'bus/i2c/drivers/ina3221x/6-0040/iio:device0/rail_name_0': 'POM_5V_IN',
  'bus/i2c/drivers/ina3221x/6-0040/iio:device0/in_power0_input': '3420',
  'bus/i2c/drivers/ina3221x/6-0040/iio:device0/in_current0_input': '684',
  'bus/i2c/drivers/ina3221x/6-0040/iio:device0/in_voltage0_input': '5000',
  'bus/i2c/drivers/ina3221x/6-0040/iio:device0/rail_name_1': 'POM_5V_GPU',
  'bus/i2c/drivers/ina3221x/6-0040/iio:device0/in_power1_input': '158',
  'bus/i2c/drivers/ina3221x/6-0040/iio:device0/rail_name_2': 'POM_5V_CPU',
  'bus/i2c/drivers/ina3221x/6-0040/iio:device0/in_power2_input': '1190',
};

/** Writes a tree under a fresh temp dir; returns its root and a remover. */
export async function writeSysfs(tree: SysfsTree): Promise<{ root: string; update(path: string, value: string): Promise<void>; remove(): Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'carboncp-sysfs-'));
  const put = async (path: string, value: string) => {
    const file = join(root, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, `${value}\n`);
  };
  for (const [path, value] of Object.entries(tree)) await put(path, value);
  return { root, update: put, remove: () => rm(root, { recursive: true, force: true }) };
}
