import { ScoreWindow, type ForecastSlot } from '@carboncp/calibrator';
import { createForecaster, type ForecastMethod, type Forecaster, type TraceSeries } from '@carboncp/carbon';
import { filledForward } from './world.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** Horizons with their own error window; farther ones use the last (the seasonal forecaster's errors level off after a day). */
const HORIZONS = 24;
/** Forecast errors kept per horizon: the last 14 days of hours. */
const ERROR_WINDOW = 336;

/**
 * What a device knows of its grid's next hours, for a carbon budget: the carbon package's
 * forecaster (the one the simulator's 'forecast' view uses, same warm-up) fed every hour that has
 * ended, forecasting every hour to the budget period's end, each with a split-conformal upper
 * bound: point + the (1 - alpha) conformal quantile of the forecaster's absolute errors at that
 * horizon over the last 14 days (warm-up included). Independent of every policy.
 */
export class BudgetForecast {
  private readonly values: Float64Array;
  private readonly stepMs: number;
  private readonly forecaster: Forecaster;
  private readonly errors: ScoreWindow[];
  /** The last HORIZONS forecast vectors (ring): made before feeding step s, for steps s .. s + HORIZONS - 1. */
  private readonly made: Float64Array[];
  /** The next step to feed (absolute, in the series' steps). */
  private next: number;
  private cachedStep = Number.NaN;
  private cached: ForecastSlot[] = [];

  constructor(
    private readonly series: TraceSeries,
    startMs: number,
    method: ForecastMethod,
    warmupDays: number,
    private readonly alpha: number,
  ) {
    this.values = filledForward(series);
    this.stepMs = series.stepMinutes * MINUTE_MS;
    const firstStep = Math.floor((startMs - series.startMs) / this.stepMs);
    this.forecaster = createForecaster(method, series.stepMinutes);
    this.errors = Array.from({ length: HORIZONS }, () => new ScoreWindow(ERROR_WINDOW));
    this.made = Array.from({ length: HORIZONS }, () => new Float64Array(HORIZONS).fill(Number.NaN));
    this.next = firstStep - Math.ceil((warmupDays * DAY_MS) / this.stepMs);
  }

  /** The step's length (ms): one forecast slot. */
  get slotMs(): number {
    return this.stepMs;
  }

  /** The slot in force at epoch ms `t` and the `count - 1` after it: point and upper bound (g/kWh). */
  slots(t: number, count: number): ForecastSlot[] {
    const step = Math.floor((t - this.series.startMs) / this.stepMs);
    while (this.next < step) this.feed();
    if (step !== this.cachedStep || this.cached.length < count) {
      const out: ForecastSlot[] = [];
      for (let h = 1; h <= count; h += 1) {
        const point = this.forecaster.seen > 0 ? this.forecaster.predict(h) : this.valueAt(step - 1);
        const window = this.errors[Math.min(h, HORIZONS) - 1]!;
        let q = window.quantile(this.alpha);
        // Too few errors yet for the quantile: the largest seen (none: the point alone).
        if (!Number.isFinite(q)) q = window.size > 0 ? window.kth(window.size) : 0;
        out.push({ point, upper: Math.max(point + q, 1e-9) });
      }
      this.cachedStep = step;
      this.cached = out;
    }
    return this.cached.length === count ? this.cached : this.cached.slice(0, count);
  }

  private valueAt(step: number): number {
    const n = this.values.length;
    return this.values[((step % n) + n) % n]!;
  }

  /** Feeds step `next`: scores the forecasts made for it, then forecasts from it. */
  private feed(): void {
    const s = this.next;
    const y = this.valueAt(s);
    for (let h = 1; h <= HORIZONS; h += 1) {
      const forecast = this.made[(((s - h + 1) % HORIZONS) + HORIZONS) % HORIZONS]![h - 1]!;
      if (!Number.isNaN(forecast)) this.errors[h - 1]!.add(Math.abs(y - forecast));
    }
    this.forecaster.update(y);
    this.next = s + 1;
    const vector = this.made[((this.next % HORIZONS) + HORIZONS) % HORIZONS]!;
    for (let h = 1; h <= HORIZONS; h += 1) vector[h - 1] = this.forecaster.predict(h);
  }
}
