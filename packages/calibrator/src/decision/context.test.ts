import { describe, expect, it } from 'vitest';
import { FEATURE_NAMES, checkContext, contextFeatures } from './context.js';
import { context } from './decision.test-support.js';
import { METRICS, METRIC_FEATURES, metricFeatures } from './structural.js';

describe('decision context', () => {
  it('turns a context into its scaled features (by hand)', () => {
    const ctx = context({
      cpuLoad: 0.25,
      powerSource: 'battery',
      batteryPercent: 40,
      uplinkBps: { mean: 2e7, sd: 5e6 },
      rttMs: { mean: 30, sd: 10 },
      serverQueueDepth: 5,
      deviceIntensityGPerKwh: 400,
      serverIntensityGPerKwh: 120,
    });
    const f = contextFeatures(ctx);
    expect(f).toHaveLength(FEATURE_NAMES.length);
    const expected = [0.25, 1, 0.6, Math.log(2), 0.25, 0.3, 0.1, 0.5, 0.4, 0.12];
    f.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 12));
    // Off battery the battery features are 0 whatever the charge; the CV is capped at 2.
    const plain = contextFeatures(context({ batteryPercent: 5, uplinkBps: { mean: 1e7, sd: 1e8 } }));
    expect(plain.slice(0, 5)).toEqual([0, 0, 0, 0, 2]);
  });

  it("picks each metric's features in METRICS order", () => {
    const all = contextFeatures(context({ cpuLoad: 0.5, serverQueueDepth: 3 }));
    const per = metricFeatures(all);
    expect(per).toHaveLength(METRICS.length);
    METRICS.forEach((m, i) => expect(per[i]).toEqual(METRIC_FEATURES[m].map((name) => all[FEATURE_NAMES.indexOf(name)]!)));
    expect(per[0]).toEqual([0.5, 0, 0]);
    expect(per[2]).toEqual([0.3]);
  });

  it('refuses a context that would make a prediction meaningless, naming the field', () => {
    expect(() => checkContext(context())).not.toThrow();
    expect(() => checkContext(context({ cpuLoad: 1.5 }))).toThrow(/cpuLoad must be in \[0, 1\]/);
    expect(() => checkContext(context({ powerSource: 'solar' as never }))).toThrow(/powerSource/);
    expect(() => checkContext(context({ batteryPercent: 101 }))).toThrow(/batteryPercent/);
    expect(() => checkContext(context({ rttMs: { mean: Number.NaN, sd: 0 } }))).toThrow(/rttMs.mean/);
    expect(() => checkContext(context({ serverIntensityGPerKwh: -1 }))).toThrow(/serverIntensityGPerKwh/);
    expect(() => checkContext(context({ serverPue: 0.9 }))).toThrow(/PUE must be a finite number >= 1/);
    expect(() => checkContext(context({ serverTailMs: { 'split-2': -3 } }))).toThrow(/serverTailMs.split-2/);
    expect(() => checkContext(context({ radio: { upJPerByte: 1e-7, downJPerByte: 0, burstJ: Number.POSITIVE_INFINITY } }))).toThrow(/radio.burstJ/);
  });
});
