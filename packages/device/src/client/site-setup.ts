import { badOption } from './client-options.js';
import type { SiteEquityClientOptions, SiteOptions } from './site-options.js';

/** What the platform entries' createClient take about sites (./node, ./browser). */
export interface SiteClientOptions {
  server?: string;
  servers?: SiteOptions[];
  equity?: SiteEquityClientOptions;
  calibrator?: { defaults?: { waterWeight?: number } };
}

/**
 * The site options of createClient as SplitClient takes them: `server` or `servers`, and `equity`
 * with the decision's waterWeight where none is given (one weight for what the decision prices
 * and what the cap counts). `equity` is refused without a calibrator: no other policy reads its prices.
 */
export function siteOptionsForClient(options: SiteClientOptions): { server?: string; servers?: SiteOptions[]; equity?: SiteEquityClientOptions } {
  if (options.equity !== undefined && options.calibrator === undefined) throw badOption('equity prices the sites in the calibrated decision: it needs a calibrator');
  const where = options.servers !== undefined ? { servers: options.servers } : options.server !== undefined ? { server: options.server } : {};
  if (options.equity === undefined) return where;
  return { ...where, equity: { ...options.equity, waterWeight: options.equity.waterWeight ?? options.calibrator?.defaults?.waterWeight ?? 0 } };
}

/** The calibrator's sites (candidatesForSites) for a client with `servers`. */
export function calibratorSites(options: SiteClientOptions): { sites?: string[] } {
  return options.servers ? { sites: options.servers.map((s) => s.name) } : {};
}
