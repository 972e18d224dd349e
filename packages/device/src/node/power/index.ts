/** Node power sources: what detectPowerSource chooses among. */
export { detectPowerSource, LayeredPowerSource, type DetectPowerSourceOptions, type DetectedPowerSource } from './detect.js';
export { LinuxPowerSupplySource, type SysfsSourceOptions } from './linux-power-supply.js';
export { RaplSource } from './rapl.js';
export { JetsonIna3221Source } from './jetson-ina3221.js';
export { MacIoregSource, type CommandSourceOptions } from './macos-ioreg.js';
export { WindowsWmiSource } from './windows-wmi.js';
export { CpuModelSource, type CpuModelSourceOptions } from './cpu-model.js';
export { execCommand, type CommandRunner } from './command-runner.js';
export {
  PowerSampler,
  counterDelta,
  energyOverWindow,
  integratePiecewiseLinear,
  modelWatts,
  powerModelOf,
  type PowerKind,
  type PowerModel,
  type PowerReading,
  type PowerSamplerOptions,
  type PowerSource,
  type WindowEnergy,
} from '../../client/power-source.js';
