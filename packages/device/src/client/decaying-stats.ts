/**
 * How fast a DecayingStats forgets: a sample's weight halves every `halfLifeMs` of clock time
 * AND every `halfLifeSamples` newer samples, whichever comes first. The time half-life bounds
 * how stale the estimate can be on a quiet link (keepalive pings every 15 s); the sample
 * half-life keeps a burst of requests within one millisecond from averaging into one point.
 */
export interface DecayOptions {
  halfLifeMs: number;
  halfLifeSamples: number;
  /**
   * A sample further than `outlierSd` standard deviations (floored, see `floor`) from the mean
   * is an outlier: its pull on the mean and variance is clipped to that distance (Huber).
   */
  outlierSd: number;
  /**
   * This many consecutive outliers on the same side are a level shift, not noise: the history is
   * dropped and the estimate restarts from them (so a step change is followed after this many
   * samples even when it is far outside the old spread).
   */
  shiftAfter: number;
  /** The spread below which nothing counts as an outlier: max(abs, rel x |mean|). */
  floor: { abs: number; rel: number };
}

export interface StatsSnapshot {
  mean: number;
  sd: number;
  /** Samples that went into the estimate since it (re)started, outliers included (clipped). */
  n: number;
}

/**
 * An exponentially weighted mean and variance over irregularly timed samples, robust to
 * outliers. It is West's weighted incremental update (the weighted form of Welford's) with
 * every old weight multiplied by the decay factor before each new sample, so that the first few
 * samples are averaged equally (a plain EWMA would start from the first sample alone) and later
 * ones with exponentially fading weights, like TCP's SRTT/RTTVAR but with a variance (not a
 * mean deviation) and a half-life in time as well as in samples. The variance uses reliability
 * weights (divided by W - sum(w^2)/W), so it is unbiased for any effective sample size.
 */
export class DecayingStats {
  private w = 0;
  private w2 = 0;
  private m = 0;
  private m2 = 0;
  private count = 0;
  private lastAt = 0;
  private suspects: number[] = [];
  private suspectSide = 0;
  /** Outliers clipped over the estimator's life, and level shifts taken. */
  clipped = 0;
  shifts = 0;

  constructor(private readonly options: DecayOptions) {}

  get n(): number {
    return this.count;
  }

  get mean(): number {
    return this.m;
  }

  get sd(): number {
    const effective = this.w - (this.w > 0 ? this.w2 / this.w : 0);
    return effective > 1e-12 ? Math.sqrt(Math.max(0, this.m2 / effective)) : 0;
  }

  snapshot(): StatsSnapshot {
    return { mean: this.m, sd: this.sd, n: this.count };
  }

  /** Adds one sample taken at `at` (monotonic ms); returns whether it was an outlier (clipped or a level shift). */
  add(x: number, at: number): 'sample' | 'outlier' | 'shift' {
    if (!Number.isFinite(x) || !Number.isFinite(at)) return 'outlier';
    const { halfLifeMs, halfLifeSamples, outlierSd, shiftAfter, floor } = this.options;
    if (this.count > 0) {
      const decay = 2 ** -(Math.max(0, at - this.lastAt) / halfLifeMs + 1 / halfLifeSamples);
      this.w *= decay;
      this.w2 *= decay * decay;
      this.m2 *= decay;
    }
    this.lastAt = Math.max(this.lastAt, at);
    let value = x;
    let kind: 'sample' | 'outlier' | 'shift' = 'sample';
    // Too few samples to know the spread: nothing is an outlier yet.
    if (this.count >= 3) {
      const spread = Math.max(this.sd, floor.abs, floor.rel * Math.abs(this.m));
      const error = x - this.m;
      if (Math.abs(error) > outlierSd * spread) {
        const side = Math.sign(error);
        if (side !== this.suspectSide) this.suspects = [];
        this.suspectSide = side;
        this.suspects.push(x);
        if (this.suspects.length >= shiftAfter) {
          const restart = this.suspects;
          this.reset();
          this.shifts += 1;
          for (const s of restart) this.update(s);
          this.lastAt = at;
          return 'shift';
        }
        this.clipped += 1;
        value = this.m + side * outlierSd * spread;
        kind = 'outlier';
      } else {
        this.suspects = [];
        this.suspectSide = 0;
      }
    }
    this.update(value);
    return kind;
  }

  private update(value: number): void {
    this.w += 1;
    this.w2 += 1;
    const delta = value - this.m;
    this.m += delta / this.w;
    this.m2 += delta * (value - this.m);
    this.count += 1;
  }

  private reset(): void {
    this.w = 0;
    this.w2 = 0;
    this.m = 0;
    this.m2 = 0;
    this.count = 0;
    this.suspects = [];
    this.suspectSide = 0;
  }
}
