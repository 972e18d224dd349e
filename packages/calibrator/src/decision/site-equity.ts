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
}

/**
 * Regional equity over several sites as an online dual update, after the Lagrangian of Li, Yang,
 * Wierman and Ren ("Towards Environmentally Equitable AI via Geographical Load Balancing",
 * e-Energy 2024): the constraint F_i <= cap x sum_j F_j (site i's footprint F_i, grams of
 * CO2e at the site plus weighted water) gets a multiplier lambda_i >= 0, priced into each
 * request's objective (DecideOptions.sitePenalties: + lambda_i x the request's footprint at i),
 * and after each request projected gradient ascent on the dual:
 *
 *   lambda_i <- max(0, lambda_i + step x (F_i / sum_j F_j - cap))
 *
 * so a site over its cap grows dearer until requests go elsewhere, and a site under it is
 * released. The cumulative share moves by O(1/n) per request, so the worst share settles at the
 * cap (a tolerance of a few per cent over short streams; see the tests).
 */
export class SiteEquity {
  readonly cap: number;
  readonly step: number;
  private readonly footprint: Map<string, number>;
  private readonly lambda: Map<string, number>;

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
    const shares = this.shares();
    for (const [s, lambda] of this.lambda) this.lambda.set(s, Math.max(0, lambda + this.step * ((shares[s] ?? 0) - this.cap)));
  }

  /** Each site's share of the sites' total footprint so far (0 for all before any). */
  shares(): Record<string, number> {
    let total = 0;
    for (const f of this.footprint.values()) total += f;
    return Object.fromEntries([...this.footprint].map(([s, f]) => [s, total > 0 ? f / total : 0]));
  }

  toJSON(): SiteEquityState {
    return { cap: this.cap, step: this.step, footprintG: Object.fromEntries(this.footprint), lambda: Object.fromEntries(this.lambda) };
  }
}
