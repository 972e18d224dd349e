import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@carboncp/core';
import { createMethod } from '../methods.js';
import type { Features, IntervalPrediction, IntervalPredictor } from '../types.js';
import { auditOnline } from './online-audit.js';
import type { TableRow } from './table.js';

/** A method that records the order of calls, to check that no interval saw its own target. */
class Spy implements IntervalPredictor {
  readonly method = 'spy';
  readonly alpha = 0.1;
  readonly calls: string[] = [];
  predict(x: Features): IntervalPrediction {
    this.calls.push(`predict ${x[0]}`);
    return { point: 0, lower: -1, upper: x[0]! > 2 ? Number.POSITIVE_INFINITY : 1, alpha: 0.1, method: 'spy', n: 0 };
  }
  observe(x: Features): void {
    this.calls.push(`observe ${x[0]}`);
  }
  toJSON(): unknown {
    return {};
  }
}

describe('auditOnline', () => {
  it('reveals warm-up rows, then predicts each row before revealing it; skips unusable rows', () => {
    const rows: TableRow[] = [{ x: 1, y: 0 }, { x: 2, y: 5 }, { x: 'n/a', y: 0 }, { x: 3, y: 0.5 }, { x: 4 }];
    const spy = new Spy();
    const { summary, intervals } = auditOnline(rows, { target: 'y', features: ['x'], warmup: 1, method: spy });
    expect(spy.calls).toEqual(['observe 1', 'predict 2', 'observe 2', 'predict 3', 'observe 3']);
    expect(intervals).toEqual([
      { row: 2, lower: -1, upper: 1, target: 5 },
      { row: 4, lower: -1, upper: Number.POSITIVE_INFINITY, target: 0.5 },
    ]);
    expect(summary).toEqual({ method: 'spy', alpha: 0.1, rows: 2, coverage: 0.5, meanWidth: 2, infinite: 1, warmup: 1, skipped: 2 });
  });

  it('split over a seeded linear stream covers about 1 - alpha', () => {
    const random = mulberry32(11);
    const rows = Array.from({ length: 3000 }, () => {
      const a = random() * 10;
      return { a, y: 3 * a + 1 + (random() - 0.5) * 2 };
    });
    const { summary } = auditOnline(rows, { target: 'y', features: ['a'], warmup: 200, method: createMethod('split', { alpha: 0.1, dimensions: 1 }) });
    expect(summary.rows).toBe(2800);
    expect(summary.coverage).toBeGreaterThan(0.88);
    expect(summary.coverage).toBeLessThan(0.93);
    expect(summary.meanWidth!).toBeGreaterThan(1.6); // uniform noise of width 2: the 90% interval is 1.8 wide
    expect(summary.meanWidth!).toBeLessThan(2.1);
  });

  it('refuses a negative warmup and names unknown methods', () => {
    expect(() => auditOnline([], { target: 'y', features: [], warmup: -1, method: new Spy() })).toThrow(/warmup/);
    expect(() => createMethod('nope', { alpha: 0.1, dimensions: 1 })).toThrow(/unknown conformal method 'nope' \(known: split/);
  });
});

describe('every registered method through the audit', () => {
  it('covers near 1 - alpha on a seeded heteroscedastic stream with two bins', async () => {
    const { methodNames } = await import('../methods.js');
    const random = mulberry32(21);
    const rows = Array.from({ length: 2500 }, () => {
      const a = random() * 10;
      const battery = random() < 0.3;
      const noise = (random() - 0.5) * (battery ? 6 : 1) * (1 + a / 5);
      return { a, bin: battery ? 1 : 0, y: 2 * a + noise };
    });
    const names = methodNames();
    expect(names).toEqual(expect.arrayContaining(['split', 'normalized', 'cqr', 'mondrian', 'weighted', 'aci', 'dtaci', 'pid']));
    for (const name of names) {
      const method = createMethod(name, { alpha: 0.1, dimensions: 2, binOf: (x) => String(x[1]) });
      const { summary } = auditOnline(rows, { target: 'y', features: ['a', 'bin'], warmup: 300, method });
      expect(summary.method.startsWith(name === 'mondrian' ? 'mondrian' : name), name).toBe(true);
      expect(summary.coverage, name).toBeGreaterThan(0.86);
      expect(summary.coverage, name).toBeLessThan(0.97);
    }
  });
});
