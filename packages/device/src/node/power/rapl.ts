import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { systemClock, type Clock } from '../../client/clock.js';
import { counterDelta, type PowerReading, type PowerSource } from '../../client/power-source.js';
import type { SysfsSourceOptions } from './linux-power-supply.js';
import { isDenied, join, listDir, readAttr, readNumber } from './sysfs.js';

interface Zone {
  dir: string;
  name: string;
  maxRangeUj: number;
  lastRawUj?: number;
  totalUj: number;
}

/**
 * Intel RAPL through the powercap sysfs (AMD Zen exposes the same `intel-rapl` zones):
 * `/sys/class/powercap/intel-rapl:N/energy_uj`, a µJ counter that wraps to 0 after
 * `max_energy_range_uj`. The top-level zones are summed (one per package), or `psys`
 * alone where the platform has it (it already covers the packages). Since the PLATYPUS fix
 * (CVE-2020-8694) energy_uj is root-only on most distributions: read() then fails with
 * CARBONCP_IO saying so, and detectPowerSource falls back.
 *
 * The reading's energyJoules is the unwrapped sum since this source's first read; watts is the
 * counter's rate since the previous read (absent on the first).
 */
export class RaplSource implements PowerSource {
  readonly name = 'rapl';
  private readonly root: string;
  private readonly clock: Clock;
  private zones: Zone[] | undefined;
  private last: { at: number; totalUj: number } | undefined;

  constructor(options: SysfsSourceOptions = {}) {
    this.root = join(options.sysfsRoot ?? '/sys', 'class', 'powercap');
    this.clock = options.clock ?? systemClock;
  }

  async read(): Promise<PowerReading> {
    let zones = this.zones;
    if (!zones) {
      zones = this.zones = await this.discover();
    }
    for (const zone of zones) {
      const path = join(zone.dir, 'energy_uj');
      let raw: number | undefined;
      try {
        raw = await readNumber(path);
      } catch (error) {
        const denied = isDenied(error);
        if (denied) {
          throw new CarboncpError(ErrorCode.IO, `RAPL ${path} is root-only (${denied.errno}): run as root, or grant read access (e.g. a udev rule or chmod o+r on energy_uj)`, {
            cause: error,
            details: { path, errno: denied.errno },
          });
        }
        throw error;
      }
      if (raw === undefined) throw new CarboncpError(ErrorCode.IO, `RAPL ${path} cannot be read`);
      if (zone.lastRawUj !== undefined) zone.totalUj += counterDelta(zone.lastRawUj, raw, zone.maxRangeUj);
      zone.lastRawUj = raw;
    }
    const at = this.clock.now();
    const totalUj = zones.reduce((s, z) => s + z.totalUj, 0);
    const reading: PowerReading = { kind: 'measured', source: `rapl:${zones.map((z) => z.name).join('+')}`, at, energyJoules: totalUj / 1e6 };
    if (this.last && at > this.last.at) reading.watts = (totalUj - this.last.totalUj) / 1e6 / ((at - this.last.at) / 1000);
    this.last = { at, totalUj };
    return reading;
  }

  private async discover(): Promise<Zone[]> {
    const zones: Zone[] = [];
    for (const entry of await listDir(this.root)) {
      // Top-level zones only (intel-rapl:0); subzones (intel-rapl:0:0, core/uncore/dram) are parts of them.
      if (!/^intel-rapl:\d+$/.test(entry)) continue;
      const dir = join(this.root, entry);
      const name = (await readAttr(join(dir, 'name'))) ?? entry;
      const maxRangeUj = await readNumber(join(dir, 'max_energy_range_uj'));
      if (maxRangeUj === undefined || !(maxRangeUj > 0)) continue;
      zones.push({ dir, name, maxRangeUj, totalUj: 0 });
    }
    if (zones.length === 0) throw new CarboncpError(ErrorCode.NOT_FOUND, `no RAPL zone under ${this.root}`);
    const psys = zones.filter((z) => z.name === 'psys');
    return psys.length > 0 ? psys : zones;
  }
}
