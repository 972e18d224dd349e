import { CarboncpError, ErrorCode } from '@carboncp/protocol';

export interface SiteEquityOptions {
  /** The sites whose shares are capped (every site a candidate may run at). */
  sites: readonly string[];
  /** Largest share of the sites' total footprint any one site should carry, in [1/sites, 1]. */
  cap: number;
  /** Step of the dual update per request; default 0.5. */
  step?: number;
}

export interface SiteEquityState {
  cap: number;
  step: number;
  footprintG: Record<string, number>;
  lambda: Record<string, number>;
  /** Requests recorded at the sites; absent in states saved before it existed (0). */
  requests?: number;
}

/**
 * Regional equity over several sites as an online dual update, after the Lagrangian of Li, Yang,
 * Wierman and Ren ("Towards Environmentally Equitable AI via Geographical Load Balancing",
 * e-Energy 2024): the constraint F_i <= cap x sum_j F_j (site i's footprint F_i, grams of
 * CO2e at the site plus weighted water) gets a multiplier lambda_i >= 0, priced into each
 * request's objective (DecideOptions.sitePenalties: + lambda_i x the request's footprint at i).
 *
 * After each request at a site, with footprint f, a projected stochastic subgradient step on the
 * dual of that request's own contribution to the constraint, in units of the mean request
 * footprint fbar (so that the step does not depend on whether a request costs micrograms or grams):
 *
 *   lambda_i <- max(0, lambda_i + step x ([request at i] - cap) x f / fbar)
 *
 * lambda_i is then a virtual queue of site i's excess footprint (Neely's drift-plus-penalty):
 * while it is unclipped, lambda_i = step x (F_i - cap x sum_j F_j) / fbar, so the excess at the
 * end is at most lambda_i x fbar / step: the worst share is over the cap by at most
 * lambda_max / (step x requests at the sites), which falls as 1/n (lambda_max: the price at
 * which site i's requests go elsewhere or to the device). An earlier form stepped on the
 * cumulative share (share_i - cap) after every request: a share computed from a few requests
 * swings between 0 and 1, so the multipliers wound up to tens at the start, sent everything to
 * the device or to the one site still at 0, and then moved by O(1/n) per request, too slowly
 * to bring the burst back under the cap (19-26% against a 15% cap on the ten-site trace).
 */
export class SiteEquity {
  readonly cap: number;
  readonly step: number;
  private readonly footprint: Map<string, number>;
  private readonly lambda: Map<string, number>;
  /** Requests recorded at the sites (the mean footprint's denominator). */
  private requests: number;

  constructor(options: SiteEquityOptions, restore?: SiteEquityState) {
    const sites = options.sites;
    if (sites.length === 0 || new Set(sites).size !== sites.length) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `SiteEquity needs distinct sites, got ${JSON.stringify(sites)}`);
    if (!(options.cap >= 1 / sites.length - 1e-12 && options.cap <= 1)) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `cap must be in [1/${sites.length}, 1] (no share below 1/sites can hold for all), got ${options.cap}`);
    }
    const step = options.step ?? 0.5;
    if (!(step > 0 && Number.isFinite(step))) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `step must be a finite number > 0, got ${step}`);
    this.cap = options.cap;
    this.step = step;
    this.footprint = new Map(sites.map((s) => [s, restore?.footprintG[s] ?? 0]));
    this.lambda = new Map(sites.map((s) => [s, restore?.lambda[s] ?? 0]));
    this.requests = restore?.requests ?? 0;
  }

  /** The multipliers now, for DecideOptions.sitePenalties. */
  penalties(): Record<string, number> {
    return Object.fromEntries(this.lambda);
  }

  /** Records one request's footprint at a site (a request on the device: nothing) and takes a dual step for every site. */
  record(site: string | undefined, footprintG: number): void {
    if (!(Number.isFinite(footprintG) && footprintG >= 0)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `footprintG must be a finite number >= 0, got ${footprintG}`);
    if (site === undefined) return;
    const before = this.footprint.get(site);
    if (before === undefined) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `unknown site '${site}' (sites: ${[...this.footprint.keys()].join(', ')})`);
    this.footprint.set(site, before + footprintG);
    this.requests += 1;
    let total = 0;
    for (const f of this.footprint.values()) total += f;
    if (total <= 0) return;
    const scaled = (footprintG * this.requests) / total;
    for (const [s, lambda] of this.lambda) this.lambda.set(s, Math.max(0, lambda + this.step * ((s === site ? 1 : 0) - this.cap) * scaled));
  }

  /** Each site's share of the sites' total footprint so far (0 for all before any). */
  shares(): Record<string, number> {
    let total = 0;
    for (const f of this.footprint.values()) total += f;
    return Object.fromEntries([...this.footprint].map(([s, f]) => [s, total > 0 ? f / total : 0]));
  }

  toJSON(): SiteEquityState {
    return { cap: this.cap, step: this.step, footprintG: Object.fromEntries(this.footprint), lambda: Object.fromEntries(this.lambda), requests: this.requests };
  }
}
