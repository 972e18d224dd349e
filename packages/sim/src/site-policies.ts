/**
 * The site policies (issue #11 §3, §5): 'single-site' (one site, the best in hindsight unless
 * named; another only while it is down), 'carboncp-sites' (the site chosen per request by carbon,
 * weighted water and latency) and 'carboncp-sites-equity' (the same with SiteEquity's cap on the
 * worst site's share of the footprint). All are the calibrator's decision in 'robust' mode,
 * learning from the outcome of what they ran, as carboncp-robust does; what differs is what the
 * context tells them of the sites.
 */
import { CarbonAwareDecision, SiteEquity, siteFootprintG, type DecideOptions, type DecisionCandidate, type DecisionContext, type SiteConditions } from '@carboncp/calibrator';
import { seedFromString } from '@carboncp/core';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { Outcomes } from './outcomes.js';
import type { PolicySettings, SimPolicy } from './policies.js';
import type { PolicyName } from './policy-names.js';
import type { SiteWorld } from './site-world.js';

export const SITE_POLICIES: readonly PolicyName[] = ['single-site', 'carboncp-sites', 'carboncp-sites-equity'];

export interface SitePolicySettings {
  waterWeight: number;
  equityCap: number;
  equityStep: number;
  singleSite: string;
}

/** A request's footprint at its site, as the equity cap counts it: server grams at the site + waterWeight x litres. */
export function requestSiteFootprintG(k: number, truth: Outcomes, world: SiteWorld, waterWeight: number): number {
  return world.siteOf[k]! < 0 ? 0 : siteFootprintG(truth.carbonServerG[k]!, world.waterL(k, truth), waterWeight);
}

/** The sites as 'single-site' sees them: its own site up, the others down, unless its own is down (then the others are up: failover). */
function singleSiteView(all: Readonly<Record<string, SiteConditions>>, own: string, out: Record<string, SiteConditions>): Record<string, SiteConditions> {
  const ownUp = all[own]?.up !== false;
  for (const name in all) {
    const c = all[name]!;
    const view = (out[name] ??= { ...c });
    view.intensityGPerKwh = c.intensityGPerKwh;
    view.waterLPerKwh = c.waterLPerKwh ?? 0;
    view.up = name === own ? ownUp : !ownUp && c.up !== false;
  }
  return out;
}

export function createSitePolicy(name: PolicyName, candidates: readonly DecisionCandidate[], s: PolicySettings, world: SiteWorld, sites: SitePolicySettings): SimPolicy {
  if (!SITE_POLICIES.includes(name)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `'${name}' is not a site policy`);
  const exploration = s.decider.exploration === false ? false : { ...s.decider.exploration, seed: s.decider.exploration?.seed ?? seedFromString(name, s.seed) };
  const decider = new CarbonAwareDecision(candidates, { ...s.decider, alphas: [s.alpha], families: ['robust'], exploration });
  const byId = new Map(candidates.map((c, i) => [c.id, i]));
  const equity = name === 'carboncp-sites-equity' ? new SiteEquity({ sites: world.names, cap: sites.equityCap, step: sites.equityStep }) : undefined;
  const request: DecideOptions = {
    mode: 'robust',
    objective: 'carbon',
    sloMs: s.sloMs,
    alpha: s.alpha,
    waterWeight: sites.waterWeight,
    ...(s.maxOutputError !== undefined ? { maxOutputError: s.maxOutputError } : {}),
    ...(s.minQuality !== undefined ? { minQuality: s.minQuality } : {}),
    ...(s.batteryReserve !== undefined ? { batteryReserve: s.batteryReserve } : {}),
  };
  const view: Record<string, SiteConditions> = {};
  // single-site decides and learns in its own view of the sites (the context object is shared by the run).
  const own = (ctx: DecisionContext): DecisionContext => (name === 'single-site' ? { ...ctx, sites: singleSiteView(ctx.sites ?? {}, sites.singleSite, view) } : ctx);
  return {
    name,
    calibrated: true,
    choose(ctx) {
      const d = decider.decide(own(ctx), equity ? { ...request, sitePenalties: equity.penalties() } : request);
      const latency = d.predictions.latencyMs;
      return { index: byId.get(d.candidate.id)!, interval: { lower: latency.lower, upper: latency.upper }, explored: d.explored, sloUnmet: d.sloUnmet };
    },
    learn(ctx, choice, truth) {
      const k = choice.index;
      equity?.record(candidates[k]!.site, requestSiteFootprintG(k, truth, world, sites.waterWeight));
      // A request lost at a down site has no outcome to learn from (no policy here sends one there).
      if (Number.isFinite(truth.latencyMs[k]!)) decider.observe(truth.ids[k]!, own(ctx), truth.observation(k));
    },
  };
}

/** One policy's totals per site. */
export interface SitePolicyResult {
  /** Litres of water at the sites (server kWh x the site's water per kWh). */
  waterL: number;
  /** Grams CO2e emitted at the sites (the server's part). */
  serverCarbonG: number;
  requestsBySite: Record<string, number>;
  /** Requests run on the device alone. */
  onDevice: number;
  /** Each site's share of the sites' footprint (server grams + waterWeight x litres), and the largest. */
  shareBySite: Record<string, number>;
  maxShare: number;
  /** Requests sent to a site while it was down (never returned). */
  lost: number;
}

export class SiteTally {
  waterL = 0;
  serverCarbonG = 0;
  onDevice = 0;
  lost = 0;
  private readonly requests: Float64Array;
  private readonly footprint: Float64Array;

  constructor(
    private readonly world: SiteWorld,
    private readonly waterWeight: number,
  ) {
    this.requests = new Float64Array(world.names.length);
    this.footprint = new Float64Array(world.names.length);
  }

  add(k: number, truth: Outcomes): void {
    const j = this.world.siteOf[k]!;
    if (j < 0) {
      this.onDevice += 1;
      return;
    }
    const water = this.world.waterL(k, truth);
    this.waterL += water;
    this.serverCarbonG += truth.carbonServerG[k]!;
    this.requests[j] += 1;
    this.footprint[j] += siteFootprintG(truth.carbonServerG[k]!, water, this.waterWeight);
    if (!this.world.up[j]) this.lost += 1;
  }

  result(): SitePolicyResult {
    let total = 0;
    for (const f of this.footprint) total += f;
    const shareBySite: Record<string, number> = {};
    const requestsBySite: Record<string, number> = {};
    let maxShare = 0;
    this.world.names.forEach((n, j) => {
      shareBySite[n] = total > 0 ? this.footprint[j]! / total : 0;
      requestsBySite[n] = this.requests[j]!;
      maxShare = Math.max(maxShare, shareBySite[n]);
    });
    return { waterL: this.waterL, serverCarbonG: this.serverCarbonG, requestsBySite, onDevice: this.onDevice, shareBySite, maxShare, lost: this.lost };
  }
}
