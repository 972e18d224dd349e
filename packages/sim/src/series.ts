import type { Interval } from '@carboncp/calibrator';
import type { PolicyName } from './policy-names.js';

/** One policy at one step of the series. */
export interface StepPolicy {
  policy: PolicyName;
  /** The sampled request (the step's last): the candidate chosen, its true latency and carbon, its interval. */
  candidate: string;
  latencyMs: number;
  carbonG: number;
  sloMet: boolean;
  interval: Interval | null;
  /** Over the step's requests: carbon (g), SLO violations, mean latency, and coverage of the intervals (null: none judged). */
  bucket: { carbonG: number; violations: number; meanLatencyMs: number; coverage: number | null };
  /** Since the start: carbon (g) and interval coverage. */
  cumulativeCarbonG: number;
  cumulativeCoverage: number | null;
  /** Battery charge after the request (null: no battery). */
  batteryPercent: number | null;
}

/**
 * One step of the series: `requests` consecutive requests, sampled at the last. Cumulative and
 * bucket figures cover every request, so a chart of the steps loses nothing but resolution.
 */
export interface SimulationStep {
  /** The sampled request's index and epoch ms. */
  index: number;
  time: number;
  requests: number;
  /** gCO2e/kWh at the device and at the server: the truth, and what the policies saw. */
  deviceIntensity: number;
  deviceIntensitySeen: number;
  serverIntensity: number;
  serverIntensitySeen: number;
  /** Uplink capacity at the request (the trace) and the device's estimate (bit/s). */
  uplinkBps: number;
  uplinkSeenBps: number;
  /** Requests the sampled request found ahead of it in the server's queue. */
  serverQueue: number;
  /** The oracle's choice for the sampled request. */
  oracle: string;
  policies: StepPolicy[];
}

interface Bucket {
  carbonG: number;
  violations: number;
  latencySum: number;
  judged: number;
  covered: number;
}

/** Buckets per policy between samples. */
export class SeriesRecorder {
  readonly steps: SimulationStep[] = [];
  private readonly buckets: Bucket[];
  private count = 0;

  constructor(
    readonly every: number,
    policies: number,
  ) {
    this.buckets = Array.from({ length: policies }, () => ({ carbonG: 0, violations: 0, latencySum: 0, judged: 0, covered: 0 }));
  }

  add(p: number, carbonG: number, latencyMs: number, sloMs: number, interval: Interval | null): void {
    const b = this.buckets[p]!;
    b.carbonG += carbonG;
    b.latencySum += latencyMs;
    if (latencyMs > sloMs) b.violations += 1;
    if (interval) {
      b.judged += 1;
      if (latencyMs >= interval.lower && latencyMs <= interval.upper) b.covered += 1;
    }
  }

  /** Counts a finished request; true when it is the one to sample (then call sample()). */
  tick(): boolean {
    this.count += 1;
    return this.count === this.every;
  }

  /** Whether requests were counted since the last sample (the run's last partial step). */
  get pending(): boolean {
    return this.count > 0;
  }

  /** Closes the step: `fill` gets each policy's bucket summary to complete. */
  sample(step: Omit<SimulationStep, 'policies' | 'requests'>, policy: (p: number, bucket: StepPolicy['bucket']) => StepPolicy): void {
    const requests = this.count;
    const policies = this.buckets.map((b, p) => {
      const summary = { carbonG: b.carbonG, violations: b.violations, meanLatencyMs: b.latencySum / requests, coverage: b.judged ? b.covered / b.judged : null };
      b.carbonG = 0;
      b.violations = 0;
      b.latencySum = 0;
      b.judged = 0;
      b.covered = 0;
      return policy(p, summary);
    });
    this.steps.push({ ...step, requests, policies });
    this.count = 0;
  }
}
