import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@carboncp/core';
import { OnlineRidge } from '../predictors/online-ridge.js';
import { DEFAULT_DTACI_GAMMAS, DynamicallyTunedConformal, defaultEta, pinballLoss, type DynamicallyTunedState } from './dtaci.js';
import { constant, driftingSeries, expectInvalid } from './drift.test-support.js';

const ONE_TO_99 = Array.from({ length: 99 }, (_, i) => i + 1);

function twoExperts(): DynamicallyTunedConformal {
  const state: DynamicallyTunedState = {
    method: 'dtaci', alpha: 0.1, window: 200, score: 'absolute', scores: ONE_TO_99,
    gammas: [0.1, 0.2], sigma: 0.1, eta: 1, levels: [0.1, 0.1], weights: [0.5, 0.5],
  };
  return DynamicallyTunedConformal.fromJSON(state, constant(0));
}

describe('pinballLoss and the default eta', () => {
  it('charges alpha per unit of a level below beta and 1 - alpha per unit above', () => {
    expect(pinballLoss(0.5, 0.3, 0.1)).toBeCloseTo(0.02, 15);
    expect(pinballLoss(0.3, 0.5, 0.1)).toBeCloseTo(0.18, 15);
    expect(pinballLoss(0.4, 0.4, 0.1)).toBe(0);
  });

  it("is the paper's eta: 2.7 at alpha 0.1, I 500, k 8 (the reference code's 2.72), larger for shorter horizons", () => {
    expect(defaultEta(0.1, 500, 8)).toBeCloseTo(2.76, 2);
    expect(defaultEta(0.1, 100, 8)).toBeGreaterThan(defaultEta(0.1, 500, 8));
  });
});

describe('DynamicallyTunedConformal', () => {
  it('updates levels and weights as hand-computed', () => {
    const dt = twoExperts();
    expect(dt.currentAlpha).toBeCloseTo(0.1, 15);
    // Score 50 in 1..99: beta = 1 - 49/100. Both experts sit at 0.1, lose the same, and hold it (threshold 90).
    dt.observe([], 50);
    expect(dt.expertWeights()).toEqual([0.5, 0.5]);
    expect(dt.expertLevels()[0]).toBeCloseTo(0.11, 15);
    expect(dt.expertLevels()[1]).toBeCloseTo(0.12, 15);
    expect(dt.currentAlpha).toBeCloseTo(0.115, 15);
    expect(dt.predict([]).upper).toBe(89); // level 0.115, n = 100: rank ceil(101 x 0.885) = 90 of 1..50,50,51..99
    // Score 95: 95 of the 100 scores lie below it, beta = 6/101; both thresholds (89, 88) miss it.
    dt.observe([], 95);
    const beta = 1 - 95 / 101;
    const w = [0.5 * Math.exp(-pinballLoss(beta, 0.11, 0.1)), 0.5 * Math.exp(-pinballLoss(beta, 0.12, 0.1))];
    const total = w[0]! + w[1]!;
    const expected = w.map((v) => (0.9 * v) / total + 0.05);
    dt.expertWeights().forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 15));
    expect(dt.expertWeights()[0]).toBeGreaterThan(0.5); // the lower level lost less
    expect(dt.expertLevels()[0]).toBeCloseTo(0.11 + 0.1 * (0.1 - 1), 15);
    expect(dt.expertLevels()[1]).toBeCloseTo(0.12 + 0.2 * (0.1 - 1), 15);
    expect(dt.currentAlpha).toBeCloseTo(expected[0]! * 0.02 + expected[1]! * -0.06, 15);
    expect(dt.predict([]).upper).toBe(Number.POSITIVE_INFINITY); // the mixed level is below 0
  });

  it('keeps its weights a distribution and moves them to faster experts after an abrupt shift', () => {
    const length = 4000;
    const series = driftingSeries(3, length, 'abrupt');
    const dt = new DynamicallyTunedConformal(new OnlineRidge({ dimensions: 2, forgetting: 0.99 }), { alpha: 0.1 });
    expect(dt.gammas).toEqual(DEFAULT_DTACI_GAMMAS);
    let before = 0;
    let after = 0;
    series.xs.forEach((x, t) => {
      dt.observe(x, series.ys[t]!);
      const weights = dt.expertWeights();
      expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(Math.min(...weights)).toBeGreaterThanOrEqual(dt.sigma / weights.length - 1e-15);
      if (t === length / 2 - 1) before = dt.currentGamma;
      if (t === length / 2 + 30) after = dt.currentGamma;
    });
    expect(after).toBeGreaterThan(1.5 * before);
  });

  it('round-trips its state through JSON and goes on exactly as before', () => {
    const random = mulberry32(17);
    const ridge = new OnlineRidge({ dimensions: 1 });
    const dt = new DynamicallyTunedConformal(ridge, { alpha: 0.2, window: 30, gammas: [0.01, 0.1], horizon: 50 });
    const step = () => {
      const x = [random()];
      return { x, y: x[0]! + (random() < 0.1 ? 5 : random()) };
    };
    for (let i = 0; i < 80; i += 1) {
      const { x, y } = step();
      dt.observe(x, y);
    }
    const state = JSON.parse(JSON.stringify(dt.toJSON()));
    expect(state).toMatchObject({ method: 'dtaci', gammas: [0.01, 0.1], sigma: 0.01, eta: defaultEta(0.2, 50, 2) });
    const restored = DynamicallyTunedConformal.fromJSON(state, OnlineRidge.fromJSON(ridge.toJSON()));
    for (let i = 0; i < 40; i += 1) {
      const { x, y } = step();
      expect(restored.predict(x)).toEqual(dt.predict(x));
      dt.observe(x, y);
      restored.observe(x, y);
    }
    expect(restored.expertWeights()).toEqual(dt.expertWeights());
  });

  it('refuses bad options and states', () => {
    expectInvalid(() => new DynamicallyTunedConformal(constant(0), { alpha: 0.1, gammas: [] }), /at least one gamma/);
    expectInvalid(() => new DynamicallyTunedConformal(constant(0), { alpha: 0.1, gammas: [0.1, -1] }), /gammas\[1\]/);
    expectInvalid(() => new DynamicallyTunedConformal(constant(0), { alpha: 0.1, sigma: 1 }), /sigma/);
    expectInvalid(() => new DynamicallyTunedConformal(constant(0), { alpha: 0.1, eta: 0 }), /eta/);
    expectInvalid(() => new DynamicallyTunedConformal(constant(0), { alpha: 0.1, horizon: -5 }), /horizon/);
    const state = twoExperts().toJSON();
    expectInvalid(() => DynamicallyTunedConformal.fromJSON({ ...state, levels: [0.1] }, constant(0)), /2 levels and weights/);
    expectInvalid(() => DynamicallyTunedConformal.fromJSON({ ...state, weights: [0.5, -1] }, constant(0)), /weights\[1\]/);
    expectInvalid(() => DynamicallyTunedConformal.fromJSON({ ...state, method: 'aci' }, constant(0)), /method 'aci'/);
  });
});
