import { ConformalForecast, type ForecastSlot } from '@carboncp/calibrator';
import type { ForecastMethod, TraceSeries } from '@carboncp/carbon';
import { filledForward } from './world.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/**
 * What a device knows of its grid's next hours, for a carbon budget: the calibrator's
 * ConformalForecast (the carbon package's forecaster, the one the simulator's 'forecast' view
 * uses, same warm-up, with a split-conformal upper bound per horizon over the last 14 days of
 * errors, warm-up included) fed every hour of the trace that has ended, forecasting every hour to
 * the budget period's end. Independent of every policy.
 */
export class BudgetForecast {
  private readonly values: Float64Array;
  private readonly stepMs: number;
  private readonly conformal: ConformalForecast;
  /** The next step to feed (absolute, in the series' steps). */
  private next: number;
  private cachedStep = Number.NaN;
  private cached: ForecastSlot[] = [];

  constructor(
    private readonly series: TraceSeries,
    startMs: number,
    method: ForecastMethod,
    warmupDays: number,
    alpha: number,
  ) {
    this.values = filledForward(series);
    this.stepMs = series.stepMinutes * MINUTE_MS;
    const firstStep = Math.floor((startMs - series.startMs) / this.stepMs);
    this.conformal = new ConformalForecast({ method, stepMinutes: series.stepMinutes, alpha });
    this.next = firstStep - Math.ceil((warmupDays * DAY_MS) / this.stepMs);
  }

  /** The step's length (ms): one forecast slot. */
  get slotMs(): number {
    return this.stepMs;
  }

  /** The slot in force at epoch ms `t` and the `count - 1` after it: point and upper bound (g/kWh). */
  slots(t: number, count: number): ForecastSlot[] {
    const step = Math.floor((t - this.series.startMs) / this.stepMs);
    while (this.next < step) this.conformal.update(this.valueAt(this.next++));
    if (step !== this.cachedStep || this.cached.length < count) {
      this.cached = this.conformal.slots(count, this.valueAt(step - 1));
      this.cachedStep = step;
    }
    return this.cached.length === count ? this.cached : this.cached.slice(0, count);
  }

  private valueAt(step: number): number {
    const n = this.values.length;
    return this.values[((step % n) + n) % n]!;
  }
}
