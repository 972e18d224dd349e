import { CoverageTracker, type DecisionCandidate, type Interval } from '@carboncp/calibrator';
import { quantile } from '@carboncp/core';
import type { Outcomes } from './outcomes.js';
import type { PolicyName } from './policy-names.js';

/** One policy's totals over the run (issue #9, section 3). */
export interface PolicyResult {
  policy: PolicyName;
  requests: number;
  /** Total grams CO2e, and by where they were emitted (network: the device's radio, at the device's grid). */
  carbonG: number;
  carbonBySide: { device: number; network: number; server: number };
  /** 100 x (other - this) / other for every policy of the run: > 0, this one emitted less. */
  reductionPct: Partial<Record<PolicyName, number>>;
  /** Requests whose latency (head + transfer + server, the request's own) exceeded the SLO. */
  sloViolations: number;
  sloViolationRate: number;
  /** The device's energy: compute and radio (J). */
  deviceJ: number;
  serverJ: number;
  /** deviceJ as a share of a full battery (%): may exceed 100 over a long run; null without a battery. */
  batteryDrainPct: number | null;
  batteryEndPercent: number | null;
  batteryMinPercent: number | null;
  /** Carbon beyond the oracle's: carbonG - oracle's (g), and as % of the oracle's. Negative only by missing the SLO more often. */
  regretG: number;
  regretPct: number;
  /** Share of requests whose true latency fell inside the interval predicted for the chosen candidate (carboncp modes; else null). */
  coverage: number | null;
  meanIntervalWidthMs: number | null;
  /** Intervals that were infinite (too few scores yet). */
  infiniteIntervals: number;
  /** How often each candidate was chosen (ids with 0 left out). */
  cutCounts: Record<string, number>;
  /** How often each model variant was chosen (variants with 0 left out; empty when the candidates carry none). */
  variantCounts: Record<string, number>;
  /**
   * Mean declared quality (e.g. published top-1 %) of the variants chosen, request-weighted; null
   * when a chosen candidate declares none. Metadata, never measured on the models run.
   */
  meanQuality: number | null;
  meanLatencyMs: number;
  p50LatencyMs: number;
  p95LatencyMs: number;
  /** Decisions that explored, and those where no candidate's bound met the SLO (carboncp modes). */
  explored: number;
  sloUnmetDecisions: number;
  /** Requests that found the device still busy with the previous head, and their mean wait (ms; not in the latency). */
  waited: number;
  meanWaitMs: number;
}

/** Running totals of one policy. */
export class PolicyTally {
  requests = 0;
  carbonG = 0;
  carbonDevice = 0;
  carbonNetwork = 0;
  carbonServer = 0;
  violations = 0;
  deviceJ = 0;
  serverJ = 0;
  explored = 0;
  sloUnmet = 0;
  waited = 0;
  waitMs = 0;
  latencySum = 0;
  /** Interval judgements so far (for the running coverage), kept beside the tracker's. */
  judged = 0;
  covered = 0;
  batteryMin = Number.POSITIVE_INFINITY;
  readonly counts: Int32Array;
  private latencies: Float64Array;

  constructor(
    readonly name: PolicyName,
    candidates: number,
    expected: number,
    private readonly coverage: CoverageTracker,
  ) {
    this.counts = new Int32Array(candidates);
    this.latencies = new Float64Array(Math.max(16, expected));
  }

  add(k: number, truth: Outcomes, sloMs: number, interval: Interval | null): void {
    const latency = truth.latencyMs[k]!;
    if (this.requests === this.latencies.length) {
      const grown = new Float64Array(this.latencies.length * 2);
      grown.set(this.latencies);
      this.latencies = grown;
    }
    this.latencies[this.requests] = latency;
    this.requests += 1;
    this.latencySum += latency;
    this.counts[k] += 1;
    this.carbonG += truth.carbonG[k]!;
    this.carbonDevice += truth.carbonDeviceG[k]!;
    this.carbonNetwork += truth.carbonNetworkG[k]!;
    this.carbonServer += truth.carbonServerG[k]!;
    this.deviceJ += truth.deviceJ[k]!;
    this.serverJ += truth.serverJ[k]!;
    if (latency > sloMs) this.violations += 1;
    if (interval) {
      this.coverage.record(this.name, 'latencyMs', interval, latency);
      this.judged += 1;
      if (latency >= interval.lower && latency <= interval.upper) this.covered += 1;
    }
  }

  result(candidates: readonly Pick<DecisionCandidate, 'id' | 'variant' | 'quality'>[], oracleCarbonG: number, battery: { capacityJ: number; endPercent: number } | null): PolicyResult {
    const n = this.requests;
    const ids = candidates.map((c) => c.id);
    const variantCounts: Record<string, number> = {};
    let qualitySum = 0;
    let qualityKnown = n > 0;
    candidates.forEach((c, k) => {
      const count = this.counts[k]!;
      if (count === 0) return;
      if (c.variant !== undefined) variantCounts[c.variant] = (variantCounts[c.variant] ?? 0) + count;
      if (c.quality === undefined) qualityKnown = false;
      else qualitySum += count * c.quality;
    });
    const sorted = Array.from(this.latencies.subarray(0, n).sort());
    const stats = this.coverage.report()[this.name]?.latencyMs;
    const cutCounts: Record<string, number> = {};
    ids.forEach((id, k) => {
      if (this.counts[k]! > 0) cutCounts[id] = this.counts[k]!;
    });
    return {
      policy: this.name,
      requests: n,
      carbonG: this.carbonG,
      carbonBySide: { device: this.carbonDevice, network: this.carbonNetwork, server: this.carbonServer },
      reductionPct: {},
      sloViolations: this.violations,
      sloViolationRate: n ? this.violations / n : 0,
      deviceJ: this.deviceJ,
      serverJ: this.serverJ,
      batteryDrainPct: battery ? (100 * this.deviceJ) / battery.capacityJ : null,
      batteryEndPercent: battery ? battery.endPercent : null,
      batteryMinPercent: battery && n ? this.batteryMin : null,
      regretG: this.carbonG - oracleCarbonG,
      regretPct: oracleCarbonG > 0 ? (100 * (this.carbonG - oracleCarbonG)) / oracleCarbonG : 0,
      coverage: stats ? stats.coverage : null,
      meanIntervalWidthMs: stats ? stats.meanWidth : null,
      infiniteIntervals: stats ? stats.infinite : 0,
      cutCounts,
      variantCounts,
      meanQuality: qualityKnown ? qualitySum / n : null,
      meanLatencyMs: n ? this.latencySum / n : 0,
      p50LatencyMs: n ? quantile(sorted, 0.5) : 0,
      p95LatencyMs: n ? quantile(sorted, 0.95) : 0,
      explored: this.explored,
      sloUnmetDecisions: this.sloUnmet,
      waited: this.waited,
      meanWaitMs: this.waited ? this.waitMs / this.waited : 0,
    };
  }
}

/** Fills every result's reductionPct against every other policy. */
export function fillReductions(results: PolicyResult[]): void {
  for (const r of results) {
    for (const other of results) {
      if (other !== r && other.carbonG > 0) r.reductionPct[other.policy] = (100 * (other.carbonG - r.carbonG)) / other.carbonG;
    }
  }
}
