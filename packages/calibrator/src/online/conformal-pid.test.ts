import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@carboncp/core';
import { OnlineRidge } from '../predictors/online-ridge.js';
import { ConformalPid } from './conformal-pid.js';
import { constant, expectInvalid, mean, runOnline } from './drift.test-support.js';

describe('ConformalPid', () => {
  it('starts tracking from the split-conformal quantile, then steps by eta (err - alpha) plus the saturated integral', () => {
    const pid = new ConformalPid(constant(0), { alpha: 0.1 });
    for (let y = 1; y <= 9; y += 1) {
      expect(pid.predict([]).upper).toBe(Number.POSITIVE_INFINITY);
      pid.observe([], y);
    }
    expect(pid.predict([])).toEqual({ point: 0, lower: -9, upper: 9, alpha: 0.1, method: 'pid', n: 9 });
    pid.observe([], 20); // a miss against 9: the range was 9 - 1 = 8, eta = 0.05 x 8
    expect(pid.trackedQuantile).toBeCloseTo(9 + 0.05 * 8 * 0.9, 12);
    // The integral: K_I x range (now 20 - 1) x tan(S ln(t+1) / (C_sat (t+1))), S = 0.9, t = 1.
    const integral = 19 * Math.tan((0.9 * Math.log(2)) / (5 * 2));
    expect(pid.integral).toBeCloseTo(integral, 12);
    expect(pid.predict([]).upper).toBeCloseTo(9.36 + integral, 12);
    pid.observe([], 0); // a hit: the range is 20 now
    expect(pid.trackedQuantile).toBeCloseTo(9.36 - 0.05 * 19 * 0.1, 12);
    expect(pid.integral).toBeCloseTo(20 * Math.tan((0.8 * Math.log(3)) / (5 * 3)), 12);
  });

  it('in fixed units (proportional: false) and without the integral, is plain quantile tracking', () => {
    const pid = new ConformalPid(constant(0), { alpha: 0.5, learningRate: 0.25, integralGain: 0, proportional: false });
    pid.observe([], 1); // n = 1 bounds alpha 0.5: tracking starts at the next target
    expect(pid.predict([]).upper).toBe(1);
    const path = [1];
    for (const y of [3, 3, 0, 0, 0]) {
      pid.observe([], y);
      path.push(pid.predict([]).upper);
    }
    expect(path).toEqual([1, 1.125, 1.25, 1.125, 1, 0.875]);
  });

  it('saturates: an infinite interval once the coverage debt is large, a point interval once the surplus is', () => {
    const pid = new ConformalPid(constant(0), { alpha: 0.1, saturation: 0.01 });
    for (let y = 1; y <= 9; y += 1) pid.observe([], y);
    pid.observe([], 100); // S = 0.9: 0.9 ln 2 / 0.02 > pi / 2
    expect(pid.integral).toBe(Number.POSITIVE_INFINITY);
    expect(pid.predict([])).toMatchObject({ lower: Number.NEGATIVE_INFINITY, upper: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 9; i += 1) pid.observe([], 1); // S = 0: the integral lets go
    expect(pid.integral).toBeCloseTo(0, 12);
    expect(Number.isFinite(pid.predict([]).upper)).toBe(true);
    for (let i = 0; i < 20; i += 1) pid.observe([], 0); // hits whatever the threshold: S = -2, far past saturation
    expect(pid.integral).toBe(Number.NEGATIVE_INFINITY);
    expect(pid.predict([])).toMatchObject({ lower: 0, point: 0, upper: 0 });
  });

  it('with a scorecaster (the D term), follows noise that grows with x: narrower and better covered where it is noisy', () => {
    const results = [false, true].map((withScorecaster) => {
      const random = mulberry32(4);
      const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      const xs: number[][] = [];
      const ys: number[] = [];
      for (let t = 0; t < 4000; t += 1) {
        const x = 4 * random();
        xs.push([x]);
        ys.push(2 * x + x * normal());
      }
      const scorecaster = withScorecaster ? { scorecaster: new OnlineRidge({ dimensions: 1, forgetting: 0.995 }) } : {};
      const run = runOnline(new ConformalPid(new OnlineRidge({ dimensions: 1 }), { alpha: 0.1, ...scorecaster }), { xs, ys }, 500);
      const noisy = run.hits.filter((_, i) => xs[i + 500]![0]! > 3);
      return { coverage: mean(run.hits), noisy: mean(noisy), width: mean(run.widths) };
    });
    const [plain, scorecast] = results as [(typeof results)[0], (typeof results)[0]];
    expect(Math.abs(plain.coverage - 0.9)).toBeLessThan(0.005);
    expect(Math.abs(scorecast.coverage - 0.9)).toBeLessThan(0.005);
    expect(scorecast.width).toBeLessThan(0.9 * plain.width);
    expect(scorecast.noisy).toBeGreaterThan(plain.noisy + 0.03);
  });

  it('round-trips its state (and a scorecaster restored on its own) through JSON', () => {
    const random = mulberry32(23);
    const ridge = new OnlineRidge({ dimensions: 1 });
    const caster = new OnlineRidge({ dimensions: 1, forgetting: 0.99 });
    const pid = new ConformalPid(ridge, { alpha: 0.1, window: 50, scorecaster: caster });
    const step = () => {
      const x = [random()];
      return { x, y: x[0]! * (1 + random()) };
    };
    for (let i = 0; i < 100; i += 1) {
      const { x, y } = step();
      pid.observe(x, y);
    }
    const state = JSON.parse(JSON.stringify(pid.toJSON()));
    expect(state).toMatchObject({ method: 'pid', learningRate: 0.05, integralGain: 1, saturation: 5, proportional: true, steps: 91 });
    const restored = ConformalPid.fromJSON(state, OnlineRidge.fromJSON(ridge.toJSON()), { scorecaster: OnlineRidge.fromJSON(caster.toJSON()) });
    for (let i = 0; i < 40; i += 1) {
      const { x, y } = step();
      expect(restored.predict(x)).toEqual(pid.predict(x));
      pid.observe(x, y);
      restored.observe(x, y);
    }
  });

  it('refuses bad options and states', () => {
    expectInvalid(() => new ConformalPid(constant(0), { alpha: 0.1, learningRate: 0 }), /learningRate/);
    expectInvalid(() => new ConformalPid(constant(0), { alpha: 0.1, integralGain: -1 }), /integralGain/);
    expectInvalid(() => new ConformalPid(constant(0), { alpha: 0.1, saturation: Number.POSITIVE_INFINITY }), /saturation/);
    const state = new ConformalPid(constant(0), { alpha: 0.1 }).toJSON();
    expectInvalid(() => ConformalPid.fromJSON({ ...state, tracked: Number.NaN }, constant(0)), /tracked/);
    expectInvalid(() => ConformalPid.fromJSON({ ...state, steps: -1 }, constant(0)), /steps/);
  });
});
