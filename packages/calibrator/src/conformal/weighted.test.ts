import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@carboncp/core';
import { OnlineRidge } from '../predictors/online-ridge.js';
import { ScoreWindow } from './score-window.js';
import { SplitConformal } from './split.js';
import { WeightedConformal, type WeightedPrediction } from './weighted.js';
import { WeightedScoreWindow } from './weighted-window.js';
import { coverageOf, emptyTally, heteroscedastic, meanWidthOf, tally } from './synthetic.test-support.js';

const ALPHA = 0.1;

describe('WeightedScoreWindow', () => {
  it('with equal weights gives split conformal quantile exactly, for any seeded stream and capacity', () => {
    const random = mulberry32(17);
    for (const capacity of [1, 3, 10, 64]) {
      const weighted = new WeightedScoreWindow(capacity);
      const plain = new ScoreWindow(capacity);
      for (let i = 0; i < 300; i += 1) {
        const score = Math.floor(random() * 15); // ties on purpose
        weighted.add(score, [i], 1);
        plain.add(score);
        for (const alpha of [0.05, 0.1, 0.5]) expect(weighted.quantile(alpha, 1)).toBe(plain.quantile(alpha));
      }
      expect(weighted.entries().map((e) => e.score)).toEqual(plain.values());
      expect(weighted.effectiveSampleSize()).toBeCloseTo(capacity, 9);
    }
  });

  it('is the 1 - alpha quantile of the weighted scores plus the test mass at +Infinity (brute force)', () => {
    const random = mulberry32(23);
    const window = new WeightedScoreWindow(40);
    const held: { score: number; weight: number }[] = [];
    for (let i = 0; i < 200; i += 1) {
      const entry = { score: random() * 10, weight: random() * 3 };
      window.add(entry.score, [0], entry.weight);
      held.push(entry);
      if (held.length > 40) held.shift();
      const testWeight = random() * 3;
      const total = held.reduce((s, e) => s + e.weight, 0) + testWeight;
      const sorted = [...held].sort((a, b) => a.score - b.score);
      let cumulative = 0;
      let expected = Number.POSITIVE_INFINITY;
      for (const e of sorted) {
        cumulative += e.weight;
        if (cumulative >= (1 - ALPHA) * total) {
          expected = e.score;
          break;
        }
      }
      expect(window.quantile(ALPHA, testWeight)).toBe(expected);
    }
  });

  it('reweighs every score from its context and reports Kish effective sample size', () => {
    const window = new WeightedScoreWindow(4);
    [1, 2, 3, 4].forEach((s) => window.add(s, [s], 1));
    window.reweigh((rows, offset) => (rows[offset]! <= 2 ? 3 : 1));
    // Weights 3, 3, 1, 1: ESS 8^2 / 20 = 3.2. With a test weight of 2 the total is 10 and the
    // cumulative weights 3, 6, 7, 8: 90% (9) lies in the test point's mass at +Infinity, 75%
    // (7.5) is reached at the 4th score, 50% at the 2nd.
    expect(window.effectiveSampleSize()).toBeCloseTo(3.2, 12);
    expect(window.quantile(ALPHA, 2)).toBe(Number.POSITIVE_INFINITY);
    expect(window.quantile(0.25, 2)).toBe(4);
    expect(window.quantile(0.5, 2)).toBe(2);
    expect(() => window.add(1, [1, 2], 1)).toThrow(/expected 1 features/);
  });
});

describe('WeightedConformal', () => {
  it('without recent contexts is split conformal: every weight 1, the same intervals', () => {
    const random = mulberry32(31);
    const weighted = new WeightedConformal({ predict: (x) => x[0]! }, { alpha: ALPHA, window: 50, trackPredictions: false });
    const split = new SplitConformal({ predict: (x) => x[0]! }, { alpha: ALPHA, window: 50 });
    for (let i = 0; i < 120; i += 1) {
      const x = [random() * 4];
      const p = weighted.predict(x);
      expect(p.lower).toBe(split.predict(x).lower);
      expect(p.upper).toBe(split.predict(x).upper);
      expect(p.weight).toBe(1);
      const y = x[0]! + random() - 0.5;
      weighted.observe(x, y);
      split.observe(x, y);
    }
    expect(weighted.effectiveSampleSize()).toBeCloseTo(50, 9);
  });

  it('restores coverage under covariate shift where unweighted split under-covers, over seeded repetitions', () => {
    // Calibration contexts x ~ N(0, 1); test contexts x ~ N(1.5, 1), where the noise
    // (Student-t 3 df, scale 0.1 + |x|) is about twice as large.
    const repetitions = 20;
    const split = emptyTally();
    const weighted = emptyTally();
    let ess = 0;
    for (let rep = 0; rep < repetitions; rep += 1) {
      const calibration = heteroscedastic(500 + rep, (_u, normal) => normal());
      const shifted = heteroscedastic(900 + rep, (_u, normal) => 1.5 + normal());
      const methods = {
        split: new SplitConformal(new OnlineRidge({ dimensions: 1 }), { alpha: ALPHA }),
        weighted: new WeightedConformal(new OnlineRidge({ dimensions: 1 }), { alpha: ALPHA }),
      };
      for (let i = 0; i < 1000; i += 1) {
        const { x, y } = calibration();
        methods.split.observe(x, y);
        methods.weighted.observe(x, y);
      }
      // Deployment moves to the new contexts: their targets are not revealed during the test.
      for (let i = 0; i < 1000; i += 1) {
        const { x, y } = shifted();
        tally(split, methods.split.predict(x), y);
        const p: WeightedPrediction = methods.weighted.predict(x);
        if (i >= 100) tally(weighted, p, y); // once the recent window holds shifted contexts only
        ess += p.effectiveSampleSize / (1000 * repetitions);
        expect(p.weight).toBeLessThanOrEqual(20);
      }
    }
    if (process.env['CALIBRATOR_REPORT']) {
      console.log(JSON.stringify({ split: [coverageOf(split), meanWidthOf(split)], weighted: [coverageOf(weighted), meanWidthOf(weighted)], ess }));
    }
    expect(coverageOf(split)).toBeLessThan(1 - ALPHA - 0.1);
    expect(coverageOf(weighted)).toBeGreaterThanOrEqual(1 - ALPHA - 0.01);
    expect(coverageOf(weighted)).toBeLessThan(1 - ALPHA + 0.04);
    expect(meanWidthOf(weighted)).toBeGreaterThan(meanWidthOf(split));
    // The price of the shift: far fewer effective calibration scores than the window's 500.
    expect(ess).toBeLessThan(250);
    expect(ess).toBeGreaterThan(30);
  });

  it('without a shift keeps weights near 1 and coverage at 1 - alpha', () => {
    const tallied = emptyTally();
    let ess = 0;
    for (let rep = 0; rep < 10; rep += 1) {
      const draw = heteroscedastic(700 + rep, (_u, normal) => normal());
      const method = new WeightedConformal(new OnlineRidge({ dimensions: 1 }), { alpha: ALPHA });
      for (let i = 0; i < 1000; i += 1) {
        const { x, y } = draw();
        method.observe(x, y);
      }
      for (let i = 0; i < 600; i += 1) {
        const { x, y } = draw();
        const p = method.predict(x);
        if (i >= 100) tally(tallied, p, y);
        ess += p.effectiveSampleSize / (600 * 10);
      }
    }
    expect(Math.abs(coverageOf(tallied) - (1 - ALPHA))).toBeLessThan(0.02);
    expect(ess).toBeGreaterThan(400);
  });

  it('clips weights, and with the clip at [1, 1] is split conformal whatever the shift', () => {
    const make = (minWeight: number, maxWeight: number) => new WeightedConformal({ predict: () => 0 }, { alpha: ALPHA, window: 100, recent: 20, minRecent: 5, refitEvery: 1, minWeight, maxWeight });
    const clipped = make(0.5, 2);
    const flat = make(1, 1);
    const split = new SplitConformal({ predict: () => 0 }, { alpha: ALPHA, window: 100 });
    const random = mulberry32(41);
    for (let i = 0; i < 100; i += 1) {
      const x = [random()];
      const y = random() * 10;
      for (const m of [clipped, flat, split]) m.observe(x, y);
    }
    for (let i = 0; i < 30; i += 1) {
      const x = [5 + random()];
      const p = clipped.predict(x);
      expect(p.weight).toBeGreaterThanOrEqual(0.5);
      expect(p.weight).toBeLessThanOrEqual(2);
      expect(flat.predict(x)).toMatchObject({ lower: split.predict(x).lower, upper: split.predict(x).upper, weight: 1 });
    }
    expect(clipped.weight([5.5])).toBe(2);
    expect(clipped.weight([0])).toBe(0.5);
    expect(() => make(2, 1)).toThrow(/minWeight/);
    expect(() => new WeightedConformal({ predict: () => 0 }, { alpha: ALPHA, recent: 10, minRecent: 11 })).toThrow(/minRecent/);
  });

  it('keeps each score with its context and the recent contexts in toJSON, and refuses a context of another length', () => {
    const method = new WeightedConformal({ predict: () => 1 }, { alpha: ALPHA, window: 3, recent: 2, minRecent: 1 });
    method.observe([1, 10], 4);
    method.observe([2, 20], 0);
    method.predict([3, 30]);
    method.addContext([4, 40]);
    method.predict([5, 50]);
    const state = JSON.parse(JSON.stringify(method.toJSON())) as { calibration: unknown; recentContexts: unknown; classifier: { dimensions: number } | null; method: string };
    expect(state.method).toBe('weighted');
    expect(state.calibration).toEqual([{ score: 3, x: [1, 10] }, { score: 1, x: [2, 20] }]);
    expect(state.recentContexts).toEqual([[4, 40], [5, 50]]);
    expect(state.classifier?.dimensions).toBe(2);
    expect(() => method.observe([1], 0)).toThrow(/expected 2 features/);
    expect(() => method.predict([1, 2, 3])).toThrow(/expected 2 features/);
  });
});
