import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@carboncp/core';
import { ScoreWindow, conformalRank } from './score-window.js';
import { SplitConformal } from './split.js';

describe('conformalRank', () => {
  it('is ceil((n+1)(1-alpha)), exact where (n+1)(1-alpha) is an integer', () => {
    expect(conformalRank(9, 0.1)).toBe(9);
    expect(conformalRank(19, 0.05)).toBe(19);
    expect(conformalRank(10, 0.1)).toBe(10);
    expect(conformalRank(100, 0.1)).toBe(91);
    expect(conformalRank(5, 0.1)).toBe(6); // above n: no finite bound yet
  });
});

describe('ScoreWindow', () => {
  it('keeps the newest scores sorted, for any seeded stream and capacity', () => {
    const random = mulberry32(7);
    for (const capacity of [1, 2, 5, 64]) {
      const window = new ScoreWindow(capacity);
      const all: number[] = [];
      for (let i = 0; i < 500; i += 1) {
        const s = Math.floor(random() * 20); // ties on purpose
        window.add(s);
        all.push(s);
        const expected = all.slice(-capacity).sort((a, b) => a - b);
        expect(window.sortedValues()).toEqual(expected);
        expect(window.values()).toEqual(all.slice(-capacity));
      }
    }
  });

  it('counts the scores below a value, and after clear() refills like a new window', () => {
    const random = mulberry32(11);
    const window = new ScoreWindow(40);
    const fresh = new ScoreWindow(40);
    for (let i = 0; i < 300; i += 1) window.add(Math.floor(random() * 10));
    const sorted = window.sortedValues();
    for (const x of [-1, 0, 3, 3.5, 9, 10]) expect(window.countBelow(x)).toBe(sorted.filter((s) => s < x).length);
    window.clear();
    expect(window.size).toBe(0);
    expect(window.values()).toEqual([]);
    for (let i = 0; i < 100; i += 1) {
      const s = random() * 5;
      window.add(s);
      fresh.add(s);
      expect(window.values()).toEqual(fresh.values());
      expect(window.sortedValues()).toEqual(fresh.sortedValues());
    }
  });

  it('gives an infinite quantile until there are enough scores for alpha', () => {
    const window = new ScoreWindow(100);
    for (let i = 1; i <= 8; i += 1) window.add(i);
    expect(window.quantile(0.1)).toBe(Number.POSITIVE_INFINITY);
    window.add(9);
    expect(window.quantile(0.1)).toBe(9);
  });

  it('refuses NaN scores and bad capacities', () => {
    expect(() => new ScoreWindow(0)).toThrow(/at least 1/);
    expect(() => new ScoreWindow(10).add(Number.NaN)).toThrow(/NaN/);
  });
});

describe('SplitConformal', () => {
  it('covers at >= 1 - alpha on exchangeable data, not far above, over seeded repetitions', () => {
    const alpha = 0.1;
    let covered = 0;
    let total = 0;
    for (let rep = 0; rep < 40; rep += 1) {
      const random = mulberry32(1000 + rep);
      const method = new SplitConformal({ predict: (x) => 2 * x[0]! }, { alpha, window: 200 });
      const draw = () => {
        const x = random() * 10;
        return { x: [x], y: 2 * x + (random() - 0.5) * 4 };
      };
      for (let i = 0; i < 200; i += 1) {
        const { x, y } = draw();
        method.observe(x, y);
      }
      const { x, y } = draw();
      const p = method.predict(x);
      total += 1;
      if (y >= p.lower && y <= p.upper) covered += 1;
      // The same calibration, judged on many test points: exact coverage of the window's quantile.
      for (let t = 0; t < 200; t += 1) {
        const test = draw();
        const q = method.predict(test.x);
        total += 1;
        if (test.y >= q.lower && test.y <= q.upper) covered += 1;
      }
    }
    const coverage = covered / total;
    expect(coverage).toBeGreaterThanOrEqual(1 - alpha - 0.01);
    expect(coverage).toBeLessThan(1 - alpha + 0.04);
  });
});
