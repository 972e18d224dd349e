/** Recent latencies per key in a fixed-size ring, for the p50 that Pong reports. */
export class LatencyWindow {
  private readonly rings = new Map<string, { values: number[]; next: number }>();

  constructor(private readonly capacity = 128) {
    if (!(capacity >= 1)) throw new RangeError(`capacity must be at least 1, got ${capacity}`);
  }

  record(key: string, ms: number): void {
    let ring = this.rings.get(key);
    if (!ring) {
      ring = { values: [], next: 0 };
      this.rings.set(key, ring);
    }
    if (ring.values.length < this.capacity) ring.values.push(ms);
    else ring.values[ring.next] = ms;
    ring.next = (ring.next + 1) % this.capacity;
  }

  /** Median of the recent values, or undefined when nothing was recorded for the key. */
  percentile(key: string, p = 0.5): number | undefined {
    const ring = this.rings.get(key);
    if (!ring || ring.values.length === 0) return undefined;
    const sorted = [...ring.values].sort((a, b) => a - b);
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
    return sorted[rank];
  }

  /** The recent values of a key, oldest first not guaranteed (a copy); [] when none. */
  samples(key: string): number[] {
    return [...(this.rings.get(key)?.values ?? [])];
  }

  /** Every recent value of every key (a copy), for statistics pooled over keys. */
  pooled(): number[] {
    return [...this.rings.values()].flatMap((ring) => ring.values);
  }

  medians(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const key of this.rings.keys()) {
      const median = this.percentile(key, 0.5);
      if (median !== undefined) out[key] = median;
    }
    return out;
  }
}
