/**
 * Split, normalised and CQR side by side on heteroscedastic, heavy-tailed data (Student-t with 3
 * degrees of freedom, scale 0.1 + x for x in [0, 2]): each must cover at >= 1 - alpha on average
 * over seeded repetitions and not far above it, and the two adaptive methods must be narrow where
 * the noise is small, where split's constant width is far too wide.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { OnlineRidge } from '../predictors/online-ridge.js';
import type { IntervalPredictor } from '../types.js';
import { ConformalizedQuantileRegression } from './cqr.js';
import { NormalizedConformal } from './normalized.js';
import { SplitConformal } from './split.js';
import { calibrateThenTest, coverageOf, heteroscedastic, meanWidthOf, type CoverageTally } from './synthetic.test-support.js';

const ALPHA = 0.1;
const REPETITIONS = 30;
const quiet = (x: readonly number[]) => (x[0]! < 0.5 ? 'quiet' : x[0]! > 1.5 ? 'noisy' : 'middle');

interface Summary {
  coverage: number;
  width: number;
  quietWidth: number;
  quietCoverage: number;
  noisyCoverage: number;
}

function summarise(make: () => IntervalPredictor): Summary {
  const sum: Summary = { coverage: 0, width: 0, quietWidth: 0, quietCoverage: 0, noisyCoverage: 0 };
  for (let rep = 0; rep < REPETITIONS; rep += 1) {
    const { all, groups } = calibrateThenTest(make(), heteroscedastic(100 + rep), { calibrate: 1000, test: 1000, group: quiet });
    const group = (key: string): CoverageTally => groups.get(key)!;
    sum.coverage += coverageOf(all) / REPETITIONS;
    sum.width += meanWidthOf(all) / REPETITIONS;
    sum.quietWidth += meanWidthOf(group('quiet')) / REPETITIONS;
    sum.quietCoverage += coverageOf(group('quiet')) / REPETITIONS;
    sum.noisyCoverage += coverageOf(group('noisy')) / REPETITIONS;
  }
  return sum;
}

describe('split, normalised and CQR on heteroscedastic heavy-tailed noise', () => {
  const results = new Map<string, Summary>();
  const of = (name: string): Summary => results.get(name)!;
  beforeAll(() => {
    results.set('split', summarise(() => new SplitConformal(new OnlineRidge({ dimensions: 1 }), { alpha: ALPHA, window: 500 })));
    results.set('normalized', summarise(() => new NormalizedConformal(new OnlineRidge({ dimensions: 1 }), { alpha: ALPHA, window: 500 })));
    results.set('cqr', summarise(() => ConformalizedQuantileRegression.linear({ alpha: ALPHA, dimensions: 1, window: 500 })));
    if (process.env['CALIBRATOR_REPORT']) console.log(JSON.stringify(Object.fromEntries(results), null, 1));
  });

  it.each(['split', 'normalized', 'cqr'])('%s covers at 1 - alpha on average over repetitions, not far above', (name) => {
    expect(of(name).coverage).toBeGreaterThanOrEqual(1 - ALPHA - 0.01);
    expect(of(name).coverage).toBeLessThan(1 - ALPHA + 0.05);
  });

  it('split has one width everywhere: it over-covers the quiet region and under-covers the noisy one', () => {
    expect(of('split').quietCoverage).toBeGreaterThan(0.97);
    expect(of('split').noisyCoverage).toBeLessThan(0.85);
  });

  it.each(['normalized', 'cqr'])('%s adapts its width: under half of split where the noise is small, and covers both regions', (name) => {
    const s = of(name);
    expect(s.quietWidth).toBeLessThan(0.5 * of('split').quietWidth);
    expect(s.width).toBeLessThan(of('split').width);
    expect(s.quietCoverage).toBeGreaterThan(1 - ALPHA - 0.05);
    expect(s.noisyCoverage).toBeGreaterThan(1 - ALPHA - 0.05);
  });
});
