import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@carboncp/core';
import { OnlineRidge } from '../predictors/online-ridge.js';
import type { Features } from '../types.js';
import { MondrianConformal } from './mondrian.js';
import { SplitConformal } from './split.js';
import { calibrateThenTest, coverageOf, meanWidthOf, normalStream, studentT, type Sample } from './synthetic.test-support.js';

const ALPHA = 0.1;
const REPETITIONS = 30;
const powerSource = (x: Features) => (x[0] === 1 ? 'battery' : 'mains');

/** A device on battery 30% of the time, with five times the (Student-t, 3 df) noise of mains power. */
function batteryOrMains(seed: number): () => Sample {
  const uniform = mulberry32(seed);
  const normal = normalStream(seed ^ 0x2545f491);
  return () => {
    const battery = uniform() < 0.3 ? 1 : 0;
    const load = uniform();
    return { x: [battery, load], y: 5 + 3 * load + (battery ? 2 : 0.4) * studentT(normal, 3) };
  };
}

const splitOnRidge = () => new SplitConformal(new OnlineRidge({ dimensions: 2 }), { alpha: ALPHA, window: 500 });

describe('MondrianConformal', () => {
  it('covers every bin at 1 - alpha where pooled split under-covers the noisy one, over seeded repetitions', () => {
    const bins = { pooled: { battery: 0, mains: 0 }, mondrian: { battery: 0, mains: 0 } };
    let mondrianBatteryWidth = 0;
    let mondrianMainsWidth = 0;
    for (let rep = 0; rep < REPETITIONS; rep += 1) {
      const options = { calibrate: 1500, test: 1000, group: powerSource };
      const pooled = calibrateThenTest(splitOnRidge(), batteryOrMains(300 + rep), options);
      const mondrian = calibrateThenTest(new MondrianConformal({ alpha: ALPHA, bin: powerSource, create: splitOnRidge }), batteryOrMains(300 + rep), options);
      for (const bin of ['battery', 'mains'] as const) {
        bins.pooled[bin] += coverageOf(pooled.groups.get(bin)!) / REPETITIONS;
        bins.mondrian[bin] += coverageOf(mondrian.groups.get(bin)!) / REPETITIONS;
      }
      mondrianBatteryWidth += meanWidthOf(mondrian.groups.get('battery')!) / REPETITIONS;
      mondrianMainsWidth += meanWidthOf(mondrian.groups.get('mains')!) / REPETITIONS;
    }
    if (process.env['CALIBRATOR_REPORT']) console.log(JSON.stringify({ bins, mondrianBatteryWidth, mondrianMainsWidth }));
    expect(bins.pooled.battery).toBeLessThan(1 - ALPHA - 0.1);
    expect(bins.pooled.mains).toBeGreaterThan(1 - ALPHA + 0.05);
    for (const bin of ['battery', 'mains'] as const) {
      expect(bins.mondrian[bin]).toBeGreaterThanOrEqual(1 - ALPHA - 0.01);
      expect(bins.mondrian[bin]).toBeLessThan(1 - ALPHA + 0.05);
    }
    expect(mondrianMainsWidth).toBeLessThan(mondrianBatteryWidth / 3);
  });

  it('lets the pooled method answer for a bin with too few scores, labelled, then hands over', () => {
    const method = new MondrianConformal({ alpha: ALPHA, bin: (x) => (x[0]! > 0 ? 'high' : 'low'), create: () => new SplitConformal({ predict: () => 0 }, { alpha: ALPHA }) });
    expect(method.minScores).toBe(9);
    for (let i = 1; i <= 20; i += 1) method.observe([-1], i); // low: scores 1..20
    const early = method.predict([1]);
    // high has no scores: the pooled window (1..20, rank ceil(21 x 0.9) = 19) answers.
    expect(early).toMatchObject({ method: 'mondrian-pooled', pooled: true, bin: 'high', inner: 'split', n: 20, lower: -19, upper: 19 });
    for (let i = 1; i <= 9; i += 1) method.observe([1], 100 * i);
    const late = method.predict([1]);
    expect(late).toMatchObject({ method: 'mondrian', pooled: false, bin: 'high', n: 9, upper: 900 });
    expect(method.predict([-1])).toMatchObject({ method: 'mondrian', n: 20, upper: 19 });
    expect(method.binKeys().sort()).toEqual(['high', 'low']);
    expect(method.binMethod('high')?.method).toBe('split');
  });

  it('honours a larger minScores, reports every bin in toJSON and refuses an inner method at another alpha', () => {
    const method = new MondrianConformal({ alpha: ALPHA, minScores: 50, bin: powerSource, create: splitOnRidge });
    const draw = batteryOrMains(1);
    for (let i = 0; i < 100; i += 1) {
      const { x, y } = draw();
      method.observe(x, y);
    }
    expect(method.predict([1, 0.5]).pooled).toBe(true); // ~30 battery scores
    expect(method.predict([0, 0.5]).pooled).toBe(false); // ~70 mains scores
    const state = method.toJSON() as { minScores: number; bins: Record<string, { scores: number[] }>; pooled: { scores: number[] } };
    expect(state.minScores).toBe(50);
    expect(state.pooled.scores).toHaveLength(100);
    expect(state.bins['battery']!.scores.length + state.bins['mains']!.scores.length).toBe(100);
    expect(() => new MondrianConformal({ alpha: ALPHA, bin: powerSource, create: () => new SplitConformal({ predict: () => 0 }, { alpha: 0.2 }) })).toThrow(/alpha 0.2/);
  });
});
