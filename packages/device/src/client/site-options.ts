import { siteIndexAt, siteWaterLPerKwh, type IntensityPoint, type SiteSeries } from '@carboncp/carbon';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';

/**
 * One server site of a client with several (`servers`, issue #11 §3): where it is, and what the
 * decision needs to know of it that its connection does not measure. Its RTT and uplink are
 * measured on its own connection (keepalive pings, requests); its grid intensity comes from its
 * pongs when the server reports one, else from `carbon`, else from `trace`.
 */
export interface SiteOptions {
  /** The site's name: the candidates' `site`, telemetry's `site.name`; distinct, non-empty. */
  name: string;
  /** ws:// or wss:// URL of the site's carboncp server. */
  url: string;
  /** The site's token; default the client's. */
  token?: string;
  /**
   * The site's grid intensity when its pongs carry none: a constant (g CO2e/kWh) or a cached
   * reader (withLastKnown(provider) refreshed on a timer, read with peek()): the request path never fetches.
   */
  carbon?: number | (() => IntensityPoint | undefined);
  /** The site's water usage effectiveness, litres per kWh of server energy (on site). */
  wue?: number;
  /** The grid's water per kWh (off site), added to wue. */
  gridWaterLPerKwh?: number;
  /**
   * An hourly series of the ten-site file (parseSiteTrace of @carboncp/carbon, ../shared/data/sites):
   * carbon and WUE read at the request's time where `carbon` and `wue` are not given.
   */
  trace?: SiteSeries;
}

/** `equity`: cap the worst site's share of the sites' footprint (SiteEquity, Li et al.'s online dual update). */
export interface SiteEquityClientOptions {
  /** Largest share of the sites' footprint one site should carry, in [1/sites, 1]. */
  maxShare: number;
  /** Step of the dual update per request; default 0.5 (SiteEquity). */
  step?: number;
  /**
   * Grams CO2e per litre of water in a site's footprint; it should be the decision's own
   * (calibrator.defaults.waterWeight), which createClient uses when this is not given. Default 0.
   */
  waterWeight?: number;
}

/** The sites of a client, checked: one site named 'server' for a client given a single `server`. */
export interface ResolvedSite {
  name: string;
  url: string;
  token: string | undefined;
  carbon: SiteOptions['carbon'];
  wue: number | undefined;
  gridWaterLPerKwh: number;
  trace: SiteSeries | undefined;
}

/** The name of the one site of a client given `server` (telemetry carries no `site` then). */
export const SINGLE_SITE = 'server';

const bad = (message: string) => new CarboncpError(ErrorCode.INVALID_ARGUMENT, message);
const isUrl = (url: unknown): url is string => typeof url === 'string' && /^wss?:\/\//.test(url);

/** `server` or `servers` (exactly one of them), checked; the first site is the primary (serverContext(), probeNetwork()). */
export function resolveSites(server: unknown, servers: unknown, token: string | undefined): ResolvedSite[] {
  if (servers === undefined) {
    if (!isUrl(server)) throw bad(`server must be a ws:// or wss:// URL, got ${JSON.stringify(server)}`);
    return [{ name: SINGLE_SITE, url: server, token, carbon: undefined, wue: undefined, gridWaterLPerKwh: 0, trace: undefined }];
  }
  if (server !== undefined) throw bad('server and servers exclude each other: give one URL or a list of sites');
  if (!Array.isArray(servers) || servers.length === 0) throw bad('servers must be a non-empty list of sites { name, url, ... }');
  const names = new Set<string>();
  return servers.map((s: SiteOptions, i) => {
    if (s === null || typeof s !== 'object') throw bad(`servers[${i}] must be an object { name, url, ... }`);
    if (typeof s.name !== 'string' || s.name === '' || names.has(s.name)) throw bad(`servers[${i}].name must be a non-empty name no other site has, got ${JSON.stringify(s.name)}`);
    names.add(s.name);
    if (!isUrl(s.url)) throw bad(`servers[${i}] ('${s.name}'): url must be a ws:// or wss:// URL, got ${JSON.stringify(s.url)}`);
    if (s.token !== undefined && typeof s.token !== 'string') throw bad(`servers[${i}] ('${s.name}'): token must be a string`);
    const c = s.carbon;
    if (c !== undefined && typeof c !== 'function' && !(typeof c === 'number' && Number.isFinite(c) && c >= 0)) {
      throw bad(`servers[${i}] ('${s.name}'): carbon must be g CO2e/kWh >= 0 or a function returning a cached IntensityPoint`);
    }
    for (const field of ['wue', 'gridWaterLPerKwh'] as const) {
      const v = s[field];
      if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw bad(`servers[${i}] ('${s.name}'): ${field} must be litres per kWh >= 0, got ${String(v)}`);
    }
    if (s.trace !== undefined && !(Array.isArray(s.trace?.carbonGPerKwh) && Array.isArray(s.trace?.wueLPerKwh))) {
      throw bad(`servers[${i}] ('${s.name}'): trace must be a series of parseSiteTrace (@carboncp/carbon)`);
    }
    return { name: s.name, url: s.url, token: s.token ?? token, carbon: c, wue: s.wue, gridWaterLPerKwh: s.gridWaterLPerKwh ?? 0, trace: s.trace };
  });
}

/** The site's grid intensity from its options at a time (pongs aside): carbon, else its trace; undefined when neither says. */
export function configuredIntensity(site: ResolvedSite, epochMs: number): number | undefined {
  const c = site.carbon;
  if (typeof c === 'number') return c;
  if (typeof c === 'function') return c()?.gPerKwh;
  return site.trace ? site.trace.carbonGPerKwh[siteIndexAt(site.trace, epochMs)] : undefined;
}

/** Litres per kWh of server energy at the site: wue (or its trace's) plus the grid's water. */
export function siteWaterPerKwh(site: ResolvedSite, epochMs: number): number {
  if (site.wue !== undefined) return site.wue + site.gridWaterLPerKwh;
  if (site.trace) return siteWaterLPerKwh(site.trace, siteIndexAt(site.trace, epochMs)) + site.gridWaterLPerKwh;
  return site.gridWaterLPerKwh;
}

export function checkEquityOptions(equity: SiteEquityClientOptions | undefined, sites: readonly ResolvedSite[]): SiteEquityClientOptions | undefined {
  if (equity === undefined) return undefined;
  if (equity === null || typeof equity !== 'object') throw bad('equity must be an object { maxShare, step?, waterWeight? }');
  if (sites.length < 2) throw bad('equity caps the worst site\'s share: it needs servers with at least two sites');
  // SiteEquity checks maxShare and step against the number of sites when it is built.
  if (equity.waterWeight !== undefined && !(Number.isFinite(equity.waterWeight) && equity.waterWeight >= 0)) throw bad(`equity.waterWeight must be a number >= 0, got ${String(equity.waterWeight)}`);
  return equity;
}
