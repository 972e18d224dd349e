import { createForecaster, type ForecastMethod, type Forecaster } from '@carboncp/carbon';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { ScoreWindow } from '../conformal/score-window.js';
import type { ForecastSlot } from './carbon-budget.js';

export interface ConformalForecastOptions {
  /** The carbon package's forecaster (default 'seasonal-ewma'). */
  method?: ForecastMethod;
  /** Length of one step (minutes; must divide a day). */
  stepMinutes: number;
  /** Miscoverage of the upper bounds, e.g. 0.1. */
  alpha: number;
  /** Horizons with their own error window; farther ones use the last; default 24. */
  horizons?: number;
  /** Absolute errors kept per horizon; default 336 (14 days of hours). */
  errorWindow?: number;
}

/**
 * A grid-intensity forecast with split-conformal upper bounds (what a CarbonBudget paces by): the
 * carbon package's online forecaster fed one value per step, and for each horizon h the
 * absolute errors of the forecasts it made h steps ahead, so that slot h's upper bound is its
 * point plus the (1 - alpha) conformal quantile of those errors (Vovk et al. 2005; split
 * conformal per horizon as in Stankeviciute et al., NeurIPS 2021). With too few errors for the
 * quantile the largest seen is used; with none, the point alone. Used by the simulator (over a
 * trace) and by the device client (over the intensities it reads).
 */
export class ConformalForecast {
  private readonly forecaster: Forecaster;
  private readonly errors: ScoreWindow[];
  /** The last `horizons` forecast vectors (a ring): made after feeding step s, for steps s+1 .. s+horizons. */
  private readonly made: Float64Array[];
  private readonly horizons: number;
  private readonly alpha: number;
  /** Steps fed so far. */
  private fed = 0;

  constructor(options: ConformalForecastOptions) {
    const horizons = options.horizons ?? 24;
    if (!(Number.isInteger(horizons) && horizons > 0)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `horizons must be a whole number > 0, got ${horizons}`);
    if (!(options.alpha > 0 && options.alpha < 1)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `alpha must be in (0, 1), got ${options.alpha}`);
    this.forecaster = createForecaster(options.method ?? 'seasonal-ewma', options.stepMinutes);
    this.horizons = horizons;
    this.alpha = options.alpha;
    this.errors = Array.from({ length: horizons }, () => new ScoreWindow(options.errorWindow ?? 336));
    this.made = Array.from({ length: horizons }, () => new Float64Array(horizons).fill(Number.NaN));
  }

  /** Values fed so far. */
  get seen(): number {
    return this.forecaster.seen;
  }

  /** Feeds the next step's observed value (NaN: a gap, the forecaster repeats the last value): scores the forecasts made for it, then forecasts from it. */
  update(y: number): void {
    const s = this.fed;
    const H = this.horizons;
    if (!Number.isNaN(y)) {
      for (let h = 1; h <= H; h += 1) {
        const forecast = this.made[(((s - h) % H) + H) % H]![h - 1]!;
        if (!Number.isNaN(forecast)) this.errors[h - 1]!.add(Math.abs(y - forecast));
      }
    }
    this.forecaster.update(y);
    const vector = this.made[((s % H) + H) % H]!;
    for (let h = 1; h <= H; h += 1) vector[h - 1] = this.forecaster.predict(h);
    this.fed = s + 1;
  }

  /**
   * The next `count` steps after the last one fed: point and conformal upper bound (g/kWh).
   * Before any value, every point is `fallbackPoint` (e.g. the intensity read now).
   */
  slots(count: number, fallbackPoint = Number.NaN): ForecastSlot[] {
    const out: ForecastSlot[] = [];
    for (let h = 1; h <= count; h += 1) {
      const point = this.forecaster.seen > 0 ? this.forecaster.predict(h) : fallbackPoint;
      const window = this.errors[Math.min(h, this.horizons) - 1]!;
      let q = window.quantile(this.alpha);
      if (!Number.isFinite(q)) q = window.size > 0 ? window.kth(window.size) : 0;
      out.push({ point, upper: Math.max(point + q, 1e-9) });
    }
    return out;
  }
}
