import { mulberry32, seedFromString, seededNormal, type LatencyDistribution } from '@carboncp/core';

const CHUNK = 4096;

/**
 * An endless stream of standard normal draws for one named source of noise. Each source has its
 * own stream (seeded by its name and the simulation's seed) and is read a fixed number of times
 * per request whatever the policies do, so every policy meets the same draws (common random
 * numbers) and adding a policy changes no other policy's world. Drawn in chunks of seededNormal,
 * chunk k seeded by (name, k).
 */
export class NormalStream {
  private buffer: Float32Array = new Float32Array(0);
  private at = 0;
  private chunk = 0;

  constructor(
    private readonly name: string,
    private readonly seed: number,
  ) {}

  next(): number {
    if (this.at === this.buffer.length) {
      this.buffer = seededNormal(seedFromString(`${this.name}#${this.chunk}`, this.seed), CHUNK);
      this.chunk += 1;
      this.at = 0;
    }
    return this.buffer[this.at++]!;
  }
}

/** Uniform draws in [0, 1) for one named source (mulberry32 seeded by the name and the seed). */
export function uniformStream(name: string, seed: number): () => number {
  return mulberry32(seedFromString(name, seed));
}

/** The standard normal's 0.9 quantile: p90 / median = e^(1.2816 sigma) for a lognormal. */
const Z90 = 1.2815515655446004;

/** A lognormal latency: ln(ms) ~ N(mu, sigma^2). */
export interface LogNormal {
  mu: number;
  sigma: number;
}

/**
 * The lognormal with the profile's median and the profile's p90 / p10 ratio (sigma =
 * ln(p90 / p10) / (2 z_0.9)): latencies are positive and right-skewed, and a profile records
 * these three quantiles. A lognormal is symmetric in log (its p10 x p90 = median^2), so a
 * measured spread that is lopsided around the median is matched in width, not in skew. Null for
 * a half that does not run (median 0); sigma 0 where the profile shows no spread.
 */
export function logNormalOf(d: LatencyDistribution): LogNormal | null {
  if (!(d.medianMs > 0)) return null;
  const spread = d.p10Ms > 0 && d.p90Ms > d.p10Ms ? Math.log(d.p90Ms / d.p10Ms) / (2 * Z90) : 0;
  return { mu: Math.log(d.medianMs), sigma: spread };
}

/**
 * Requests in an M/M/1 server as an arrival finds them (PASTA: the stationary law),
 * P(N >= n) = rho^n, by inversion of one uniform draw.
 */
export function queueLength(utilisation: number, u: number): number {
  if (utilisation <= 0) return 0;
  return Math.floor(Math.log(1 - u) / Math.log(utilisation));
}
