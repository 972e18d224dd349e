/**
 * Each HTTP provider against a local server answering the API's documented response format
 * (fixtures copied from each API's documentation): the request it sends (path, query, auth),
 * how it reads the answer (kind, zone, units) and its forecast.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { carbonAwareSdk, timeSpanMinutes } from './carbon-aware-sdk.js';
import { electricityMaps } from './electricity-maps.js';
import { ukCarbonIntensity } from './uk-carbon-intensity.js';
import { G_PER_KWH_PER_LB_PER_MWH, lbsPerMwhToGPerKwh, wattTime } from './watttime.js';
import { fixture, startLocalServer, type LocalServer } from './testing/local-server.test-support.js';

let server: LocalServer;
let t = 0;
const now = (): number => t;
const fetch = globalThis.fetch;

beforeEach(async () => {
  server = await startLocalServer();
});
afterEach(async () => {
  await server.close();
});

describe('UK Carbon Intensity', () => {
  beforeEach(() => {
    t = Date.parse('2018-01-20T12:10:00Z');
  });

  it('reads the national half hour: actual when measured (kind measured), no key sent', async () => {
    server.route('/intensity', { body: fixture('uk-intensity.json') });
    const provider = ukCarbonIntensity({ baseUrl: server.baseUrl, fetch, now });
    expect(await provider.current()).toEqual({
      time: '2018-01-20T12:00:00.000Z',
      durationMinutes: 30,
      gPerKwh: 263,
      zone: 'GB',
      source: 'uk-carbon-intensity',
      kind: 'measured',
      signal: 'average',
    });
    expect(server.requests[0].method).toBe('GET');
    expect(server.requests[0].headers.authorization).toBeUndefined();
  });

  it('falls back to the forecast figure when actual is null (kind forecast)', async () => {
    const body = JSON.parse(fixture('uk-intensity.json'));
    body.data[0].intensity.actual = null;
    server.route('/intensity', { body: JSON.stringify(body) });
    const point = await ukCarbonIntensity({ baseUrl: server.baseUrl, fetch, now }).current();
    expect(point.gPerKwh).toBe(266);
    expect(point.kind).toBe('forecast');
  });

  it('reads the fw24h forecast from the half hour holding now, measured and forecast points apart', async () => {
    server.route('/intensity/2018-01-20T12:00Z/fw24h', { body: fixture('uk-intensity-fw24h.json') });
    const points = await ukCarbonIntensity({ baseUrl: server.baseUrl, fetch, now }).forecast(1.5);
    expect(points.map((p) => [p.time.slice(11, 16), p.gPerKwh, p.kind])).toEqual([
      ['12:00', 263, 'measured'],
      ['12:30', 271, 'forecast'],
      ['13:00', 259, 'forecast'],
      ['13:30', 248, 'forecast'],
    ]);
    expect(server.count('/intensity/2018-01-20T12:00Z/fw24h')).toBe(1);
  });

  it('answers an instant in the future from the forecast point that holds it', async () => {
    server.route('/intensity/2018-01-20T12:00Z/fw24h', { body: fixture('uk-intensity-fw24h.json') });
    const point = await ukCarbonIntensity({ baseUrl: server.baseUrl, fetch, now }).current({ at: Date.parse('2018-01-20T13:40:00Z') });
    expect(point).toMatchObject({ time: '2018-01-20T13:30:00.000Z', gPerKwh: 248, kind: 'forecast' });
  });

  it('an instant past the end of the forecast is a PROVIDER error, not the last point', async () => {
    server.route('/intensity/2018-01-20T12:00Z/fw24h', { body: fixture('uk-intensity-fw24h.json') });
    const provider = ukCarbonIntensity({ baseUrl: server.baseUrl, fetch, now });
    await expect(provider.current({ at: Date.parse('2018-01-20T14:30:00Z') })).rejects.toMatchObject({ code: 'CARBONCP_PROVIDER' });
  });

  it('refuses an instant in the past (no history wired) with INVALID_ARGUMENT', async () => {
    const provider = ukCarbonIntensity({ baseUrl: server.baseUrl, fetch, now, fallback: 100 });
    await expect(provider.current({ at: t - 3 * 3_600_000 })).rejects.toMatchObject({ code: 'CARBONCP_INVALID_ARGUMENT' });
    expect(server.requests).toHaveLength(0);
  });

  it('reads a region by id and by postcode (forecast only), zone GB-<regionid>', async () => {
    server.route('/regional/regionid/3', { body: fixture('uk-regional-regionid.json') });
    server.route('/regional/postcode/RG10', { body: fixture('uk-regional-postcode.json') });
    const byId = await ukCarbonIntensity({ baseUrl: server.baseUrl, fetch, now, regionId: 3 }).current();
    const byPostcode = await ukCarbonIntensity({ baseUrl: server.baseUrl, fetch, now, postcode: 'rg10' }).current();
    for (const point of [byId, byPostcode]) expect(point).toMatchObject({ zone: 'GB-3', gPerKwh: 266, kind: 'forecast', durationMinutes: 30 });
  });

  it('reads the regional forecast, whose data is one object', async () => {
    server.route('/regional/intensity/2018-01-20T12:00Z/fw24h/regionid/13', { body: fixture('uk-regional-fw24h-regionid.json') });
    const points = await ukCarbonIntensity({ baseUrl: server.baseUrl, fetch, now, regionId: 13 }).forecast(24);
    expect(points.map((p) => [p.zone, p.gPerKwh, p.kind])).toEqual([
      ['GB-13', 266, 'forecast'],
      ['GB-13', 250, 'forecast'],
    ]);
  });

  it('asks fw48h for more than 24 hours', async () => {
    server.route('/intensity/2018-01-20T12:00Z/fw48h', { body: fixture('uk-intensity-fw24h.json') });
    expect(await ukCarbonIntensity({ baseUrl: server.baseUrl, fetch, now }).forecast(30)).toHaveLength(5);
  });

  it('refuses bad options', () => {
    expect(() => ukCarbonIntensity({ regionId: 18 })).toThrow(expect.objectContaining({ code: 'CARBONCP_INVALID_ARGUMENT' }));
    expect(() => ukCarbonIntensity({ regionId: 3, postcode: 'RG10' })).toThrow(expect.objectContaining({ code: 'CARBONCP_INVALID_ARGUMENT' }));
    expect(() => ukCarbonIntensity({ postcode: 'RG10 1AB' })).toThrow(expect.objectContaining({ code: 'CARBONCP_INVALID_ARGUMENT' }));
  });
});

describe('Electricity Maps', () => {
  beforeEach(() => {
    t = Date.parse('2019-05-21T00:20:00Z');
  });

  it('sends the key in auth-token and the zone in the query; reads the latest value', async () => {
    server.route('/v3/carbon-intensity/latest', { body: fixture('electricitymaps-latest.json') });
    const provider = electricityMaps({ baseUrl: `${server.baseUrl}/v3`, fetch, now, apiKey: 'k-123', zone: 'DE' });
    expect(await provider.current()).toEqual({
      time: '2019-05-21T00:00:00.000Z',
      gPerKwh: 302,
      zone: 'DE',
      source: 'electricitymaps',
      kind: 'measured',
      signal: 'average',
    });
    expect(server.requests[0].headers['auth-token']).toBe('k-123');
    expect(server.requests[0].query.get('zone')).toBe('DE');
  });

  it('labels isEstimated values estimated, and a query zone overrides the default', async () => {
    server.route('/v3/carbon-intensity/latest', (request) => ({
      body: JSON.stringify({ ...JSON.parse(fixture('electricitymaps-latest.json')), zone: request.query.get('zone'), isEstimated: true, temporalGranularity: 'hourly' }),
    }));
    const point = await electricityMaps({ baseUrl: `${server.baseUrl}/v3`, fetch, now, apiKey: 'k', zone: 'DE' }).current({ zone: 'FR' });
    expect(point).toMatchObject({ zone: 'FR', kind: 'estimated', durationMinutes: 60 });
  });

  it('reads the forecast: hourly points, kind forecast, clipped to the horizon', async () => {
    server.route('/v3/carbon-intensity/forecast', { body: fixture('electricitymaps-forecast.json') });
    const points = await electricityMaps({ baseUrl: `${server.baseUrl}/v3`, fetch, now, apiKey: 'k', zone: 'DE' }).forecast(2);
    expect(points.map((p) => [p.time.slice(11, 16), p.gPerKwh, p.kind, p.durationMinutes])).toEqual([
      ['00:00', 326, 'forecast', 60],
      ['01:00', 296, 'forecast', 60],
      ['02:00', 278, 'forecast', 60],
    ]);
    expect(server.requests[0].headers['auth-token']).toBe('k');
  });

  it('a refused key is UNAUTHORIZED', async () => {
    server.route('/v3/carbon-intensity/latest', { status: 401, body: '{"message":"Invalid auth-token"}' });
    await expect(electricityMaps({ baseUrl: `${server.baseUrl}/v3`, fetch, now, apiKey: 'bad', zone: 'DE' }).current()).rejects.toMatchObject({ code: 'CARBONCP_UNAUTHORIZED' });
  });
});

describe('WattTime v3', () => {
  const token = JSON.parse(fixture('watttime-login.json')).token as string;
  beforeEach(() => {
    t = Date.parse('2023-08-16T20:52:00Z');
  });
  const make = () => wattTime({ baseUrl: server.baseUrl, fetch, now, username: 'ana', password: 'pä55:w', region: 'CAISO_NORTH', cacheTtlMs: 60_000 });

  it('logs in with basic auth, then asks the forecast with the bearer token', async () => {
    server.route('/login', { body: fixture('watttime-login.json') });
    server.route('/v3/forecast', { body: fixture('watttime-forecast.json') });
    const point = await make().current();
    const [login, data] = server.requests;
    expect(login.path).toBe('/login');
    expect(login.headers.authorization).toBe(`Basic ${Buffer.from('ana:pä55:w', 'utf8').toString('base64')}`);
    expect(data.headers.authorization).toBe(`Bearer ${token}`);
    expect(Object.fromEntries(data.query)).toMatchObject({ region: 'CAISO_NORTH', signal_type: 'co2_moer' });
    expect(point).toMatchObject({ time: '2023-08-16T20:50:00.000Z', durationMinutes: 5, zone: 'CAISO_NORTH', kind: 'estimated', signal: 'marginal' });
  });

  it('converts MOER from lbs/MWh to g/kWh (1 lb/MWh = 0.453592 g/kWh)', async () => {
    expect(G_PER_KWH_PER_LB_PER_MWH).toBe(0.453592);
    expect(lbsPerMwhToGPerKwh(1000)).toBeCloseTo(453.592, 9);
    server.route('/login', { body: fixture('watttime-login.json') });
    server.route('/v3/forecast', { body: fixture('watttime-forecast.json') });
    const points = await make().forecast(0.25);
    expect(points.map((p) => p.gPerKwh)).toEqual([870, 868, 902, 905].map((lbs) => expect.closeTo(lbs * 0.453592, 9)));
    expect(points[0].gPerKwh).toBeCloseTo(394.625, 3);
    expect(points.slice(1).every((p) => p.kind === 'forecast')).toBe(true);
  });

  it('keeps the token while it is valid, and logs in again once on a 401', async () => {
    let refuse = 0;
    server.route('/login', { body: fixture('watttime-login.json') });
    server.route('/v3/forecast', () => (refuse-- > 0 ? { status: 401, body: '{"error":"expired"}' } : { body: fixture('watttime-forecast.json') }));
    const provider = make();
    await provider.current();
    t += 120_000; // past the cache TTL, within the token's life
    await provider.current();
    expect(server.count('/login')).toBe(1);
    expect(server.count('/v3/forecast')).toBe(2);
    refuse = 1;
    t += 120_000;
    const point = await provider.current();
    expect(point.stale).toBeUndefined();
    expect(server.count('/login')).toBe(2);
    expect(server.count('/v3/forecast')).toBe(4);
  });

  it('a second 401 in a row is UNAUTHORIZED, after one re-login only', async () => {
    server.route('/login', { body: fixture('watttime-login.json') });
    server.route('/v3/forecast', { status: 401, body: '{"error":"no"}' });
    await expect(make().current()).rejects.toMatchObject({ code: 'CARBONCP_UNAUTHORIZED' });
    expect(server.count('/login')).toBe(2);
    expect(server.count('/v3/forecast')).toBe(2);
  });

  it('refused credentials at login are UNAUTHORIZED and send no data request', async () => {
    server.route('/login', { status: 403, body: '{"error":"bad credentials"}' });
    await expect(make().current()).rejects.toMatchObject({ code: 'CARBONCP_UNAUTHORIZED' });
    expect(server.count('/v3/forecast')).toBe(0);
  });

  it('refuses an answer in other units', async () => {
    const body = JSON.parse(fixture('watttime-forecast.json'));
    body.meta.units = 'percentile';
    server.route('/login', { body: fixture('watttime-login.json') });
    server.route('/v3/forecast', { body: JSON.stringify(body) });
    await expect(make().current()).rejects.toMatchObject({ code: 'CARBONCP_PROVIDER' });
  });
});

describe('Carbon Aware SDK WebAPI', () => {
  beforeEach(() => {
    t = Date.parse('2022-06-01T14:47:00Z');
  });

  it('reads the rating in force now from bylocation, with the location and time bounds in the query', async () => {
    server.route('/emissions/bylocation', { body: fixture('carbon-aware-bylocation.json') });
    const point = await carbonAwareSdk({ baseUrl: server.baseUrl, fetch, now, location: 'eastus', signal: 'marginal' }).current();
    expect(point).toEqual({ time: '2022-06-01T14:45:00.000Z', durationMinutes: 5, gPerKwh: 65.3, zone: 'eastus', source: 'carbon-aware-sdk', kind: 'measured', signal: 'marginal' });
    const query = server.requests[0].query;
    expect(query.get('location')).toBe('eastus');
    expect(Date.parse(query.get('toTime') ?? '')).toBeGreaterThanOrEqual(t);
    expect(Date.parse(query.get('time') ?? '')).toBeLessThan(t);
  });

  it('reads forecastData from forecasts/current', async () => {
    server.route('/emissions/forecasts/current', { body: fixture('carbon-aware-forecasts-current.json') });
    const points = await carbonAwareSdk({ baseUrl: server.baseUrl, fetch, now, location: 'eastus' }).forecast(1);
    expect(points.map((p) => [p.time.slice(11, 16), p.gPerKwh, p.kind, p.durationMinutes, p.signal])).toEqual([
      ['14:45', 380.1, 'forecast', 5, undefined],
      ['14:50', 371.6, 'forecast', 5, undefined],
      ['14:55', 359.23, 'forecast', 5, undefined],
    ]);
    expect(server.requests[0].query.get('location')).toBe('eastus');
  });

  it('reads .NET TimeSpan durations', () => {
    expect(timeSpanMinutes('00:05:00')).toBe(5);
    expect(timeSpanMinutes('08:00:00')).toBe(480);
    expect(timeSpanMinutes('1.00:30:00')).toBe(1470);
    expect(timeSpanMinutes('00:00:30.5000000')).toBe(0.5);
    expect(timeSpanMinutes('PT5M')).toBeUndefined();
  });
});
