import { JOULES_PER_KWH } from '@carboncp/carbon';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { DecisionCandidate } from '../candidates/candidate.js';
import type { DecisionContext } from './context.js';

/**
 * One server site's present, as the decision sees it (DecisionContext.sites, keyed by the
 * candidates' `site`): its grid's intensity, its water per kWh, its measured RTT and whether it
 * is up. Water per kWh is the site's WUE plus the grid's water per kWh where a source gives it
 * (the ten-site file of Li et al. gives one WUE figure only: see @carboncp/carbon siteWaterLPerKwh).
 */
export interface SiteConditions {
  intensityGPerKwh: number;
  /** Litres per kWh of server energy; default 0 (no water figure). */
  waterLPerKwh?: number;
  /** Measured RTT to this site (ms); without it, the context's RTT plus the candidate's siteRttMs. */
  rttMs?: number;
  /** false: the site is down and its candidates are out (the 'site' rule). Default true. */
  up?: boolean;
}

function siteOf(c: Pick<DecisionCandidate, 'site'>, ctx: DecisionContext): SiteConditions | undefined {
  return c.site === undefined || ctx.sites === undefined ? undefined : ctx.sites[c.site];
}

/** The grid intensity where the candidate's tail runs: its site's, else the context's server intensity. */
export function serverIntensityFor(c: Pick<DecisionCandidate, 'site'>, ctx: DecisionContext): number {
  return siteOf(c, ctx)?.intensityGPerKwh ?? ctx.serverIntensityGPerKwh;
}

/** The RTT to the candidate's server: its site's measured RTT, else the context's plus the candidate's offset. */
export function rttFor(c: Pick<DecisionCandidate, 'site' | 'siteRttMs'>, ctx: DecisionContext): number {
  return siteOf(c, ctx)?.rttMs ?? ctx.rttMs.mean + (c.siteRttMs ?? 0);
}

/** Whether the candidate's site is known to be down (a candidate without a site never is). */
export function siteDown(c: Pick<DecisionCandidate, 'site'>, ctx: DecisionContext): boolean {
  return siteOf(c, ctx)?.up === false;
}

/** Server energy of a tail run (J): serverPowerW x PUE x compute time, the queue's wait taken out of serverMs. */
export function serverEnergyJ(ctx: DecisionContext, serverMs: number): number {
  return (ctx.serverPowerW * (ctx.serverPue ?? 1) * (serverMs / (1 + ctx.serverQueueDepth))) / 1000;
}

/** Litres of water a tail run consumes at the candidate's site (0 without a site or a water figure). */
export function siteWaterL(c: Pick<DecisionCandidate, 'site'>, ctx: DecisionContext, serverMs: number): number {
  const water = siteOf(c, ctx)?.waterLPerKwh ?? 0;
  return water === 0 ? 0 : (serverEnergyJ(ctx, serverMs) / JOULES_PER_KWH) * water;
}

/**
 * A request's footprint at its site, as the carbon objective, the equity cap and every tally of
 * it count it: the server's grams at the site plus waterWeight (g CO2e per litre) x its litres.
 */
export function siteFootprintG(serverCarbonG: number, waterL: number, waterWeight: number): number {
  return serverCarbonG + waterWeight * waterL;
}

/**
 * What the carbon objective adds for a site candidate: waterWeight (g CO2e per litre) x its
 * litres, plus the equity multiplier of its site (SiteEquity) x its site footprint (the server's
 * grams at the site plus the weighted water), the Lagrangian term of the share cap. 0 without a site.
 */
export function siteObjectiveExtra(c: Pick<DecisionCandidate, 'site'>, ctx: DecisionContext, serverMs: number, waterWeight: number, penalties: Readonly<Record<string, number>> | undefined): number {
  if (c.site === undefined) return 0;
  const water = waterWeight === 0 ? 0 : waterWeight * siteWaterL(c, ctx, serverMs);
  const lambda = penalties?.[c.site] ?? 0;
  if (lambda === 0) return water;
  const serverG = (serverEnergyJ(ctx, serverMs) / JOULES_PER_KWH) * serverIntensityFor(c, ctx);
  return water + lambda * siteFootprintG(serverG, water, 1);
}

/** Refuses a malformed sites map (CARBONCP_INVALID_ARGUMENT naming the site and field). */
export function checkSites(sites: DecisionContext['sites']): void {
  if (sites === undefined) return;
  for (const name in sites) {
    if (!Object.hasOwn(sites, name)) continue;
    const s = sites[name]!;
    const bad = (field: string, value: unknown): never => {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `decision context: sites.${name}.${field} must be a finite number >= 0, got ${JSON.stringify(value)}`);
    };
    if (!(Number.isFinite(s?.intensityGPerKwh) && s.intensityGPerKwh >= 0)) bad('intensityGPerKwh', s?.intensityGPerKwh);
    if (s.waterLPerKwh !== undefined && !(Number.isFinite(s.waterLPerKwh) && s.waterLPerKwh >= 0)) bad('waterLPerKwh', s.waterLPerKwh);
    if (s.rttMs !== undefined && !(Number.isFinite(s.rttMs) && s.rttMs >= 0)) bad('rttMs', s.rttMs);
  }
}
