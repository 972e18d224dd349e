/**
 * Electricity Maps API v3. Needs a key, sent in the `auth-token` header.
 *
 * Documented at https://portal.electricitymaps.com/developer-hub/api/reference (Carbon intensity):
 * - GET /v3/carbon-intensity/latest?zone=DE ->
 *   { zone, carbonIntensity, datetime, updatedAt, createdAt, emissionFactorType, isEstimated, estimationMethod, temporalGranularity? }
 * - GET /v3/carbon-intensity/forecast?zone=DE[&horizonHours=N] ->
 *   { zone, forecast: [ { carbonIntensity, datetime } ], updatedAt }
 * carbonIntensity is gCO2eq/kWh of consumption, an average (not marginal) signal; isEstimated
 * says Electricity Maps filled the value from a model because the zone's data was missing.
 */
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { checkHours, type IntensityPoint, type IntensityProvider, type IntensityQuery } from '../../intensity.js';
import {
  HttpJsonClient,
  badShape,
  currentAt,
  isRecord,
  joinUrl,
  numberField,
  pointsWithin,
  timeField,
  withLastKnown,
  type HttpProviderOptions,
  type LastKnownProvider,
} from './http-layer.js';

export const ELECTRICITY_MAPS_SOURCE = 'electricitymaps';
export const ELECTRICITY_MAPS_URL = 'https://api.electricitymaps.com/v3';

export interface ElectricityMapsOptions extends HttpProviderOptions {
  /** The API key (the CLI reads ELECTRICITYMAPS_API_KEY). */
  apiKey: string;
  /** Zone key ('DE', 'FR', 'US-CAL-CISO'); a query's zone overrides it. */
  zone: string;
}

/** temporalGranularity values in minutes. */
const GRANULARITY_MINUTES: Readonly<Record<string, number>> = { '5_minutes': 5, '15_minutes': 15, hourly: 60 };

export function electricityMaps(options: ElectricityMapsOptions): LastKnownProvider {
  const source = ELECTRICITY_MAPS_SOURCE;
  if (typeof options.apiKey !== 'string' || options.apiKey === '') throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${source}: an API key is required (ELECTRICITYMAPS_API_KEY)`);
  if (typeof options.zone !== 'string' || options.zone === '') throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${source}: a zone is required (e.g. DE)`);
  const client = new HttpJsonClient(source, options);
  const base = options.baseUrl ?? ELECTRICITY_MAPS_URL;
  const headers = { 'auth-token': options.apiKey };
  const zoneOf = (query?: IntensityQuery): string => query?.zone ?? options.zone;

  const latest = async (query?: IntensityQuery): Promise<IntensityPoint> => {
    const zone = zoneOf(query);
    const body = await client.getJson(joinUrl(base, `carbon-intensity/latest?zone=${encodeURIComponent(zone)}`), headers);
    if (!isRecord(body)) throw badShape(source, 'not an object');
    const granularity = typeof body.temporalGranularity === 'string' ? GRANULARITY_MINUTES[body.temporalGranularity] : undefined;
    return {
      time: timeField(source, body.datetime, 'datetime'),
      ...(granularity === undefined ? {} : { durationMinutes: granularity }),
      gPerKwh: numberField(source, body.carbonIntensity, 'carbonIntensity'),
      zone: typeof body.zone === 'string' ? body.zone : zone,
      source,
      kind: body.isEstimated === true ? 'estimated' : 'measured',
      signal: 'average',
    };
  };

  const forecast = async (hours: number, query?: IntensityQuery): Promise<IntensityPoint[]> => {
    checkHours(hours, source);
    const zone = zoneOf(query);
    const at = query?.at ?? client.now();
    // No horizonHours: the default horizon answers every caller from one cached response.
    const body = await client.getJson(joinUrl(base, `carbon-intensity/forecast?zone=${encodeURIComponent(zone)}`), headers);
    if (!isRecord(body) || !Array.isArray(body.forecast)) throw badShape(source, 'no forecast array');
    const answeredZone = typeof body.zone === 'string' ? body.zone : zone;
    const points: IntensityPoint[] = body.forecast.map((entry: unknown) => {
      if (!isRecord(entry)) throw badShape(source, 'a forecast entry that is not an object');
      return {
        time: timeField(source, entry.datetime, 'forecast[].datetime'),
        gPerKwh: numberField(source, entry.carbonIntensity, 'forecast[].carbonIntensity'),
        zone: answeredZone,
        source,
        kind: 'forecast',
        signal: 'average',
      };
    });
    withSpacing(points);
    return pointsWithin(points, at, hours);
  };

  const provider: IntensityProvider = {
    name: source,
    current: (query) => currentAt(source, query, client.now(), () => latest(query), forecast),
    forecast,
  };
  return withLastKnown(provider, { fallback: options.fallback, now: client.now, zone: options.zone });
}

/** Sets durationMinutes from the spacing of evenly spaced points (the forecast does not say its step). */
function withSpacing(points: IntensityPoint[]): void {
  if (points.length < 2) return;
  const step = (Date.parse(points[1].time) - Date.parse(points[0].time)) / 60_000;
  if (!(step > 0)) return;
  for (let i = 1; i < points.length; i++) {
    if ((Date.parse(points[i].time) - Date.parse(points[i - 1].time)) / 60_000 !== step) return;
  }
  for (const point of points) point.durationMinutes = step;
}
