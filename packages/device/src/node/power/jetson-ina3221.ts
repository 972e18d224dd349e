import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { systemClock, type Clock } from '../../client/clock.js';
import type { PowerReading, PowerSource } from '../../client/power-source.js';
import type { SysfsSourceOptions } from './linux-power-supply.js';
import { join, listDir, readAttr, readNumber } from './sysfs.js';

/** One INA3221 channel, found by its label. */
export interface Rail {
  label: string;
  /** Directory holding the channel's files. */
  dir: string;
  channel: number;
  /**
   * `hwmon`: mainline driver (JetPack 5/6), in{N}_input mV and curr{N}_input mA, N from 1.
   * `iio`: L4T's ina3221x driver (JetPack 4: Nano, TX2, Xavier), rail_name_{N},
   * in_power{N}_input mW, N from 0.
   */
  layout: 'hwmon' | 'iio';
}

/** Labels of the board-input rail: the whole module's draw where the board has one (energymon, jtop). */
const INPUT_RAILS = ['VDD_IN', 'POM_5V_IN', '5V_IN'];

/**
 * NVIDIA Jetson's INA3221 power monitors through the mainline hwmon driver (JetPack 5 and 6):
 * `/sys/bus/i2c/drivers/ina3221/<bus>-<addr>/hwmon/hwmonK/in{N}_label` names channel N,
 * `in{N}_input` is its bus voltage in mV and `curr{N}_input` its current in mA. K changes
 * between boots, so rails are found by label, never by number. JetPack 4's ina3221x driver
 * (Nano, TX2, Xavier) is read too: `ina3221x/<bus>-<addr>/iio:deviceK/rail_name_{N}` and
 * `in_power{N}_input` (mW). Channels labelled `NC` are not
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

  /** A rail file that cannot be read for permissions fails the read with CARBONCP_IO (from readAttr). */
  read(): Promise<PowerReading> {
    return this.readRails();
  }

  /** The rails found (after the first read). */
  railsFound(): readonly Rail[] {
    return this.rails ?? [];
  }

  private async readRails(): Promise<PowerReading> {
    const rails = this.rails ?? (this.rails = await this.discover());
    const values = await Promise.all(rails.map((rail) => railWatts(rail)));
    const watts = new Map<string, number>();
    rails.forEach((rail, i) => {
      const w = values[i];
      if (w !== undefined) watts.set(rail.label, w);
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
          await addRails(rails, join(hwmonDir, hwmon), /^in(\d+)_label$/, 'hwmon');
        }
        for (const iio of await listDir(join(driverDir, device))) {
          if (!/^iio:device\d+$/.test(iio)) continue;
          await addRails(rails, join(driverDir, device, iio), /^rail_name_(\d+)$/, 'iio');
        }
      }
    }
    if (rails.length === 0) throw new CarboncpError(ErrorCode.NOT_FOUND, `no INA3221 hwmon rail under ${this.root}`);
    return rails;
  }
}

async function addRails(rails: Rail[], dir: string, labelFile: RegExp, layout: Rail['layout']): Promise<void> {
  for (const file of await listDir(dir)) {
    const match = labelFile.exec(file);
    if (!match) continue;
    const label = await readAttr(join(dir, file));
    if (!label || label.startsWith('NC')) continue;
    rails.push({ label, dir, channel: Number(match[1]), layout });
  }
}

async function railWatts(rail: Rail): Promise<number | undefined> {
  if (rail.layout === 'iio') {
    const mw = await readNumber(join(rail.dir, `in_power${rail.channel}_input`));
    return mw === undefined ? undefined : mw / 1000;
  }
  const [mv, ma] = await Promise.all([readNumber(join(rail.dir, `in${rail.channel}_input`)), readNumber(join(rail.dir, `curr${rail.channel}_input`))]);
  return mv === undefined || ma === undefined ? undefined : (mv * ma) / 1e6;
}
