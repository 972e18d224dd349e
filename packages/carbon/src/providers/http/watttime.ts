/**
 * WattTime API v3: marginal operating emissions rate (MOER) of CO2.
 *
 * Documented at https://docs.watttime.org (OpenAPI; Authentication and Forecast sections):
 * - GET /login with HTTP basic auth -> { token }; the token is a bearer token valid 30 minutes.
 * - GET /v3/forecast?region=CAISO_NORTH&signal_type=co2_moer[&horizon_hours=N] ->
 *   { data: [ { point_time, value } ], meta: { region, signal_type, units: 'lbs_co2_per_mwh',
 *     data_point_period_seconds, generated_at, model: { date }, warnings } }
 *   whose first point is the current five-minute interval. (/v3/signal-index answers a
 *   percentile 0-100, not a rate, so it cannot give g/kWh and is not used.)
 * Free accounts may read CAISO_NORTH only; other regions answer 403.
 * MOER is in lbs CO2 per MWh: 1 lb/MWh = 453.592 g / 1000 kWh = 0.453592 g/kWh.
 */
import { CarboncpError, ErrorCode, isCarboncpError } from '@carboncp/protocol';
import { checkHours, type IntensityPoint, type IntensityProvider, type IntensityQuery } from '../../intensity.js';
import {
  HttpJsonClient,
  badShape,
  base64Utf8,
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

export const WATTTIME_SOURCE = 'watttime';
export const WATTTIME_URL = 'https://api.watttime.org';
/** grams per kWh in one pound per MWh (1 lb = 453.592 g; 1 MWh = 1000 kWh). */
export const G_PER_KWH_PER_LB_PER_MWH = 0.453592;
/** A token is valid 30 minutes; renew it a little before. */
export const WATTTIME_TOKEN_LIFETIME_MS = 25 * 60_000;

/** lbs/MWh to g/kWh. */
export function lbsPerMwhToGPerKwh(lbsPerMwh: number): number {
  return lbsPerMwh * G_PER_KWH_PER_LB_PER_MWH;
}

export interface WattTimeOptions extends HttpProviderOptions {
  /** Account name and password (the CLI reads WATTTIME_USERNAME and WATTTIME_PASSWORD). */
  username: string;
  password: string;
  /** WattTime region ('CAISO_NORTH'); a query's zone overrides it. */
  region: string;
}

export function wattTime(options: WattTimeOptions): LastKnownProvider {
  const source = WATTTIME_SOURCE;
  for (const key of ['username', 'password', 'region'] as const) {
    if (typeof options[key] !== 'string' || options[key] === '') {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${source}: ${key} is required${key === 'region' ? ' (e.g. CAISO_NORTH)' : ' (WATTTIME_USERNAME, WATTTIME_PASSWORD)'}`);
    }
  }
  const client = new HttpJsonClient(source, options);
  const base = options.baseUrl ?? WATTTIME_URL;
  const basic = `Basic ${base64Utf8(`${options.username}:${options.password}`)}`;
  let token: { value: string; expiresAt: number } | undefined;
  let loggingIn: Promise<string> | undefined;

  const login = async (): Promise<string> => {
    loggingIn ??= (async () => {
      try {
        const body = await client.getJson(joinUrl(base, 'login'), { authorization: basic }, { cache: false });
        if (!isRecord(body) || typeof body.token !== 'string' || body.token === '') throw badShape(source, 'login answered no token');
        token = { value: body.token, expiresAt: client.now() + WATTTIME_TOKEN_LIFETIME_MS };
        return body.token;
      } finally {
        loggingIn = undefined;
      }
    })();
    return loggingIn;
  };

  /** A GET with the bearer token; a 401 (token expired or revoked) logs in again once. */
  const authorizedGet = async (url: string): Promise<unknown> => {
    const current = token !== undefined && token.expiresAt > client.now() ? token.value : await login();
    try {
      return await client.getJson(url, { authorization: `Bearer ${current}` });
    } catch (error) {
      if (!(isCarboncpError(error, ErrorCode.UNAUTHORIZED) && error.details?.status === 401)) throw error;
      token = undefined;
      return client.getJson(url, { authorization: `Bearer ${await login()}` });
    }
  };

  const readForecast = async (zone: string, horizonHours: number): Promise<IntensityPoint[]> => {
    const url = joinUrl(base, `v3/forecast?region=${encodeURIComponent(zone)}&signal_type=co2_moer&horizon_hours=${horizonHours}`);
    const body = await authorizedGet(url);
    if (!isRecord(body) || !Array.isArray(body.data) || !isRecord(body.meta)) throw badShape(source, 'no data array or meta');
    const units = body.meta.units;
    if (units !== 'lbs_co2_per_mwh') throw badShape(source, `units ${JSON.stringify(units)}, expected lbs_co2_per_mwh`);
    const period = body.meta.data_point_period_seconds;
    const durationMinutes = typeof period === 'number' && period > 0 ? period / 60 : undefined;
    const region = typeof body.meta.region === 'string' ? body.meta.region : zone;
    return body.data.map((entry: unknown, i: number) => {
      if (!isRecord(entry)) throw badShape(source, 'a data entry that is not an object');
      return {
        time: timeField(source, entry.point_time, 'data[].point_time'),
        ...(durationMinutes === undefined ? {} : { durationMinutes }),
        gPerKwh: lbsPerMwhToGPerKwh(numberField(source, entry.value, 'data[].value')),
        zone: region,
        source,
        // The first point is WattTime's modelled value for the interval now running; a MOER is
        // never metered, so it is an estimate, and every later point a forecast.
        kind: i === 0 ? 'estimated' : 'forecast',
        signal: 'marginal',
      } satisfies IntensityPoint;
    });
  };

  // One request shape (the default 24 h horizon, or 72 h) so that current() and forecast() share the cache.
  const horizonFor = (hours: number): number => (hours > 24 ? 72 : 24);

  const forecast = async (hours: number, query?: IntensityQuery): Promise<IntensityPoint[]> => {
    checkHours(hours, source);
    const at = query?.at ?? client.now();
    return pointsWithin(await readForecast(query?.zone ?? options.region, horizonFor(hours)), at, hours);
  };

  const latest = async (query?: IntensityQuery): Promise<IntensityPoint> => {
    const points = await readForecast(query?.zone ?? options.region, horizonFor(1));
    const first = points[0];
    if (first === undefined) throw badShape(source, 'an empty forecast');
    return first;
  };

  const provider: IntensityProvider = {
    name: source,
    current: (query) => currentAt(source, query, client.now(), () => latest(query), forecast),
    forecast,
  };
  return withLastKnown(provider, { fallback: options.fallback, now: client.now, zone: options.region });
}
