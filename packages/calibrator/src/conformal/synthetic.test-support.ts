/**
 * Seeded synthetic data for the coverage tests: heteroscedastic, heavy-tailed noise (Student-t
 * with 3 degrees of freedom, infinite variance) and a harness that calibrates a method online and
 * then scores it on fresh draws it never observes.
 */
import { mulberry32, seedFromString, seededNormal } from '@carboncp/core';
import type { Features, IntervalPrediction, IntervalPredictor } from '../types.js';

export interface Sample {
  x: number[];
  y: number;
}

/** An endless stream of standard normals (seededNormal in chunks, each chunk its own seed). */
export function normalStream(seed: number): () => number {
  let chunk = 0;
  let buffer = seededNormal(seed, 4096);
  let i = 0;
  return () => {
    if (i === buffer.length) {
      chunk += 1;
      buffer = seededNormal(seedFromString(`normal-chunk-${chunk}`, seed), 4096);
      i = 0;
    }
    return buffer[i++]!;
  };
}

/** Student-t with integer `df`: Z / sqrt(chi2_df / df). */
export function studentT(normal: () => number, df: number): number {
  let chi2 = 0;
  for (let k = 0; k < df; k += 1) chi2 += normal() ** 2;
  return normal() / Math.sqrt(chi2 / df);
}

/** The noise scale of `heteroscedastic`: small near x = 0, 21 times larger at |x| = 2. */
export const noiseScale = (x: number): number => 0.1 + Math.abs(x);

/** y = 1 + 2x + (0.1 + x) t_3, x ~ U(0, 2) (or from `drawX`). */
export function heteroscedastic(seed: number, drawX?: (uniform: () => number, normal: () => number) => number): () => Sample {
  const uniform = mulberry32(seed);
  const normal = normalStream(seed ^ 0x5bd1e995);
  return () => {
    const x = drawX ? drawX(uniform, normal) : 2 * uniform();
    return { x: [x], y: 1 + 2 * x + noiseScale(x) * studentT(normal, 3) };
  };
}

export interface CoverageTally {
  covered: number;
  total: number;
  width: number;
}

export const emptyTally = (): CoverageTally => ({ covered: 0, total: 0, width: 0 });

export function tally(into: CoverageTally, p: IntervalPrediction, y: number): void {
  into.total += 1;
  if (y >= p.lower && y <= p.upper) into.covered += 1;
  into.width += p.upper - p.lower;
}

export const coverageOf = (t: CoverageTally): number => t.covered / t.total;
export const meanWidthOf = (t: CoverageTally): number => t.width / t.total;

/**
 * Feeds `calibrate` draws through observe() (online: each scored, then learnt), then scores
 * `test` fresh draws without revealing them, tallied overall and per group.
 */
export function calibrateThenTest(
  method: IntervalPredictor,
  draw: () => Sample,
  options: { calibrate: number; test: number; testDraw?: () => Sample; group?: (x: Features) => string },
): { all: CoverageTally; groups: Map<string, CoverageTally> } {
  for (let i = 0; i < options.calibrate; i += 1) {
    const { x, y } = draw();
    method.observe(x, y);
  }
  const all = emptyTally();
  const groups = new Map<string, CoverageTally>();
  const testDraw = options.testDraw ?? draw;
  for (let i = 0; i < options.test; i += 1) {
    const { x, y } = testDraw();
    const p = method.predict(x);
    tally(all, p, y);
    if (options.group) {
      const key = options.group(x);
      if (!groups.has(key)) groups.set(key, emptyTally());
      tally(groups.get(key)!, p, y);
    }
  }
  return { all, groups };
}
