import type { Interval } from '../types.js';

/** Empirical coverage of one stream of intervals: how often the observed value fell inside, and how wide they were. */
export interface CoverageStats {
  /** Intervals judged. */
  n: number;
  /** Share of those whose observed value was inside [lower, upper]. */
  coverage: number;
  /** Mean upper - lower over the finite intervals (null when none was). */
  meanWidth: number | null;
  /** Intervals that were infinite (too few scores to bound at alpha). */
  infinite: number;
}

interface Tally {
  n: number;
  covered: number;
  widthSum: number;
  finite: number;
}

/**
 * Counts, per group (a decision mode) and metric, how many predicted intervals held the value
 * observed afterwards: what `client.coverage()` reports, and how anyone audits a deployment's
 * 1 - alpha promise. Constant memory per group and metric.
 */
export class CoverageTracker {
  private readonly tallies = new Map<string, Map<string, Tally>>();

  record(group: string, metric: string, interval: Interval, observed: number): void {
    if (!Number.isFinite(observed) || Number.isNaN(interval.lower) || Number.isNaN(interval.upper)) return;
    let metrics = this.tallies.get(group);
    if (!metrics) this.tallies.set(group, (metrics = new Map()));
    let t = metrics.get(metric);
    if (!t) metrics.set(metric, (t = { n: 0, covered: 0, widthSum: 0, finite: 0 }));
    t.n += 1;
    if (observed >= interval.lower && observed <= interval.upper) t.covered += 1;
    const width = interval.upper - interval.lower;
    if (Number.isFinite(width)) {
      t.widthSum += width;
      t.finite += 1;
    }
  }

  /** group -> metric -> stats. */
  report(): Record<string, Record<string, CoverageStats>> {
    const out: Record<string, Record<string, CoverageStats>> = {};
    for (const [group, metrics] of this.tallies) {
      out[group] = {};
      for (const [metric, t] of metrics) {
        out[group][metric] = { n: t.n, coverage: t.n ? t.covered / t.n : Number.NaN, meanWidth: t.finite ? t.widthSum / t.finite : null, infinite: t.n - t.finite };
      }
    }
    return out;
  }

  clear(): void {
    this.tallies.clear();
  }
}
