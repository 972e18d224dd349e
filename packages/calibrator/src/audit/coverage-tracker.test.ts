import { describe, expect, it } from 'vitest';
import { CoverageTracker } from './coverage-tracker.js';

describe('CoverageTracker', () => {
  it('counts coverage and width per group and metric; infinite intervals count for coverage, not width', () => {
    const t = new CoverageTracker();
    t.record('robust', 'latencyMs', { lower: 0, upper: 10 }, 5);
    t.record('robust', 'latencyMs', { lower: 0, upper: 10 }, 11);
    t.record('robust', 'latencyMs', { lower: 2, upper: Number.POSITIVE_INFINITY }, 100);
    t.record('robust', 'carbonG', { lower: 1, upper: 2 }, 2);
    t.record('mean', 'latencyMs', { lower: 4, upper: 4 }, 4);
    t.record('mean', 'latencyMs', { lower: Number.NaN, upper: Number.NaN }, 4); // no interval: not judged
    t.record('mean', 'latencyMs', { lower: 0, upper: 1 }, Number.NaN); // nothing observed: not judged
    expect(t.report()).toEqual({
      robust: {
        latencyMs: { n: 3, coverage: 2 / 3, meanWidth: 10, infinite: 1 },
        carbonG: { n: 1, coverage: 1, meanWidth: 1, infinite: 0 },
      },
      mean: { latencyMs: { n: 1, coverage: 1, meanWidth: 0, infinite: 0 } },
    });
    t.clear();
    expect(t.report()).toEqual({});
  });
});
