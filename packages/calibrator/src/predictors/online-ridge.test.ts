import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@carboncp/core';
import { OnlineRidge } from './online-ridge.js';

describe('OnlineRidge', () => {
  it('recovers linear weights from seeded noisy data', () => {
    const random = mulberry32(3);
    const model = new OnlineRidge({ dimensions: 3, lambda: 1e-3 });
    const truth = [5, 2, -1, 0.5];
    for (let i = 0; i < 2000; i += 1) {
      const x = [random() * 10, random() * 10, random() * 10];
      const y = truth[0]! + truth[1]! * x[0]! + truth[2]! * x[1]! + truth[3]! * x[2]! + (random() - 0.5) * 0.1;
      model.update(x, y);
    }
    model.weights().forEach((w, i) => expect(w).toBeCloseTo(truth[i]!, 2));
    expect(model.observations).toBe(2000);
  });

  it('with forgetting, follows a step change that plain least squares averages away', () => {
    const forgetful = new OnlineRidge({ dimensions: 0, forgetting: 0.95 });
    const plain = new OnlineRidge({ dimensions: 0 });
    for (let i = 0; i < 200; i += 1) {
      const y = i < 100 ? 10 : 20;
      forgetful.update([], y);
      plain.update([], y);
    }
    // 0.95^100 of weight is left on the old level: 20 - 10 x 0.006 = 19.94.
    expect(Math.abs(forgetful.predict([]) - 20)).toBeLessThan(0.1);
    expect(plain.predict([])).toBeCloseTo(15, 0);
  });

  it('round-trips its state through JSON and keeps learning the same way', () => {
    const a = new OnlineRidge({ dimensions: 2, forgetting: 0.99, prior: [1, 0, 0] });
    const random = mulberry32(9);
    for (let i = 0; i < 50; i += 1) a.update([random(), random()], random());
    const b = OnlineRidge.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
    for (let i = 0; i < 20; i += 1) {
      const x = [random(), random()];
      const y = random();
      expect(b.predict(x)).toBeCloseTo(a.predict(x), 12);
      a.update(x, y);
      b.update(x, y);
    }
  });

  it('keeps its inverse covariance exactly symmetric under forgetting (asymmetry grows without bound)', () => {
    const model = new OnlineRidge({ dimensions: 3, forgetting: 0.99 });
    const random = mulberry32(17);
    for (let i = 0; i < 5000; i += 1) model.update([random() * 3, random() < 0.5 ? 0 : 1, 1e-3 * random()], random());
    const { inverseCovariance: p } = model.toJSON();
    for (let i = 0; i < 4; i += 1) for (let j = 0; j < 4; j += 1) expect(p[i * 4 + j]).toBe(p[j * 4 + i]);
  });

  it('updates every entry of a restored inverse covariance that is not symmetric, as recursive least squares does', () => {
    // Recursive least squares written out whole (P = (P - P z z^T P / (f + z^T P z)) / f), no symmetry assumed.
    function reference(p: number[], w: number[], x: number[], y: number, f: number): void {
      const d = w.length;
      const z = [1, ...x];
      const px = z.map((_, i) => z.reduce((s, zj, j) => s + p[i * d + j]! * zj, 0));
      const denominator = z.reduce((s, zi, i) => s + zi * px[i]!, f);
      const error = y - w.reduce((s, wi, i) => s + wi * z[i]!, 0);
      for (let i = 0; i < d; i += 1) w[i] = w[i]! + px[i]! * (1 / denominator) * error;
      for (let i = 0; i < d; i += 1) for (let j = 0; j < d; j += 1) p[i * d + j] = (p[i * d + j]! - px[i]! * px[j]! * (1 / denominator)) * (1 / f);
    }
    const random = mulberry32(23);
    const a = new OnlineRidge({ dimensions: 2, forgetting: 0.98 });
    for (let i = 0; i < 30; i += 1) a.update([random(), random()], random());
    const state = a.toJSON();
    state.inverseCovariance[1] += 1e-3; // (0, 1) no longer (1, 0)
    const b = OnlineRidge.fromJSON(state);
    const p = [...state.inverseCovariance];
    const w = [...state.weights];
    for (let i = 0; i < 25; i += 1) {
      const x = [random(), random()];
      const y = random();
      b.update(x, y);
      reference(p, w, x, y, 0.98);
    }
    const after = b.toJSON();
    after.inverseCovariance.forEach((v, i) => expect(v).toBeCloseTo(p[i]!, 12));
    after.weights.forEach((v, i) => expect(v).toBeCloseTo(w[i]!, 12));
    expect(after.inverseCovariance[1]).not.toBe(after.inverseCovariance[3]);
  });

  it('refuses wrong feature counts and non-finite targets', () => {
    const model = new OnlineRidge({ dimensions: 2 });
    expect(() => model.predict([1])).toThrow(/expected 2 features/);
    expect(() => model.update([1, 2], Number.NaN)).toThrow(/finite/);
    expect(() => new OnlineRidge({ dimensions: 1, forgetting: 0 })).toThrow(/forgetting/);
  });
});
