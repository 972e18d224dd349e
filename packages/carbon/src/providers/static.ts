import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { checkHours, type IntensityPoint, type IntensityProvider, type IntensityQuery, type IntensitySignal } from '../intensity.js';

export interface StaticProviderOptions {
  /** Zone named in the points when the query names none; default 'unknown'. */
  zone?: string;
  /** Length of the forecast's points in minutes; default 60. */
  stepMinutes?: number;
  signal?: IntensitySignal;
}

const MINUTE_MS = 60_000;

/**
 * One constant intensity everywhere and always. Its points are `estimated`: a number someone
 * assumed, not a reading, and its forecast is the same assumption (also `estimated`, not `forecast`).
 */
export class StaticProvider implements IntensityProvider {
  readonly name = 'static';
  private readonly stepMs: number;

  constructor(
    readonly gPerKwh: number,
    private readonly options: StaticProviderOptions = {},
  ) {
    if (!Number.isFinite(gPerKwh) || gPerKwh < 0) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `a static intensity must be a non-negative number of gCO2eq/kWh, got ${gPerKwh}`);
    const step = options.stepMinutes ?? 60;
    if (!Number.isInteger(step) || step <= 0) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `stepMinutes must be a positive integer, got ${step}`);
    this.stepMs = step * MINUTE_MS;
  }

  private point(startMs: number, zone: string): IntensityPoint {
    return {
      time: new Date(startMs).toISOString(),
      durationMinutes: this.stepMs / MINUTE_MS,
      gPerKwh: this.gPerKwh,
      zone,
      source: this.name,
      kind: 'estimated',
      ...(this.options.signal ? { signal: this.options.signal } : {}),
    };
  }

  async current(query: IntensityQuery = {}): Promise<IntensityPoint> {
    const at = query.at ?? Date.now();
    return this.point(Math.floor(at / this.stepMs) * this.stepMs, query.zone ?? this.options.zone ?? 'unknown');
  }

  async forecast(hours: number, query: IntensityQuery = {}): Promise<IntensityPoint[]> {
    checkHours(hours);
    const at = query.at ?? Date.now();
    const zone = query.zone ?? this.options.zone ?? 'unknown';
    const start = Math.floor(at / this.stepMs) * this.stepMs;
    const points: IntensityPoint[] = [];
    for (let t = start; t < at + hours * 3_600_000; t += this.stepMs) points.push(this.point(t, zone));
    return points;
  }
}

/** A forecast horizon in hours: finite, > 0, at most a year. */
