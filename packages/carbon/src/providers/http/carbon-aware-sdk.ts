/**
 * The Green Software Foundation's Carbon Aware SDK, through its WebAPI (a server the user runs
 * in front of WattTime, Electricity Maps or a JSON file). No key of its own.
 *
 * Documented in the SDK's repository, src/CarbonAware.WebApi/src/README.md
 * (https://github.com/Green-Software-Foundation/carbon-aware-sdk):
 * - GET /emissions/bylocation?location=eastus[&time=..&toTime=..] ->
 *   [ { location, time, rating, duration } ]   rating in g/kWh, duration a .NET TimeSpan ("08:00:00", "1.00:05:00")
 * - GET /emissions/forecasts/current?location=eastus[&dataStartAt=..&dataEndAt=..&windowSize=..] ->
 *   [ { generatedAt, requestedAt, location, dataStartAt, dataEndAt, windowSize,
 *       optimalDataPoints: [ { location, timestamp, duration, value } ],
 *       forecastData: [ { location, timestamp, duration, value } ] } ]   duration in minutes, value in g/kWh
 * Whether the rating is marginal or average depends on the data source the SDK is configured
 * with (WattTime: marginal, Electricity Maps: average); options.signal says which, if known.
 */
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { checkHours, type IntensityPoint, type IntensityProvider, type IntensityQuery, type IntensitySignal } from '../../intensity.js';
import {
  HttpJsonClient,
  badShape,
  currentAt,
  isRecord,
  joinUrl,
  numberField,
  pointAt,
  pointsWithin,
  timeField,
  withLastKnown,
  type HttpProviderOptions,
  type LastKnownProvider,
} from './http-layer.js';

export const CARBON_AWARE_SDK_SOURCE = 'carbon-aware-sdk';

export interface CarbonAwareSdkOptions extends HttpProviderOptions {
  /** The WebAPI's URL, e.g. http://localhost:8080 (required: there is no public instance). */
  baseUrl: string;
  /** A location the SDK knows ('eastus', 'westeurope'); a query's zone overrides it. */
  location: string;
  /** The signal of the SDK's configured data source, where known. */
  signal?: IntensitySignal;
  /** How far back bylocation looks for the latest rating, in minutes; default 60. */
  lookbackMinutes?: number;
}

/** A .NET TimeSpan string ("[d.]hh:mm:ss[.fffffff]") in minutes, else undefined. */
export function timeSpanMinutes(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?$/.exec(text);
  if (match === null) return undefined;
  const [, days, h, m, s] = match;
  return Number(days ?? 0) * 1440 + Number(h) * 60 + Number(m) + Number(s) / 60;
}

export function carbonAwareSdk(options: CarbonAwareSdkOptions): LastKnownProvider {
  const source = CARBON_AWARE_SDK_SOURCE;
  if (typeof options.baseUrl !== 'string' || options.baseUrl === '') throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${source}: the WebAPI's URL is required`);
  if (typeof options.location !== 'string' || options.location === '') throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${source}: a location is required (e.g. eastus)`);
  const lookback = options.lookbackMinutes ?? 60;
  if (!Number.isFinite(lookback) || lookback <= 0) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${source}: lookbackMinutes must be positive, got ${lookback}`);
  const client = new HttpJsonClient(source, options);
  const base = options.baseUrl;
  const signal = options.signal === undefined ? {} : { signal: options.signal };
  const locationOf = (query?: IntensityQuery): string => query?.zone ?? options.location;

  const latest = async (query?: IntensityQuery): Promise<IntensityPoint> => {
    const location = locationOf(query);
    // Bounds on five-minute marks, so that the URL (and the cache) holds for five minutes.
    const to = Math.ceil(client.now() / 300_000) * 300_000;
    const from = to - lookback * 60_000;
    const url = joinUrl(base, `emissions/bylocation?location=${encodeURIComponent(location)}&time=${iso(from)}&toTime=${iso(to)}`);
    const body = await client.getJson(url);
    if (!Array.isArray(body)) throw badShape(source, 'bylocation did not answer an array');
    const points = body
      .map((entry: unknown): IntensityPoint => {
        if (!isRecord(entry)) throw badShape(source, 'an emissions entry that is not an object');
        const duration = timeSpanMinutes(entry.duration);
        return {
          time: timeField(source, entry.time, 'time'),
          ...(duration === undefined ? {} : { durationMinutes: duration }),
          gPerKwh: numberField(source, entry.rating, 'rating'),
          zone: typeof entry.location === 'string' ? entry.location : location,
          source,
          kind: 'measured',
          ...signal,
        };
      })
      .sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
    const point = pointAt(points, client.now()) ?? points[points.length - 1];
    if (point === undefined) throw badShape(source, `no emissions data for ${location} in the last ${lookback} minutes`);
    return point;
  };

  const forecast = async (hours: number, query?: IntensityQuery): Promise<IntensityPoint[]> => {
    checkHours(hours, source);
    const location = locationOf(query);
    const at = query?.at ?? client.now();
    // No data bounds: the whole current forecast is one cached answer for every caller.
    const body = await client.getJson(joinUrl(base, `emissions/forecasts/current?location=${encodeURIComponent(location)}`));
    if (!Array.isArray(body)) throw badShape(source, 'forecasts/current did not answer an array');
    const entry = body[0];
    if (!isRecord(entry) || !Array.isArray(entry.forecastData)) throw badShape(source, 'no forecastData');
    const points = entry.forecastData.map((point: unknown): IntensityPoint => {
      if (!isRecord(point)) throw badShape(source, 'a forecastData entry that is not an object');
      const duration = point.duration;
      return {
        time: timeField(source, point.timestamp, 'forecastData[].timestamp'),
        ...(typeof duration === 'number' && duration > 0 ? { durationMinutes: duration } : {}),
        gPerKwh: numberField(source, point.value, 'forecastData[].value'),
        zone: typeof point.location === 'string' ? point.location : location,
        source,
        kind: 'forecast',
        ...signal,
      };
    });
    return pointsWithin(points, at, hours);
  };

  const provider: IntensityProvider = {
    name: source,
    current: (query) => currentAt(source, query, client.now(), () => latest(query), forecast),
    forecast,
  };
  return withLastKnown(provider, { fallback: options.fallback, now: client.now, zone: options.location });
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
