/**
 * What every HTTP carbon-intensity provider shares: a JSON GET with a per-request timeout, a TTL
 * cache, HTTP 429 honoured as a back-off during which nothing is sent, coded errors; and the
 * request-path rule (withLastKnown): once a provider has produced one value, current() never
 * throws again, it answers the last known value labelled `stale: true`.
 *
 * Platform-neutral: only fetch, AbortController and setTimeout, all injectable or global in
 * browsers and Node 20+.
 */
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { IntensityPoint, IntensityProvider, IntensityQuery } from '../../intensity.js';

/** The part of fetch the providers use; pass `globalThis.fetch` or a fake. */
export type FetchLike = (
  url: string,
  init: { method: 'GET'; headers: Record<string, string>; signal: AbortSignal },
) => Promise<Pick<Response, 'status' | 'ok' | 'headers' | 'text'>>;

/** Options every HTTP provider takes. */
export interface HttpProviderOptions {
  /** The service's base URL (tests point it at 127.0.0.1). */
  baseUrl?: string;
  /** fetch to use; default globalThis.fetch. */
  fetch?: FetchLike;
  /** Clock in ms since the epoch, for the cache, the back-off and "now"; default Date.now. */
  now?: () => number;
  /** Per-request limit in ms, covering headers and body; default 10 000. */
  timeoutMs?: number;
  /** How long an answer is reused without asking again, in ms; default 300 000 (5 minutes). */
  cacheTtlMs?: number;
  /** Back-off after a 429 that carries no usable Retry-After, in ms; default 60 000. */
  defaultRetryAfterMs?: number;
  /**
   * What current() answers when the service fails before it ever answered: a fixed g/kWh or
   * another provider, labelled kind 'estimated'. Without it that first failure throws its coded error.
   */
  fallback?: number | IntensityProvider;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_CACHE_TTL_MS = 5 * 60_000;
export const DEFAULT_RETRY_AFTER_MS = 60_000;
/** A Retry-After further out than this is taken as this: a misconfigured server must not silence a provider for days. */
export const MAX_RETRY_AFTER_MS = 60 * 60_000;

/**
 * Milliseconds to wait from a Retry-After header (RFC 9110 section 10.2.3: delay-seconds or an
 * HTTP-date), measured on the injected clock; undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

interface CacheEntry {
  expiresAt: number;
  value: unknown;
}

/** One service's HTTP client: cache, back-off and in-flight requests are per instance. */
export class HttpJsonClient {
  private readonly fetchImpl: FetchLike;
  readonly now: () => number;
  private readonly timeoutMs: number;
  private readonly cacheTtlMs: number;
  private readonly defaultRetryAfterMs: number;
  private readonly cache = new Map<string, CacheEntry>();
  /** Entries held (expired ones are dropped on the next store). */
  get cacheSize(): number {
    return this.cache.size;
  }
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private backoffUntil = 0;
  /** Requests actually sent (not answered from cache or refused during a back-off). */
  requestsSent = 0;

  constructor(
    /** Name used in error messages and details (the provider's source name). */
    readonly source: string,
    options: HttpProviderOptions = {},
  ) {
    const fetchImpl = options.fetch ?? (globalThis.fetch as FetchLike | undefined);
    if (fetchImpl === undefined) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${source}: no fetch in this runtime; pass options.fetch`);
    this.fetchImpl = fetchImpl;
    this.now = options.now ?? Date.now;
    this.timeoutMs = positive(options.timeoutMs, DEFAULT_TIMEOUT_MS, 'timeoutMs', source);
    this.cacheTtlMs = nonNegative(options.cacheTtlMs, DEFAULT_CACHE_TTL_MS, 'cacheTtlMs', source);
    this.defaultRetryAfterMs = nonNegative(options.defaultRetryAfterMs, DEFAULT_RETRY_AFTER_MS, 'defaultRetryAfterMs', source);
  }

  /** The instant (ms) before which no request is sent, after a 429; 0 when none. */
  get retryAt(): number {
    return this.backoffUntil;
  }

  /**
   * GETs JSON. An answer younger than the TTL is reused (`cache: false` skips the cache, for
   * logins); concurrent identical GETs share one request. Throws CarboncpError: RATE_LIMITED
   * (a 429 now or a back-off in force: nothing sent), TIMEOUT, UNAUTHORIZED (401, 403), PROVIDER
   * (network failure, other error status, malformed JSON).
   */
  async getJson(url: string, headers: Record<string, string> = {}, options: { cache?: boolean } = {}): Promise<unknown> {
    const useCache = options.cache !== false;
    const key = `${url}\n${JSON.stringify(headers)}`;
    if (useCache) {
      const hit = this.cache.get(key);
      if (hit !== undefined && hit.expiresAt > this.now()) return hit.value;
      const pending = this.inFlight.get(key);
      if (pending !== undefined) return pending;
    }
    const now = this.now();
    if (now < this.backoffUntil) {
      throw new CarboncpError(ErrorCode.RATE_LIMITED, `${this.source}: rate limited, next request allowed at ${new Date(this.backoffUntil).toISOString()}`, {
        details: { source: this.source, retryAt: this.backoffUntil },
      });
    }
    const request = this.send(url, headers).then((value) => {
      if (useCache && this.cacheTtlMs > 0) {
        // URLs that carry a time (a forecast's start) change every few minutes: drop what has
        // expired so that a long-running server's cache stays the size of one TTL's requests.
        const at = this.now();
        for (const [k, entry] of this.cache) if (entry.expiresAt <= at) this.cache.delete(k);
        this.cache.set(key, { expiresAt: at + this.cacheTtlMs, value });
      }
      return value;
    });
    if (!useCache) return request;
    this.inFlight.set(key, request);
    try {
      return await request;
    } finally {
      this.inFlight.delete(key);
    }
  }

  private async send(url: string, headers: Record<string, string>): Promise<unknown> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    const where = redact(url);
    this.requestsSent++;
    try {
      let response;
      try {
        response = await this.fetchImpl(url, { method: 'GET', headers: { accept: 'application/json', ...headers }, signal: controller.signal });
      } catch (error) {
        throw this.transportError(error, controller.signal, where);
      }
      let body: string;
      try {
        body = await response.text();
      } catch (error) {
        throw this.transportError(error, controller.signal, where);
      }
      const details = { source: this.source, url: where, status: response.status };
      if (response.status === 429) {
        const wait = Math.min(parseRetryAfter(response.headers.get('retry-after'), this.now()) ?? this.defaultRetryAfterMs, MAX_RETRY_AFTER_MS);
        this.backoffUntil = this.now() + wait;
        throw new CarboncpError(ErrorCode.RATE_LIMITED, `${this.source}: 429 Too Many Requests from ${where}; retrying after ${Math.round(wait / 1000)} s`, {
          details: { ...details, retryAt: this.backoffUntil },
        });
      }
      if (response.status === 401 || response.status === 403) {
        throw new CarboncpError(ErrorCode.UNAUTHORIZED, `${this.source}: ${response.status} from ${where}: the key or credentials were refused`, { details });
      }
      if (!response.ok) {
        throw new CarboncpError(ErrorCode.PROVIDER, `${this.source}: HTTP ${response.status} from ${where}: ${body.slice(0, 200)}`, { details });
      }
      try {
        return JSON.parse(body) as unknown;
      } catch (error) {
        throw new CarboncpError(ErrorCode.PROVIDER, `${this.source}: malformed JSON from ${where}: ${body.slice(0, 80)}`, { cause: error, details });
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private transportError(error: unknown, signal: AbortSignal, where: string): CarboncpError {
    if (signal.aborted) {
      return new CarboncpError(ErrorCode.TIMEOUT, `${this.source}: no answer from ${where} within ${this.timeoutMs} ms`, {
        cause: error,
        details: { source: this.source, url: where, timeoutMs: this.timeoutMs },
      });
    }
    const message = error instanceof Error ? error.message : String(error);
    return new CarboncpError(ErrorCode.PROVIDER, `${this.source}: cannot reach ${where}: ${message}`, { cause: error, details: { source: this.source, url: where } });
  }
}

/** The URL without its query string, for messages (a query may carry a key). */
function redact(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function positive(value: number | undefined, fallback: number, name: string, source: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${source}: ${name} must be a positive number, got ${value}`);
  return value;
}

function nonNegative(value: number | undefined, fallback: number, name: string, source: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${source}: ${name} must be a non-negative number, got ${value}`);
  return value;
}

/** A provider's answer did not have the documented shape: a PROVIDER error naming what was wrong. */
export function badShape(source: string, what: string): CarboncpError {
  return new CarboncpError(ErrorCode.PROVIDER, `${source}: unexpected response: ${what}`, { details: { source } });
}

/** Reads a finite number field or throws badShape. */
export function numberField(source: string, value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw badShape(source, `${what} is not a number (${JSON.stringify(value)})`);
  return value;
}

/** Reads a date-time field into canonical ISO 8601 UTC, or throws badShape. */
export function timeField(source: string, value: unknown, what: string): string {
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw badShape(source, `${what} is not a date-time (${JSON.stringify(value)})`);
  return new Date(ms).toISOString();
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The point whose interval holds `at` (the last starting at or before it), else undefined. */
export function pointAt(points: readonly IntensityPoint[], at: number): IntensityPoint | undefined {
  let found: IntensityPoint | undefined;
  for (const point of points) {
    if (Date.parse(point.time) <= at) found = point;
    else break;
  }
  return found;
}

/** Points of a forecast that overlap [from, from + hours), in time order. */
export function pointsWithin(points: readonly IntensityPoint[], from: number, hours: number): IntensityPoint[] {
  const end = from + hours * 3_600_000;
  const sorted = [...points].sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  return sorted.filter((point, i) => {
    const start = Date.parse(point.time);
    const next = sorted[i + 1];
    const stop = point.durationMinutes !== undefined ? start + point.durationMinutes * 60_000 : next !== undefined ? Date.parse(next.time) : start + 1;
    return stop > from && start < end;
  });
}

/** A provider wrapped by withLastKnown: it also says what went wrong last. */
export interface LastKnownProvider extends IntensityProvider {
  /** The error of the latest failed call, cleared by the next success. */
  readonly lastError: unknown;
  /** The provider it wraps. */
  readonly inner: IntensityProvider;
  /**
   * The last value current() answered for the zone, without I/O (for a request path that must
   * not wait on the network: refresh with current() on a timer, read with peek()); stale when
   * the latest call failed; undefined before any value.
   */
  peek(query?: Pick<IntensityQuery, 'zone'>): IntensityPoint | undefined;
}

/**
 * The request-path rule. current() returns the provider's value, remembers it per zone, and when
 * the provider fails answers the last value it remembers with `stale: true`; before any value
 * it answers `options.fallback` (labelled 'estimated'), else throws the provider's coded error.
 * forecast() likewise answers the last forecast, stale, when the provider fails.
 * Argument errors (INVALID_ARGUMENT) are the caller's and always thrown.
 */
export function withLastKnown(inner: IntensityProvider, options: { fallback?: number | IntensityProvider; now?: () => number; zone?: string } = {}): LastKnownProvider {
  const now = options.now ?? Date.now;
  const lastCurrent = new Map<string, IntensityPoint>();
  const lastForecast = new Map<string, IntensityPoint[]>();
  const failed = new Map<string, boolean>();
  let lastError: unknown;
  const keyOf = (query?: IntensityQuery): string => query?.zone ?? '';
  const callerError = (error: unknown): boolean => error instanceof CarboncpError && error.code === ErrorCode.INVALID_ARGUMENT;

  return {
    name: inner.name,
    inner,
    get lastError() {
      return lastError;
    },
    peek(query) {
      const last = lastCurrent.get(keyOf(query));
      return last === undefined || failed.get(keyOf(query)) !== true ? last : { ...last, stale: true };
    },
    async current(query?: IntensityQuery): Promise<IntensityPoint> {
      try {
        const point = await inner.current(query);
        lastCurrent.set(keyOf(query), point);
        failed.set(keyOf(query), false);
        lastError = undefined;
        return point;
      } catch (error) {
        if (callerError(error)) throw error;
        lastError = error;
        failed.set(keyOf(query), true);
        const last = lastCurrent.get(keyOf(query));
        if (last !== undefined) return { ...last, stale: true };
        const fallback = options.fallback;
        if (typeof fallback === 'number') {
          return { time: new Date(now()).toISOString(), gPerKwh: fallback, zone: query?.zone ?? options.zone ?? 'unknown', source: `${inner.name}:fallback`, kind: 'estimated' };
        }
        if (fallback !== undefined) {
          try {
            return { ...(await fallback.current(query)), kind: 'estimated' };
          } catch {
            throw error;
          }
        }
        throw error;
      }
    },
    async forecast(hours: number, query?: IntensityQuery): Promise<IntensityPoint[]> {
      try {
        const points = await inner.forecast(hours, query);
        lastForecast.set(keyOf(query), points);
        lastError = undefined;
        return points;
      } catch (error) {
        if (callerError(error)) throw error;
        lastError = error;
        const last = lastForecast.get(keyOf(query));
        if (last === undefined) throw error;
        const from = query?.at ?? now();
        const kept = pointsWithin(last, from, hours);
        if (kept.length === 0) throw error;
        return kept.map((point) => ({ ...point, stale: true }));
      }
    },
  };
}

/** Base64 of a UTF-8 string (btoa alone refuses characters above U+00FF). */
export function base64Utf8(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** `base` + `path`, whatever slashes either has. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/** How far `query.at` may lie from now and still be answered by the latest value. */
export const NOW_TOLERANCE_MS = 30 * 60_000;

/**
 * current() for a service that knows now and the future: `at` within NOW_TOLERANCE_MS of now
 * (or absent) is the latest value; a later `at` is the forecast point that holds it; an earlier
 * one is refused (INVALID_ARGUMENT: these services' history endpoints are not wired; replay a
 * CSV trace for past instants).
 */
export async function currentAt(
  source: string,
  query: IntensityQuery | undefined,
  now: number,
  latest: () => Promise<IntensityPoint>,
  forecast: (hours: number, query: IntensityQuery) => Promise<IntensityPoint[]>,
): Promise<IntensityPoint> {
  const at = query?.at ?? now;
  if (Math.abs(at - now) <= NOW_TOLERANCE_MS) return latest();
  if (at < now) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${source}: answers for now and the future only, not ${new Date(at).toISOString()}; replay a CSV trace for past instants`);
  }
  const hours = Math.ceil((at - now) / 3_600_000) + 1;
  const point = pointAt(await forecast(hours, { ...query, at: now }), at);
  const ends = point === undefined || point.durationMinutes === undefined ? undefined : Date.parse(point.time) + point.durationMinutes * 60_000;
  if (point === undefined || (ends !== undefined && ends <= at)) throw badShape(source, `the forecast does not reach ${new Date(at).toISOString()}`);
  return point;
}
