import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { createForecaster, DEFAULT_FORECAST_METHOD, type ForecastMethod, type Forecaster } from '../forecast.js';
import { checkHours, type IntensityPoint, type IntensityProvider, type IntensityQuery, type IntensitySignal } from '../intensity.js';
import { parseTraceCsv, type ParsedTrace, type ParseTraceOptions, type TraceSeries } from './trace-csv.js';

/**
 * What to do with an instant outside the trace. 'none': CARBONCP_OUT_OF_TRACE. 'year': replay the
 * same UTC date and time of day in the trace's year(s) (29 February becomes 1 March). 'week': shift
 * by whole weeks into the trace (keeps the weekday and time of day; the trace is used over its
 * whole weeks only).
 */
export type TraceWrap = 'none' | 'year' | 'week';
export const TRACE_WRAPS: readonly TraceWrap[] = ['none', 'year', 'week'];

export interface TraceProviderOptions {
  /** Name in the points' `source`, e.g. 'csv:electricitymaps_2022_hourly.csv'; default 'trace'. */
  source?: string;
  /** Zone used when a query names none; default the trace's only zone (an error if it has several). */
  zone?: string;
  wrap?: TraceWrap;
  /** Method of forecast() past the simulated now; default DEFAULT_FORECAST_METHOD. */
  forecastMethod?: ForecastMethod;
  /** Average or marginal, where the file's publisher says (the Electricity Maps exports are average). */
  signal?: IntensitySignal;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const WEEK_MS = 7 * 24 * HOUR_MS;

/**
 * Replays a recorded trace. The value at an instant is the trace's point whose interval
 * [time, time + step) contains it, `measured` (or `estimated` where the file says so). The
 * instant asked about is the simulated now: forecast() returns the point in force, then forecasts
 * of the following intervals made from the points up to and including it only (kind `forecast`),
 * never the recorded future.
 */
export class TraceProvider implements IntensityProvider {
  readonly name: string;
  private readonly wrap: TraceWrap;
  private readonly method: ForecastMethod;
  // One forecaster per zone, fed in time order; a query earlier than what it has seen starts over.
  private readonly forecasters = new Map<string, Forecaster>();

  constructor(
    readonly trace: ParsedTrace,
    private readonly options: TraceProviderOptions = {},
  ) {
    this.name = options.source ?? 'trace';
    this.wrap = options.wrap ?? 'none';
    if (!TRACE_WRAPS.includes(this.wrap)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `wrap must be one of ${TRACE_WRAPS.join(', ')}, got '${String(this.wrap)}'`);
    this.method = options.forecastMethod ?? DEFAULT_FORECAST_METHOD;
    createForecaster(this.method, 60); // checks the method's name now rather than at the first forecast
    if (options.zone !== undefined && !trace.series.has(options.zone)) throw unknownZone(options.zone, trace);
  }

  /** Parses CSV text (see parseTraceCsv) into a provider. */
  static fromCsv(text: string, options: TraceProviderOptions & ParseTraceOptions = {}): TraceProvider {
    return new TraceProvider(parseTraceCsv(text, options), options);
  }

  zones(): string[] {
    return [...this.trace.series.keys()];
  }

  /** The series of a zone (the query's, the default, or the only one). */
  seriesOf(zone?: string): TraceSeries {
    const name = zone ?? this.options.zone;
    if (name === undefined) {
      if (this.trace.series.size === 1) return this.trace.series.values().next().value as TraceSeries;
      throw new CarboncpError(ErrorCode.UNKNOWN_ZONE, `the trace has several zones (${this.zones().join(', ')}); name one`);
    }
    const s = this.trace.series.get(name);
    if (!s) throw unknownZone(name, this.trace);
    return s;
  }

  /** The trace index in force at `at`, and the shift (ms) from trace time to the instant asked. */
  private locate(series: TraceSeries, at: number): { index: number; shiftMs: number } {
    const stepMs = series.stepMinutes * MINUTE_MS;
    const endMs = series.startMs + series.values.length * stepMs;
    let mapped = at;
    if ((at < series.startMs || at >= endMs) && this.wrap !== 'none') mapped = this.wrapInto(series, at, endMs);
    const index = Math.floor((mapped - series.startMs) / stepMs);
    if (index < 0 || index >= series.values.length) {
      throw new CarboncpError(
        ErrorCode.OUT_OF_TRACE,
        `${new Date(at).toISOString()} is outside the trace of zone '${series.zone}' (${new Date(series.startMs).toISOString()} .. ${new Date(endMs).toISOString()})` +
          (this.wrap === 'none' ? '; ask for a time inside it, or replay it with wrap=year or wrap=week' : ''),
      );
    }
    if (Number.isNaN(series.values[index])) {
      throw new CarboncpError(ErrorCode.OUT_OF_TRACE, `${new Date(at).toISOString()} falls in a gap of the trace of zone '${series.zone}'`);
    }
    return { index, shiftMs: at - mapped };
  }

  private wrapInto(series: TraceSeries, at: number, endMs: number): number {
    if (this.wrap === 'week') {
      const span = Math.floor((endMs - series.startMs) / WEEK_MS) * WEEK_MS;
      if (span === 0) return at; // under a week: nothing to wrap by; locate reports it
      return series.startMs + ((((at - series.startMs) % span) + span) % span);
    }
    const d = new Date(at);
    const first = new Date(series.startMs).getUTCFullYear();
    const last = new Date(endMs - 1).getUTCFullYear();
    for (let year = first; year <= last; year++) {
      const m = new Date(d.getTime());
      m.setUTCFullYear(year);
      if (m.getTime() >= series.startMs && m.getTime() < endMs) return m.getTime();
    }
    return at;
  }

  private pointAt(series: TraceSeries, index: number, shiftMs: number): IntensityPoint {
    return {
      time: new Date(series.startMs + index * series.stepMinutes * MINUTE_MS + shiftMs).toISOString(),
      durationMinutes: series.stepMinutes,
      gPerKwh: series.values[index],
      zone: series.zone,
      source: this.name,
      kind: series.estimated[index] === 1 ? 'estimated' : 'measured',
      ...(this.options.signal ? { signal: this.options.signal } : {}),
    };
  }

  async current(query: IntensityQuery = {}): Promise<IntensityPoint> {
    const series = this.seriesOf(query.zone);
    const { index, shiftMs } = this.locate(series, query.at ?? Date.now());
    return this.pointAt(series, index, shiftMs);
  }

  /** The point in force at `query.at` (the simulated now), then forecasts of the next intervals up to `hours` after it. */
  async forecast(hours: number, query: IntensityQuery = {}): Promise<IntensityPoint[]> {
    checkHours(hours);
    const at = query.at ?? Date.now();
    const series = this.seriesOf(query.zone);
    const { index, shiftMs } = this.locate(series, at);
    const stepMs = series.stepMinutes * MINUTE_MS;
    const forecaster = this.forecasterSeeing(series, index + 1);
    const points = [this.pointAt(series, index, shiftMs)];
    const startOfNow = series.startMs + index * stepMs + shiftMs;
    for (let h = 1; startOfNow + h * stepMs < at + hours * HOUR_MS; h++) {
      points.push({
        time: new Date(startOfNow + h * stepMs).toISOString(),
        durationMinutes: series.stepMinutes,
        gPerKwh: forecaster.predict(h),
        zone: series.zone,
        source: this.name,
        kind: 'forecast',
        ...(this.options.signal ? { signal: this.options.signal } : {}),
      });
    }
    return points;
  }

  /** A forecaster fed exactly the first `count` points of the series. */
  private forecasterSeeing(series: TraceSeries, count: number): Forecaster {
    let f = this.forecasters.get(series.zone);
    if (!f || f.seen > count) {
      f = createForecaster(this.method, series.stepMinutes);
      this.forecasters.set(series.zone, f);
    }
    for (let i = f.seen; i < count; i++) f.update(series.values[i]);
    return f;
  }
}

function unknownZone(zone: string, trace: ParsedTrace): CarboncpError {
  return new CarboncpError(ErrorCode.UNKNOWN_ZONE, `the trace has no zone '${zone}' (zones: ${[...trace.series.keys()].join(', ')})`);
}
