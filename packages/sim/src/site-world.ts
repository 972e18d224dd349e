/**
 * Several server sites in the simulator (issue #11 §3): each site's grid and water from the
 * ten-site file (parseSiteTrace), its extra RTT, and windows when it is down. The truth of a
 * candidate at a site is the same draw as every candidate's (Outcomes), with the site's RTT added
 * to its transfer and its server joules charged at the site's grid; its water is the server's
 * kWh x the site's water per kWh. A request sent to a down site never returns: its latency is
 * infinite and it counts as lost.
 */
import { candidatesForSites, siteFootprintG, type DecisionCandidate, type SiteConditions } from '@carboncp/calibrator';
import { JOULES_PER_KWH, carbonGrams, type SiteSeries, type TraceSeries } from '@carboncp/carbon';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { Outcomes } from './outcomes.js';
import type { ResolvedSettings } from './settings.js';
import { IntensityTrack } from './world.js';

export interface SimSite {
  /** The site's series (one of parseSiteTrace's); its name is the candidates' `site`. */
  series: SiteSeries;
  /** Extra RTT to this site over the network's (ms); default 0. */
  rttMs?: number;
  /** Epoch-ms windows [from, to) when the site is down. */
  down?: readonly (readonly [number, number])[];
}

export interface SiteOptions {
  /** Grams CO2e per litre of water in the site policies' objective (DecideOptions.waterWeight); default 0. */
  waterWeight?: number;
  /** 'carboncp-sites-equity': the largest share of the sites' footprint one site may carry; default 1.5 / sites. */
  equityCap?: number;
  /** Its dual step (SiteEquity); default 0.5. */
  equityStep?: number;
  /** 'single-site': the site it uses; default the best in hindsight (least mean carbon + weighted water per kWh over the run). */
  singleSite?: string;
}

function asTrace(name: string, startMs: number, stepMs: number, values: readonly number[]): TraceSeries {
  return { zone: name, stepMinutes: stepMs / 60_000, startMs, values: Float64Array.from(values), estimated: new Uint8Array(values.length) };
}

/** Per request: every site's true and seen intensity and water, whether it is up, and the truth adjusted per site. */
export class SiteWorld {
  readonly names: string[];
  readonly candidates: DecisionCandidate[];
  /** The site index of each candidate (-1: the device). */
  readonly siteOf: Int32Array;
  /** What the policies see (DecisionContext.sites), refilled per request. */
  readonly conditions: Record<string, SiteConditions>;
  readonly intensity: Float64Array;
  readonly water: Float64Array;
  readonly up: Uint8Array;
  private readonly carbonTracks: IntensityTrack[];
  private readonly waterTracks: IntensityTrack[];
  private readonly rtt: number[];

  constructor(
    private readonly sites: readonly SimSite[],
    candidates: readonly DecisionCandidate[],
    s: Pick<ResolvedSettings, 'start' | 'end' | 'carbonView' | 'forecastMethod' | 'forecastWarmupDays'>,
  ) {
    if (sites.length === 0) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'sites must name at least one site');
    this.names = sites.map((x) => x.series.site);
    this.candidates = candidatesForSites(candidates, sites.map((x) => ({ site: x.series.site, rttMs: x.rttMs ?? 0 })));
    const index = new Map(this.names.map((n, i) => [n, i]));
    this.siteOf = Int32Array.from(this.candidates, (c) => (c.site === undefined ? -1 : index.get(c.site)!));
    for (const x of sites) {
      for (const w of x.down ?? []) if (!(w[1] > w[0])) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `site '${x.series.site}': a down window must end after it starts, got ${JSON.stringify(w)}`);
    }
    const track = (name: string, values: readonly number[], x: SimSite) => new IntensityTrack(asTrace(name, x.series.startMs, x.series.stepMs, values), s.start, s.end, s.carbonView, s.forecastMethod, s.forecastWarmupDays);
    this.carbonTracks = sites.map((x) => track(x.series.site, x.series.carbonGPerKwh, x));
    this.waterTracks = sites.map((x) => track(`${x.series.site} water`, x.series.wueLPerKwh.map((w, i) => w + (x.series.gridWaterLPerKwh?.[i] ?? 0)), x));
    this.rtt = sites.map((x) => x.rttMs ?? 0);
    this.intensity = new Float64Array(sites.length);
    this.water = new Float64Array(sites.length);
    this.up = new Uint8Array(sites.length);
    this.conditions = Object.fromEntries(this.names.map((n) => [n, { intensityGPerKwh: 0, waterLPerKwh: 0, up: true }]));
  }

  /** Reads every site at time t: the truth for the outcomes, the seen values and up/down for the policies. */
  update(t: number): void {
    this.sites.forEach((x, j) => {
      const ci = this.carbonTracks[j]!.indexAt(t);
      const wi = this.waterTracks[j]!.indexAt(t);
      this.intensity[j] = this.carbonTracks[j]!.truth[ci]!;
      this.water[j] = this.waterTracks[j]!.truth[wi]!;
      const up = !(x.down ?? []).some(([from, to]) => t >= from && t < to);
      this.up[j] = up ? 1 : 0;
      const c = this.conditions[x.series.site]!;
      c.intensityGPerKwh = this.carbonTracks[j]!.seen[ci]!;
      c.waterLPerKwh = this.waterTracks[j]!.seen[wi]!;
      c.up = up;
    });
  }

  /** Moves every site candidate's drawn outcome to its site: RTT, server carbon at the site's grid, down: never returns. */
  apply(truth: Outcomes): void {
    for (let k = 0; k < this.siteOf.length; k += 1) {
      const j = this.siteOf[k]!;
      if (j < 0) continue;
      truth.transferMs[k] += this.rtt[j]!;
      truth.latencyMs[k] = this.up[j] ? truth.headMs[k]! + truth.transferMs[k]! + truth.serverMs[k]! : Number.POSITIVE_INFINITY;
      truth.carbonServerG[k] = truth.serverJ[k]! * carbonGrams(1, this.intensity[j]!);
      truth.carbonG[k] = truth.carbonDeviceG[k]! + truth.carbonNetworkG[k]! + truth.carbonServerG[k]!;
    }
  }

  /** Litres of water candidate k's request consumes (0 on the device). */
  waterL(k: number, truth: Outcomes): number {
    const j = this.siteOf[k]!;
    return j < 0 ? 0 : (truth.serverJ[k]! / JOULES_PER_KWH) * this.water[j]!;
  }

  /** The site with the least mean (carbon + waterWeight x water) per kWh over the run, by the truth: the best single site in hindsight. */
  bestInHindsight(waterWeight: number): string {
    let best = 0;
    let bestCost = Number.POSITIVE_INFINITY;
    this.names.forEach((_n, j) => {
      const c = this.carbonTracks[j]!.truth;
      const w = this.waterTracks[j]!.truth;
      let sum = 0;
      for (let i = 0; i < c.length; i += 1) sum += siteFootprintG(c[i]!, w[i]!, waterWeight);
      const cost = sum / c.length;
      if (cost < bestCost) {
        bestCost = cost;
        best = j;
      }
    });
    return this.names[best]!;
  }
}
