import { cpus, type CpuInfo } from 'node:os';
import { systemClock, type Clock } from '../../client/clock.js';
import { modelWatts, type PowerModel, type PowerReading, type PowerSource } from '../../client/power-source.js';

export interface CpuModelSourceOptions {
  model: PowerModel;
  /** Per-core cumulative CPU times (os.cpus() by default); tests pass recorded ones. */
  cpuTimes?: () => readonly Pick<CpuInfo, 'times'>[];
  clock?: Clock;
}

/** Busy and total milliseconds summed over all cores. */
export function cpuTotals(cores: readonly Pick<CpuInfo, 'times'>[]): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of cores) {
    const b = times.user + times.nice + times.sys + times.irq;
    busy += b;
    total += b + times.idle;
  }
  return { busy, total };
}

/**
 * An estimate where nothing can be measured: the power model (idle and active watts, from the
 * device profile) at the CPU utilisation since the previous read (os.cpus() deltas; on the first
 * read, since boot). Labelled `estimated`, with the model's numbers and source in `source`.
 */
export class CpuModelSource implements PowerSource {
  readonly name = 'model';
  private readonly cpuTimes: () => readonly Pick<CpuInfo, 'times'>[];
  private readonly clock: Clock;
  private previous: { busy: number; total: number } | undefined;

  constructor(private readonly options: CpuModelSourceOptions) {
    this.cpuTimes = options.cpuTimes ?? cpus;
    this.clock = options.clock ?? systemClock;
  }

  async read(): Promise<PowerReading> {
    const now = cpuTotals(this.cpuTimes());
    const before = this.previous ?? { busy: 0, total: 0 };
    this.previous = now;
    const dTotal = now.total - before.total;
    const utilisation = dTotal > 0 ? (now.busy - before.busy) / dTotal : 0;
    const { model } = this.options;
    return {
      kind: 'estimated',
      watts: modelWatts(model, utilisation),
      source: `model:cpu-utilisation ${(utilisation * 100).toFixed(0)}% (idle ${model.idleWatts} W, active ${model.activeWatts} W; ${model.source})`,
      at: this.clock.now(),
    };
  }
}
