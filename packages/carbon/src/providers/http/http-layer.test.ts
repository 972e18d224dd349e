/**
 * The shared HTTP layer, swept over every HTTP provider against a local server: TTL cache,
 * 429 with Retry-After (seconds and HTTP date) as a back-off that sends nothing, 5xx and
 * malformed JSON as coded errors, timeouts, and the request-path rule (last known value,
 * stale; fallback before any value). Time is the injected clock; nothing sleeps.
 */
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IntensityProvider } from '../../intensity.js';
import { carbonAwareSdk } from './carbon-aware-sdk.js';
import { electricityMaps } from './electricity-maps.js';
import { DEFAULT_RETRY_AFTER_MS, HttpJsonClient, MAX_RETRY_AFTER_MS, parseRetryAfter, withLastKnown, type HttpProviderOptions, type LastKnownProvider } from './http-layer.js';
import { ukCarbonIntensity } from './uk-carbon-intensity.js';
import { wattTime } from './watttime.js';
import { fixture, startLocalServer, type LocalServer } from './testing/local-server.test-support.js';

let server: LocalServer;
let t = 0;
const now = (): number => t;
const fetch = globalThis.fetch;
const TTL = 60_000;

beforeEach(async () => {
  server = await startLocalServer();
});
afterEach(async () => {
  await server.close();
});

interface Case {
  name: string;
  /** The clock's start: just after the fixture's current interval begins. */
  start: string;
  /** The path current() reads, and its documented answer. */
  path: string;
  body: string;
  /** The path forecast() reads, and its documented answer. */
  forecastPath: string;
  forecastBody: string;
  /** Routes a provider needs besides (WattTime's login). */
  setup?: (s: LocalServer) => void;
  make: (base: string, options: HttpProviderOptions) => LastKnownProvider;
  gPerKwh: number;
}

const CASES: Case[] = [
  {
    name: 'uk-carbon-intensity',
    start: '2018-01-20T12:10:00Z',
    path: '/intensity',
    body: fixture('uk-intensity.json'),
    forecastPath: '/intensity/2018-01-20T12:00Z/fw24h',
    forecastBody: fixture('uk-intensity-fw24h.json'),
    make: (base, o) => ukCarbonIntensity({ ...o, baseUrl: base }),
    gPerKwh: 263,
  },
  {
    name: 'electricitymaps',
    start: '2019-05-21T00:20:00Z',
    path: '/v3/carbon-intensity/latest',
    body: fixture('electricitymaps-latest.json'),
    forecastPath: '/v3/carbon-intensity/forecast',
    forecastBody: fixture('electricitymaps-forecast.json'),
    make: (base, o) => electricityMaps({ ...o, baseUrl: `${base}/v3`, apiKey: 'k', zone: 'DE' }),
    gPerKwh: 302,
  },
  {
    name: 'watttime',
    start: '2023-08-16T20:52:00Z',
    path: '/v3/forecast',
    body: fixture('watttime-forecast.json'),
    forecastPath: '/v3/forecast',
    forecastBody: fixture('watttime-forecast.json'),
    setup: (s) => s.route('/login', { body: fixture('watttime-login.json') }),
    make: (base, o) => wattTime({ ...o, baseUrl: base, username: 'u', password: 'p', region: 'CAISO_NORTH' }),
    gPerKwh: 870 * 0.453592,
  },
  {
    name: 'carbon-aware-sdk',
    start: '2022-06-01T14:47:00Z',
    path: '/emissions/bylocation',
    body: fixture('carbon-aware-bylocation.json'),
    forecastPath: '/emissions/forecasts/current',
    forecastBody: fixture('carbon-aware-forecasts-current.json'),
    make: (base, o) => carbonAwareSdk({ ...o, baseUrl: base, location: 'eastus' }),
    gPerKwh: 65.3,
  },
];

describe.each(CASES)('$name over the shared HTTP layer', (c) => {
  beforeEach(() => {
    t = Date.parse(c.start);
    c.setup?.(server);
  });
  const make = (extra: HttpProviderOptions = {}) => c.make(server.baseUrl, { fetch, now, cacheTtlMs: TTL, ...extra });
  const ok = () => server.route(c.path, { body: c.body });

  it('answers a second call within the TTL from its cache, and asks again after it', async () => {
    ok();
    const provider = make();
    const first = await provider.current();
    expect(first.gPerKwh).toBeCloseTo(c.gPerKwh, 9);
    t += TTL - 1;
    expect(await provider.current()).toEqual(first);
    expect(server.count(c.path)).toBe(1);
    t += 1;
    await provider.current();
    expect(server.count(c.path)).toBe(2);
  });

  it('shares one request between concurrent calls', async () => {
    ok();
    const provider = make();
    const answers = await Promise.all([provider.current(), provider.current(), provider.current()]);
    expect(new Set(answers.map((a) => a.gPerKwh)).size).toBe(1);
    expect(server.count(c.path)).toBe(1);
  });

  it.each([
    ['delay-seconds', (): string => '120', 120_000],
    ['an HTTP date', (): string => new Date(t + 90_000).toUTCString(), 90_000],
  ])('honours 429 with Retry-After as %s: nothing is sent until then', async (_, header, wait) => {
    server.route(c.path, { status: 429, headers: { 'retry-after': header() }, body: '{"error":"too many requests"}' });
    const provider = make();
    const start = t;
    await expect(provider.current()).rejects.toMatchObject({ code: ErrorCode.RATE_LIMITED, details: { retryAt: start + wait } });
    ok();
    const sent = server.requests.length;
    t = start + wait - 1;
    await expect(provider.current()).rejects.toMatchObject({ code: ErrorCode.RATE_LIMITED });
    await expect(provider.forecast(1)).rejects.toMatchObject({ code: ErrorCode.RATE_LIMITED });
    expect(server.requests.length).toBe(sent);
    t = start + wait;
    expect((await provider.current()).gPerKwh).toBeCloseTo(c.gPerKwh, 9);
    expect(server.count(c.path)).toBe(2);
  });

  it('answers the last known value, stale, once it has had one: through 5xx, 429, malformed JSON and timeouts', async () => {
    ok();
    // Long enough that the answered requests never hit it on a loaded machine (a 50 ms limit
    // did, once); only the hanging one waits it out.
    const provider = make({ timeoutMs: 500 });
    const fresh = await provider.current();
    const failures: Array<[string, () => void, string]> = [
      ['5xx', () => server.route(c.path, { status: 503, body: 'Service Unavailable' }), ErrorCode.PROVIDER],
      ['malformed JSON', () => server.route(c.path, { body: '{"data": [' }), ErrorCode.PROVIDER],
      ['wrong shape', () => server.route(c.path, { body: '{"unexpected": true}' }), ErrorCode.PROVIDER],
      ['timeout', () => server.route(c.path, 'hang'), ErrorCode.TIMEOUT],
      ['429', () => server.route(c.path, { status: 429, headers: { 'retry-after': '30' }, body: '' }), ErrorCode.RATE_LIMITED],
    ];
    for (const [what, fail, code] of failures) {
      t += TTL;
      fail();
      const stale = await provider.current();
      expect(stale, what).toEqual({ ...fresh, stale: true });
      expect((provider.lastError as CarboncpError).code, what).toBe(code);
    }
    t += MAX_RETRY_AFTER_MS;
    ok();
    const back = await provider.current();
    expect(back.stale, String(provider.lastError)).toBeUndefined();
    expect(provider.lastError).toBeUndefined();
  });

  it.each([
    ['5xx', { status: 500, body: '{"error":"internal"}' }, ErrorCode.PROVIDER],
    ['malformed JSON', { body: 'not json' }, ErrorCode.PROVIDER],
    ['an empty body', { body: '' }, ErrorCode.PROVIDER],
  ] as const)('throws a coded error before any value: %s', async (_, reply, code) => {
    server.route(c.path, reply);
    await expect(make().current()).rejects.toMatchObject({ code });
  });

  it('times out a server that never answers (TIMEOUT), and answers the fallback, estimated, when given one', async () => {
    server.route(c.path, 'hang');
    await expect(make({ timeoutMs: 30 }).current()).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
    const fallen = await make({ timeoutMs: 30, fallback: 250 }).current();
    expect(fallen).toMatchObject({ gPerKwh: 250, kind: 'estimated', source: `${c.name}:fallback`, time: new Date(t).toISOString() });
  });

  it('answers the last forecast, stale, when the service fails', async () => {
    server.route(c.forecastPath, { body: c.forecastBody });
    const provider = make();
    const first = await provider.forecast(1);
    expect(first.length).toBeGreaterThan(0);
    t += TTL;
    server.route(c.forecastPath, { status: 502, body: '' });
    expect(await provider.forecast(1)).toEqual(first.map((p) => ({ ...p, stale: true })));
    expect(server.count(c.forecastPath)).toBe(2);
  });
});

describe('withLastKnown', () => {
  const point = { time: '2024-01-01T00:00:00.000Z', gPerKwh: 100, zone: 'Z', source: 'a', kind: 'measured' as const };
  const failing = (code: string): IntensityProvider => ({
    name: 'broken',
    current: () => Promise.reject(new CarboncpError(code, 'down')),
    forecast: () => Promise.reject(new CarboncpError(code, 'down')),
  });

  it('answers a fallback provider labelled estimated, and the original error when that fails too', async () => {
    const fallback: IntensityProvider = { name: 'static', current: async () => point, forecast: async () => [point] };
    expect(await withLastKnown(failing(ErrorCode.PROVIDER), { fallback }).current()).toEqual({ ...point, kind: 'estimated' });
    await expect(withLastKnown(failing(ErrorCode.PROVIDER), { fallback: failing(ErrorCode.TIMEOUT) }).current()).rejects.toMatchObject({ code: ErrorCode.PROVIDER });
  });

  it('keeps the last value per zone', async () => {
    let fail = false;
    const inner: IntensityProvider = {
      name: 'z',
      current: async (q) => {
        if (fail) throw new CarboncpError(ErrorCode.PROVIDER, 'down');
        return { ...point, zone: q?.zone ?? 'Z' };
      },
      forecast: async () => [],
    };
    const provider = withLastKnown(inner);
    expect(provider.peek({ zone: 'A' })).toBeUndefined();
    await provider.current({ zone: 'A' });
    expect(provider.peek({ zone: 'A' })).toEqual({ ...point, zone: 'A' });
    fail = true;
    expect(await provider.current({ zone: 'A' })).toMatchObject({ zone: 'A', stale: true });
    expect(provider.peek({ zone: 'A' })).toEqual({ ...point, zone: 'A', stale: true });
    await expect(provider.current({ zone: 'B' })).rejects.toMatchObject({ code: ErrorCode.PROVIDER });
    expect(provider.peek({ zone: 'B' })).toBeUndefined();
    fail = false;
    await provider.current({ zone: 'A' });
    expect(provider.peek({ zone: 'A' })?.stale).toBeUndefined();
  });

  it('throws caller errors (INVALID_ARGUMENT) even with a value known', async () => {
    let bad = false;
    const inner: IntensityProvider = {
      name: 'x',
      current: async () => {
        if (bad) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'bad at');
        return point;
      },
      forecast: async () => [],
    };
    const provider = withLastKnown(inner);
    await provider.current();
    bad = true;
    await expect(provider.current()).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
  });
});

describe('HttpJsonClient', () => {
  it('reads Retry-After as seconds or an HTTP date on the injected clock', () => {
    const at = Date.parse('2024-03-01T10:00:00Z');
    expect(parseRetryAfter('30', at)).toBe(30_000);
    expect(parseRetryAfter(' 0 ', at)).toBe(0);
    expect(parseRetryAfter('Fri, 01 Mar 2024 10:02:00 GMT', at)).toBe(120_000);
    expect(parseRetryAfter('Fri, 01 Mar 2024 09:00:00 GMT', at)).toBe(0);
    expect(parseRetryAfter('soon', at)).toBeUndefined();
    expect(parseRetryAfter(null, at)).toBeUndefined();
  });

  it('backs off by the default without Retry-After, and at most MAX_RETRY_AFTER_MS', async () => {
    t = 1_000_000;
    server.route('/a', { status: 429, body: '' });
    server.route('/b', { status: 429, headers: { 'retry-after': '999999' }, body: '' });
    const a = new HttpJsonClient('test', { fetch, now });
    await expect(a.getJson(`${server.baseUrl}/a`)).rejects.toMatchObject({ code: ErrorCode.RATE_LIMITED });
    expect(a.retryAt).toBe(t + DEFAULT_RETRY_AFTER_MS);
    const b = new HttpJsonClient('test', { fetch, now });
    await expect(b.getJson(`${server.baseUrl}/b`)).rejects.toMatchObject({ code: ErrorCode.RATE_LIMITED });
    expect(b.retryAt).toBe(t + MAX_RETRY_AFTER_MS);
  });

  it('names an unreachable service PROVIDER, and keeps the query (it may hold a key) out of messages', async () => {
    const closed = await startLocalServer();
    const url = `${closed.baseUrl}/x?key=secret`;
    await closed.close();
    const error = await new HttpJsonClient('test', { fetch, now }).getJson(url).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.PROVIDER });
    expect((error as Error).message).not.toContain('secret');
  });

  it('drops expired entries, so a cache of time-stamped URLs does not grow', async () => {
    t = 0;
    server.route('/v', { body: '{"v":1}' });
    const client = new HttpJsonClient('test', { fetch, now, cacheTtlMs: 1000 });
    for (let i = 0; i < 5; i++) {
      await client.getJson(`${server.baseUrl}/v?at=${i}`);
      t += 1000;
    }
    expect(client.cacheSize).toBe(1);
    expect(client.requestsSent).toBe(5);
  });

  it('refuses unusable options', () => {
    expect(() => new HttpJsonClient('test', { timeoutMs: 0 })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => new HttpJsonClient('test', { cacheTtlMs: -1 })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });
});
