import { SiteEquity, siteFootprintG, type SiteConditions } from '@carboncp/calibrator';
import { JOULES_PER_KWH } from '@carboncp/carbon';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { ResolvedClientOptions } from './client-options.js';
import type { NetworkEstimate, NetworkEstimatorOptions } from './network-estimator.js';
import { SiteLink, type SiteLinkEvents } from './site-link.js';
import { configuredIntensity, siteWaterPerKwh, type ResolvedSite, type SiteEquityClientOptions } from './site-options.js';
import type { ClientPlan, ConnectionState, RequestTelemetry, Runtime, RuntimeTensor, SplitModel, Transport } from './types.js';

/** A site as a cut policy sees it now (CutContext.sites): up or not, and its grid, water and RTT where known. */
export interface SiteView {
  /** Connected and through the handshake; a site that is not up is never chosen (the decision's 'site' rule). */
  up: boolean;
  /** Its grid: its latest pong's intensity, else its `carbon` option, else its trace; absent when none says. */
  intensityGPerKwh?: number;
  /** Litres of water per kWh of server energy (WUE + the grid's water). */
  waterLPerKwh: number;
  /** Mean RTT measured on its connection; absent before its first sample. */
  rttMs?: number;
}

/** A request's site in its telemetry (clients with `servers`): where its tail ran or was last tried, and its figures then. */
export interface SiteTelemetry {
  name: string;
  url: string;
  intensityGPerKwh?: number;
  waterLPerKwh: number;
  rttMs?: number;
  /** Litres of water the tail consumed at the site (reported server energy x waterLPerKwh); absent without a reported energy. */
  waterL?: number;
  /** Grams CO2e the tail emitted at the site (reported server energy x intensity); absent without both. */
  carbonG?: number;
}

/** One site in client.sites(). */
export interface SiteState {
  name: string;
  url: string;
  state: ConnectionState;
  up: boolean;
  rttMs?: number;
  intensityGPerKwh?: number;
  waterLPerKwh: number;
  /** Requests whose tail ran at the site (answered). */
  requests: number;
  /** Of those, how many reported no server energy (their footprint counts 0). */
  unmeasured: number;
  carbonG: number;
  waterL: number;
  /** Server grams at the site + waterWeight x litres (the equity's footprint). */
  footprintG: number;
  /** This site's share of all sites' footprintG so far (0 before any). */
  share: number;
  /** The equity multiplier of the site (with `equity`). */
  lambda?: number;
  lastError?: { code: string; message: string };
}

/** Everything a SitePool is built from: the sites, and what each SiteLink needs. */
export interface SitePoolOptions<T extends RuntimeTensor, P extends ClientPlan> {
  sites: readonly ResolvedSite[];
  /** Configured with `servers` (false: one `server`, whose telemetry and policy see no sites). */
  multi: boolean;
  model: SplitModel<P>;
  runtime: Runtime<T>;
  transport: Transport;
  options: ResolvedClientOptions<P>;
  network: NetworkEstimatorOptions | undefined;
  events: SiteLinkEvents;
  equity: SiteEquityClientOptions | undefined;
}

interface Tally {
  requests: number;
  unmeasured: number;
  carbonG: number;
  waterL: number;
  footprintG: number;
}

/**
 * The server sites of a device client, one SiteLink each: which site a request's tail goes to,
 * where it goes when that site fails, what each site looks like to the cut policy, and each
 * site's footprint so far (with the equity cap's multipliers when `equity` is set).
 */
export class SitePool<T extends RuntimeTensor, P extends ClientPlan> {
  readonly links: SiteLink<T, P>[];
  /** Configured with `servers` (telemetry and policy see sites); false for a single `server`. */
  readonly multi: boolean;
  readonly equity: SiteEquity | undefined;
  private readonly waterWeight: number;
  private readonly tallies = new Map<string, Tally>();

  constructor({ sites, multi, model, runtime, transport, options, network, events, equity }: SitePoolOptions<T, P>) {
    this.multi = multi;
    this.links = sites.map((site) => new SiteLink(site, model, runtime, transport, options, network, events));
    for (const s of sites) this.tallies.set(s.name, { requests: 0, unmeasured: 0, carbonG: 0, waterL: 0, footprintG: 0 });
    this.equity = equity ? siteEquityOf(equity, sites.map((s) => s.name)) : undefined;
    this.waterWeight = equity?.waterWeight ?? 0;
  }

  get primary(): SiteLink<T, P> {
    return this.links[0]!;
  }

  /**
   * First attempt on every site at once. A site that is down is no error (it reconnects); one that
   * refuses the token or protocol is closed for good, and only when every site does so is that an error.
   */
  async start(): Promise<void> {
    const outcomes = await Promise.allSettled(this.links.map((l) => l.connection.start()));
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (refused.length === this.links.length) throw refused[0]!.reason;
  }

  close(): void {
    for (const l of this.links) l.connection.close();
  }

  /** 'open' when any site is; 'closed' when all are; else 'connecting'. */
  get state(): ConnectionState {
    const states = this.links.map((l) => l.connection.state);
    if (states.includes('open')) return 'open';
    return states.every((s) => s === 'closed') ? 'closed' : 'connecting';
  }

  /** Resolves when any site is connected; rejects as the primary's ready() when none is within timeoutMs. */
  async ready(timeoutMs: number): Promise<void> {
    if (this.links.length === 1) return this.primary.connection.ready(timeoutMs);
    try {
      await Promise.any(this.links.map((l) => l.connection.ready(timeoutMs)));
    } catch (error) {
      const first = (error as AggregateError).errors?.[0];
      throw first instanceof CarboncpError ? first : new CarboncpError(ErrorCode.NOT_READY, `no site connected within ${timeoutMs} ms`, { cause: error });
    }
  }

  link(name: string): SiteLink<T, P> | undefined {
    return this.links.find((l) => l.name === name);
  }

  /** Whether the plan's tail can run at the named site now, or (no name) at any site. */
  usable(plan: P, site?: string): boolean {
    const links = site === undefined ? this.links : this.links.filter((l) => l.name === site);
    return links.some((l) => l.remote.unusable(plan) === null);
  }

  /** The site a request's tail goes to: the one the policy named, else the first (in configured order) that can run it, else the primary. */
  route(plan: P, site: string | undefined): SiteLink<T, P> {
    if (site !== undefined) {
      const named = this.link(site);
      if (!named) throw new CarboncpError(ErrorCode.INTERNAL, `the cut policy chose site '${site}', which this client does not have (sites: ${this.links.map((l) => l.name).join(', ')})`);
      return named;
    }
    return this.links.find((l) => l.remote.unusable(plan) === null) ?? this.primary;
  }

  /**
   * Where a request whose tail failed at `failed` is tried once more: the decision's best
   * runner-up at another site that can run the plan now (its candidate id ends '@site'), else
   * the first such site in configured order; undefined when there is none (it runs locally).
   */
  failover(failed: SiteLink<T, P>, plan: P, runnersUp: readonly string[] = []): SiteLink<T, P> | undefined {
    const others = this.links.filter((l) => l !== failed && l.remote.unusable(plan) === null);
    for (const id of runnersUp) {
      const at = others.find((l) => id.startsWith(`${plan.id}/`) && id.endsWith(`@${l.name}`));
      if (at) return at;
    }
    return others[0];
  }

  /** Every site now, for the cut policy (a client with one `server` has none: its context is the server's). */
  views(epochMs: number): Record<string, SiteView> | undefined {
    if (!this.multi) return undefined;
    return Object.fromEntries(this.links.map((l) => [l.name, this.view(l, epochMs)]));
  }

  /** The best network estimate to stand for the device's own link: the first up site's with samples, else any site's. */
  network(): NetworkEstimate | undefined {
    let fallback: NetworkEstimate | undefined;
    for (const l of this.links) {
      const estimate = l.network.estimate();
      if (estimate && l.up) return estimate;
      fallback ??= estimate;
    }
    return fallback;
  }

  /** The site figures of a request that went (or was tried) at `link`, and its tally and equity step when its tail ran there. */
  record(link: SiteLink<T, P>, telemetry: RequestTelemetry, epochMs: number): SiteTelemetry {
    const view = this.view(link, epochMs);
    const site: SiteTelemetry = { name: link.name, url: link.url, waterLPerKwh: view.waterLPerKwh };
    const intensity = telemetry.serverEnergy?.intensity?.valueGPerKwh ?? view.intensityGPerKwh;
    if (intensity !== undefined) site.intensityGPerKwh = intensity;
    if (view.rttMs !== undefined) site.rttMs = view.rttMs;
    if (telemetry.path !== 'split' && telemetry.path !== 'remote') return site;
    const tally = this.tallies.get(link.name)!;
    tally.requests += 1;
    const energyJ = telemetry.serverEnergy?.energyJ;
    let footprintG = 0;
    if (energyJ === undefined) tally.unmeasured += 1;
    else {
      const kwh = energyJ / JOULES_PER_KWH;
      site.waterL = kwh * view.waterLPerKwh;
      tally.waterL += site.waterL;
      if (intensity !== undefined) {
        site.carbonG = kwh * intensity;
        tally.carbonG += site.carbonG;
      }
      footprintG = siteFootprintG(site.carbonG ?? 0, site.waterL, this.waterWeight);
      tally.footprintG += footprintG;
    }
    this.equity?.record(link.name, footprintG);
    return site;
  }

  /** client.sites(): each site's connection, figures now, and footprint so far. */
  states(epochMs: number): SiteState[] {
    let total = 0;
    for (const t of this.tallies.values()) total += t.footprintG;
    const lambda = this.equity?.penalties();
    return this.links.map((l) => {
      const view = this.view(l, epochMs);
      const tally = this.tallies.get(l.name)!;
      const state: SiteState = { name: l.name, url: l.url, state: l.connection.state, up: view.up, waterLPerKwh: view.waterLPerKwh, ...tally, share: total > 0 ? tally.footprintG / total : 0 };
      if (view.rttMs !== undefined) state.rttMs = view.rttMs;
      if (view.intensityGPerKwh !== undefined) state.intensityGPerKwh = view.intensityGPerKwh;
      if (lambda) state.lambda = lambda[l.name] ?? 0;
      const error = l.connection.lastError;
      if (error) state.lastError = { code: error.code, message: error.message };
      return state;
    });
  }

  private view(l: SiteLink<T, P>, epochMs: number): SiteView {
    const view: SiteView = { up: l.up, waterLPerKwh: siteWaterPerKwh(l.site, epochMs) };
    const intensity = l.latestContext?.carbonIntensity?.valueGPerKwh ?? configuredIntensity(l.site, epochMs);
    if (intensity !== undefined) view.intensityGPerKwh = intensity;
    const rtt = l.network.estimate()?.rttMs.mean;
    if (rtt !== undefined) view.rttMs = rtt;
    return view;
  }
}

/** The SiteEquity of a client's `equity` option over its sites (a family's is one over every variant's requests). */
export function siteEquityOf(equity: SiteEquityClientOptions, sites: readonly string[]): SiteEquity {
  return new SiteEquity({ sites: [...sites], cap: equity.maxShare, ...(equity.step !== undefined ? { step: equity.step } : {}) });
}

/** The sites as the decision takes them (DecisionContext.sites): a site no source gives an intensity for is at `fallbackGPerKwh`. */
export function siteConditionsOf(views: Readonly<Record<string, SiteView>>, fallbackGPerKwh: number): Record<string, SiteConditions> {
  const out: Record<string, SiteConditions> = {};
  for (const [name, v] of Object.entries(views)) {
    out[name] = { intensityGPerKwh: v.intensityGPerKwh ?? fallbackGPerKwh, waterLPerKwh: v.waterLPerKwh, up: v.up, ...(v.rttMs !== undefined ? { rttMs: v.rttMs } : {}) };
  }
  return out;
}
