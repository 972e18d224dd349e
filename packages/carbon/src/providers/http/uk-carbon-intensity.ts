/**
 * The GB grid operator's Carbon Intensity API (National Energy System Operator with the
 * University of Oxford and WWF). No key.
 *
 * Documented at https://carbon-intensity.github.io/api-definitions/ :
 * - GET /intensity -> { data: [ { from, to, intensity: { forecast, actual, index } } ] }, the
 *   current half hour; `actual` is null until the half hour has been measured.
 * - GET /intensity/{from}/fw24h (and fw48h) -> the same shape, half-hourly, from `from`.
 * - GET /regional/regionid/{id} and /regional/postcode/{outward postcode} ->
 *   { data: [ { regionid, dnoregion, shortname, postcode?, data: [ { from, to, intensity: { forecast, index }, generationmix } ] } ] }
 * - GET /regional/intensity/{from}/fw24h/regionid/{id} (and /postcode/{postcode}) -> the same
 *   with `data` one region object instead of an array.
 * Regional figures are forecasts only (no `actual`). Values are gCO2/kWh, average intensity of
 * the GB generation mix.
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

export const UK_CARBON_INTENSITY_SOURCE = 'uk-carbon-intensity';
export const UK_CARBON_INTENSITY_URL = 'https://api.carbonintensity.org.uk';

export interface UkCarbonIntensityOptions extends HttpProviderOptions {
  /** A DNO region id, 1 to 17 (see the API's region list); default: national. */
  regionId?: number;
  /** An outward postcode ('RG10', 'SW1A'); default: national. Exclusive with regionId. */
  postcode?: string;
}

/** Zone names: 'GB' for the nation, 'GB-<regionid>' for a region (postcodes resolve to their region). */
export const UK_NATIONAL_ZONE = 'GB';

export function ukCarbonIntensity(options: UkCarbonIntensityOptions = {}): LastKnownProvider {
  const source = UK_CARBON_INTENSITY_SOURCE;
  if (options.regionId !== undefined && options.postcode !== undefined) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${source}: give regionId or postcode, not both`);
  }
  if (options.regionId !== undefined && !(Number.isInteger(options.regionId) && options.regionId >= 1 && options.regionId <= 17)) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${source}: regionId must be an integer 1..17, got ${options.regionId}`);
  }
  const postcode = options.postcode?.trim().toUpperCase();
  if (postcode !== undefined && !/^[A-Z]{1,2}[0-9][0-9A-Z]?$/.test(postcode)) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${source}: postcode must be an outward code such as RG10 or SW1A, got ${JSON.stringify(options.postcode)}`);
  }
  const client = new HttpJsonClient(source, options);
  const base = options.baseUrl ?? UK_CARBON_INTENSITY_URL;
  const regional = options.regionId !== undefined ? `regionid/${options.regionId}` : postcode !== undefined ? `postcode/${encodeURIComponent(postcode)}` : undefined;

  const latest = async (): Promise<IntensityPoint> => {
    const body = await client.getJson(joinUrl(base, regional === undefined ? 'intensity' : `regional/${regional}`));
    const points = regional === undefined ? nationalPoints(body) : regionalPoints(body);
    const point = points[0];
    if (point === undefined) throw badShape(source, 'no period in data');
    return point;
  };

  const forecast = async (hours: number, query?: IntensityQuery): Promise<IntensityPoint[]> => {
    checkHours(hours, source);
    const at = query?.at ?? client.now();
    // The API takes minutes-precision times; start on the half hour that holds `at` so the URL
    // (and so the cache) stays the same for the whole half hour.
    const from = new Date(Math.floor(at / 1_800_000) * 1_800_000).toISOString().slice(0, 16) + 'Z';
    const window = hours > 24 ? 'fw48h' : 'fw24h';
    const path = regional === undefined ? `intensity/${from}/${window}` : `regional/intensity/${from}/${window}/${regional}`;
    const body = await client.getJson(joinUrl(base, path));
    return pointsWithin(regional === undefined ? nationalPoints(body) : regionalPoints(body), at, hours);
  };

  const provider: IntensityProvider = {
    name: source,
    current: (query) => currentAt(source, query, client.now(), latest, forecast),
    forecast,
  };
  return withLastKnown(provider, { fallback: options.fallback, now: client.now, zone: options.regionId !== undefined ? `${UK_NATIONAL_ZONE}-${options.regionId}` : UK_NATIONAL_ZONE });

  function period(entry: unknown, zone: string, regionalEntry: boolean): IntensityPoint {
    if (!isRecord(entry) || !isRecord(entry.intensity)) throw badShape(source, 'a period without intensity');
    const time = timeField(source, entry.from, 'from');
    const to = timeField(source, entry.to, 'to');
    const actual = entry.intensity.actual;
    const measured = !regionalEntry && actual !== null && actual !== undefined;
    const gPerKwh = measured ? numberField(source, actual, 'intensity.actual') : numberField(source, entry.intensity.forecast, 'intensity.forecast');
    return {
      time,
      durationMinutes: (Date.parse(to) - Date.parse(time)) / 60_000,
      gPerKwh,
      zone,
      source,
      kind: measured ? 'measured' : 'forecast',
      signal: 'average',
    };
  }

  function nationalPoints(body: unknown): IntensityPoint[] {
    if (!isRecord(body) || !Array.isArray(body.data)) throw badShape(source, 'no data array');
    return body.data.map((entry) => period(entry, UK_NATIONAL_ZONE, false));
  }

  function regionalPoints(body: unknown): IntensityPoint[] {
    if (!isRecord(body)) throw badShape(source, 'not an object');
    const region = Array.isArray(body.data) ? body.data[0] : body.data;
    if (!isRecord(region) || !Array.isArray(region.data)) throw badShape(source, 'no region with a data array');
    const zone = `${UK_NATIONAL_ZONE}-${numberField(source, region.regionid, 'regionid')}`;
    return region.data.map((entry) => period(entry, zone, true));
  }
}
