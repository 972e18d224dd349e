import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { systemClock, type Clock } from '../../client/clock.js';
import type { PowerReading, PowerSource } from '../../client/power-source.js';
import type { SysfsSourceOptions } from './linux-power-supply.js';
import { join, listDir, readAttr, readNumber, SysfsDenied } from './sysfs.js';

/** One INA3221 channel, found by its label. */
export interface Rail {
  label: string;
  /** Directory holding in{N}_input / curr{N}_input. */
  dir: string;
  channel: number;
}

/** Labels of the board-input rail: the whole module's draw where the board has one (energymon, jtop). */
const INPUT_RAILS = ['VDD_IN', 'POM_5V_IN', '5V_IN'];

/**
 * NVIDIA Jetson's INA3221 power monitors through the mainline hwmon driver (JetPack 5 and 6):
 * `/sys/bus/i2c/drivers/ina3221/<bus>-<addr>/hwmon/hwmonK/in{N}_label` names channel N,
 * `in{N}_input` is its bus voltage in mV and `curr{N}_input` its current in mA. K changes
 * between boots, so rails are found by label, never by number. Channels labelled `NC` are not
 * connected. Where a board-input rail exists (VDD_IN on Orin Nano/NX) it is the device's power;
 * otherwise (AGX Orin) the rails are summed and the source says so.
 */
export class JetsonIna3221Source implements PowerSource {
  readonly name = 'jetson-ina3221';
  private readonly root: string;
  private readonly clock: Clock;
  private rails: Rail[] | undefined;

  constructor(options: SysfsSourceOptions = {}) {
    this.root = join(options.sysfsRoot ?? '/sys', 'bus', 'i2c', 'drivers');
    this.clock = options.clock ?? systemClock;
  }

  async read(): Promise<PowerReading> {
    try {
      return await this.readRails();
    } catch (error) {
      if (error instanceof SysfsDenied) throw new CarboncpError(ErrorCode.IO, `INA3221 ${error.path}: ${error.errno}`, { cause: error });
      throw error;
    }
  }

  /** The rails found (after the first read). */
  railsFound(): readonly Rail[] {
    return this.rails ?? [];
  }

  private async readRails(): Promise<PowerReading> {
    const rails = this.rails ?? (this.rails = await this.discover());
    const values = await Promise.all(
      rails.flatMap((rail) => [readNumber(join(rail.dir, `in${rail.channel}_input`)), readNumber(join(rail.dir, `curr${rail.channel}_input`))]),
    );
    const watts = new Map<string, number>();
    rails.forEach((rail, i) => {
      const mv = values[2 * i];
      const ma = values[2 * i + 1];
      if (mv !== undefined && ma !== undefined) watts.set(rail.label, (mv * ma) / 1e6);
    });
    if (watts.size === 0) throw new CarboncpError(ErrorCode.IO, `INA3221: no rail readable under ${this.root}`);
    const at = this.clock.now();
    const input = INPUT_RAILS.find((label) => watts.has(label));
    if (input !== undefined) return { kind: 'measured', source: `jetson-ina3221:${input}`, at, watts: watts.get(input)! };
    const labels = [...watts.keys()];
    return {
      kind: 'measured',
      source: `jetson-ina3221:sum(${labels.join('+')})`,
      at,
      watts: [...watts.values()].reduce((s, w) => s + w, 0),
      diagnostics: ['INA3221: no board-input rail; the sum of the monitored rails leaves out what they do not cover'],
    };
  }

  private async discover(): Promise<Rail[]> {
    const rails: Rail[] = [];
    for (const driver of await listDir(this.root)) {
      if (!driver.startsWith('ina3221')) continue;
      const driverDir = join(this.root, driver);
      for (const device of await listDir(driverDir)) {
        if (!/^\d+-[0-9a-f]{4}$/.test(device)) continue;
        const hwmonDir = join(driverDir, device, 'hwmon');
        for (const hwmon of await listDir(hwmonDir)) {
          if (!/^hwmon\d+$/.test(hwmon)) continue;
          const dir = join(hwmonDir, hwmon);
          for (const file of await listDir(dir)) {
            const match = /^in(\d+)_label$/.exec(file);
            if (!match) continue;
            const label = await readAttr(join(dir, file));
            if (!label || label.startsWith('NC')) continue;
            rails.push({ label, dir, channel: Number(match[1]) });
          }
        }
      }
    }
    if (rails.length === 0) throw new CarboncpError(ErrorCode.NOT_FOUND, `no INA3221 hwmon rail under ${this.root}`);
    return rails;
  }
}
