import { CarboncpError, ErrorCode } from '@carboncp/protocol';

/**
 * Forecasting a carbon-intensity series on a regular grid from its past only. Each forecaster is
 * online: `update(y)` feeds the next observed value, `predict(h)` forecasts h steps after the last
 * one fed, and never looks at anything not fed. test/bench/carbon-forecast.mjs measures them.
 */

export const FORECAST_METHODS = ['persistence', 'seasonal-naive-day', 'seasonal-naive-week', 'seasonal-ewma'] as const;
export type ForecastMethod = (typeof FORECAST_METHODS)[number];

/** The method the trace provider uses unless told otherwise (the best of the benchmark on every zone at 6 and 24 hours). */
export const DEFAULT_FORECAST_METHOD: ForecastMethod = 'seasonal-ewma';

export interface Forecaster {
  readonly method: ForecastMethod;
  /** Feeds the next value; NaN (a gap) repeats the last value known. */
  update(y: number): void;
  /** The forecast h >= 1 steps after the last value fed; NaN before any value. */
  predict(h: number): number;
  /** How many values were fed. */
  readonly seen: number;
}

export interface ForecasterOptions {
  /** seasonal-ewma: weight of the newest day in the daily profile (0..1]; default 0.25. */
  alpha?: number;
}

const DAY_MINUTES = 1440;

export function isForecastMethod(name: string): name is ForecastMethod {
  return (FORECAST_METHODS as readonly string[]).includes(name);
}

export function createForecaster(method: ForecastMethod, stepMinutes: number, options: ForecasterOptions = {}): Forecaster {
  if (!Number.isInteger(stepMinutes) || stepMinutes <= 0 || DAY_MINUTES % stepMinutes !== 0) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `a forecast step must divide a day in whole minutes, got ${stepMinutes}`);
  }
  const perDay = DAY_MINUTES / stepMinutes;
  switch (method) {
    case 'persistence':
      return new SeasonalNaive(method, 1);
    case 'seasonal-naive-day':
      return new SeasonalNaive(method, perDay);
    case 'seasonal-naive-week':
      return new SeasonalNaive(method, 7 * perDay);
    case 'seasonal-ewma': {
      const alpha = options.alpha ?? 0.25;
      if (!(alpha > 0 && alpha <= 1)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `alpha must be in (0, 1], got ${alpha}`);
      return new SeasonalEwma(perDay, alpha);
    }
    default:
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `unknown forecast method '${String(method)}' (known: ${FORECAST_METHODS.join(', ')})`);
  }
}

/** Forecasts `steps` values after `history` (all of it seen), with one method. */
export function forecastSeries(history: ArrayLike<number>, steps: number, stepMinutes: number, method: ForecastMethod = DEFAULT_FORECAST_METHOD): Float64Array {
  const f = createForecaster(method, stepMinutes);
  for (let i = 0; i < history.length; i++) f.update(history[i]);
  const out = new Float64Array(steps);
  for (let h = 1; h <= steps; h++) out[h - 1] = f.predict(h);
  return out;
}

/** y(t+h) = the last value seen at the same phase of the season (period 1: persistence). Falls back to the last value before a full season. */
class SeasonalNaive implements Forecaster {
  private readonly ring: Float64Array;
  private n = 0;
  private last = Number.NaN;

  constructor(
    readonly method: ForecastMethod,
    private readonly period: number,
  ) {
    this.ring = new Float64Array(period);
  }

  get seen(): number {
    return this.n;
  }

  update(y: number): void {
    const v = Number.isNaN(y) ? this.last : y;
    this.ring[this.n % this.period] = v;
    this.n++;
    this.last = v;
  }

  predict(h: number): number {
    if (this.n < this.period) return this.last;
    return this.ring[(this.n - 1 + h) % this.period];
  }
}

/**
 * Daily profile plus a decaying anomaly. The profile is an exponentially weighted mean of each
 * time of day over past days (weight alpha on the newest); the anomaly a(t) = y(t) - profile(t),
 * taken before the profile learns y(t), persists: y(t+h) = profile(t+h) + c(h) a(t), where c(h)
 * is the least-squares coefficient of a(t+h) on a(t) over the history so far (direct, one per
 * horizon up to a day; beyond, c(day)^(h/day)), clamped to [0, 1]. Short horizons thus behave like
 * persistence, long ones like a smoothed seasonal naive, with the mix learned from the past.
 */
class SeasonalEwma implements Forecaster {
  readonly method: ForecastMethod = 'seasonal-ewma';
  private readonly profile: Float64Array;
  private readonly anomalies: Float64Array;
  private readonly sxy: Float64Array;
  private readonly sxx: Float64Array;
  private n = 0;
  private last = Number.NaN;

  constructor(
    private readonly perDay: number,
    private readonly alpha: number,
  ) {
    this.profile = new Float64Array(perDay).fill(Number.NaN);
    this.anomalies = new Float64Array(perDay + 1);
    this.sxy = new Float64Array(perDay + 1);
    this.sxx = new Float64Array(perDay + 1);
  }

  get seen(): number {
    return this.n;
  }

  update(y: number): void {
    const v = Number.isNaN(y) ? this.last : y;
    if (Number.isNaN(v)) {
      this.n++; // nothing known yet (a leading gap): keep the time of day in step
      return;
    }
    const phase = this.n % this.perDay;
    const before = this.profile[phase];
    const a = Number.isNaN(before) ? 0 : v - before;
    const ring = this.anomalies.length;
    if (this.n >= this.perDay) {
      // Pair this anomaly with each earlier one h steps back (only once profiles existed for both).
      for (let h = 1; h <= this.perDay && h <= this.n - this.perDay; h++) {
        const past = this.anomalies[(this.n - h) % ring];
        this.sxy[h] += a * past;
        this.sxx[h] += past * past;
      }
    }
    this.anomalies[this.n % ring] = a;
    this.profile[phase] = Number.isNaN(before) ? v : before + this.alpha * (v - before);
    this.n++;
    this.last = v;
  }

  private coefficient(h: number): number {
    if (h > this.perDay) return this.coefficient(this.perDay) ** (h / this.perDay);
    const xx = this.sxx[h];
    if (xx <= 0) return 0;
    return Math.min(1, Math.max(0, this.sxy[h] / xx));
  }

  predict(h: number): number {
    if (this.n === 0) return Number.NaN;
    const base = this.profile[(this.n - 1 + h) % this.perDay];
    if (Number.isNaN(base) || this.n < this.perDay) return this.last;
    const a = this.anomalies[(this.n - 1) % this.anomalies.length];
    return Math.max(0, base + this.coefficient(h) * a);
  }
}
