import { mulberry32 } from '@carboncp/core';
import { describe, expect, it } from 'vitest';
import { pluggedAt } from './battery.js';
import { NormalStream, logNormalOf, queueLength } from './random-streams.js';
import { constantLink, hourly, HOUR_MS, START } from './sim.test-support.js';
import { IntensityTrack, LinkEstimator, utilisationAt } from './world.js';
import { checkCapacityTrace } from '@carboncp/carbon';

describe('IntensityTrack', () => {
  const values = Array.from({ length: 24 * 20 }, (_, h) => 300 + 200 * Math.sin((2 * Math.PI * h) / 24) + (h % 7) * 10);
  const start = START + 15 * 24 * HOUR_MS;
  const end = start + 48 * HOUR_MS;

  it('gives the truth of each hour, and what a device knows of it: the hour itself, the last hour, or a forecast', () => {
    const truth = new IntensityTrack(hourly('Z', values), start, end, 'true', 'seasonal-ewma', 14);
    const last = new IntensityTrack(hourly('Z', values), start, end, 'last-known', 'seasonal-ewma', 14);
    const forecast = new IntensityTrack(hourly('Z', values), start, end, 'forecast', 'seasonal-ewma', 14);
    const first = 15 * 24;
    expect(truth.indexAt(start + 90 * 60_000)).toBe(1);
    expect(truth.truth[1]).toBe(values[first + 1]);
    expect(truth.seen[1]).toBe(values[first + 1]);
    expect(last.seen[1]).toBe(values[first]);
    // The forecast errs, but it is a forecast of this grid: its mean absolute error is far below the series' swing.
    let error = 0;
    for (let j = 0; j < forecast.truth.length; j += 1) error += Math.abs(forecast.seen[j]! - forecast.truth[j]!);
    expect(error / forecast.truth.length).toBeGreaterThan(0);
    expect(error / forecast.truth.length).toBeLessThan(40);
  });

  it('never sees the future: changing the trace from an hour on changes nothing seen before or at it', () => {
    const changedAt = 15 * 24 + 10;
    const altered = values.map((v, h) => (h >= changedAt ? v * 3 : v));
    for (const view of ['forecast', 'last-known'] as const) {
      const a = new IntensityTrack(hourly('Z', values), start, end, view, 'seasonal-ewma', 14);
      const b = new IntensityTrack(hourly('Z', altered), start, end, view, 'seasonal-ewma', 14);
      for (let j = 0; j <= 10; j += 1) expect(b.seen[j]).toBe(a.seen[j]);
      expect(b.seen[11]).not.toBe(a.seen[11]);
    }
  });

  it('loops the trace and carries the last value over gaps', () => {
    const gappy = hourly('Z', [100, Number.NaN, 300]);
    const track = new IntensityTrack(gappy, START, START + 5 * HOUR_MS, 'true', 'persistence', 0);
    expect(Array.from(track.truth)).toEqual([100, 100, 300, 100, 100, 300]);
  });
});

describe('LinkEstimator', () => {
  it('follows a step in capacity with the lag of its weight, starting from the prior', () => {
    const step = checkCapacityTrace({ startsMs: [0, 10_000], bps: [2e6, 8e6], periodMs: 1e9, source: 'step' });
    const e = new LinkEstimator(step, 1000, 0.5, { mean: 1e7, sd: 5e6 });
    expect(e.estimate()).toEqual({ mean: 1e7, sd: 5e6 });
    e.probe(5000);
    expect(e.estimate().mean).toBeCloseTo(6e6, 6); // half-way from the prior to 2 Mbit/s
    for (let t = 6000; t <= 10_000; t += 1000) e.probe(t);
    expect(e.estimate().mean).toBeLessThan(2.2e6);
    e.probe(11_000);
    const before = 2e6 + 8e6 * 0.5 ** 6; // six probes at 2 Mbit/s, each halving the prior's excess
    expect(e.estimate().mean).toBeCloseTo((before + 8e6) / 2, 3); // one probe after the step: half-way to it
    expect(e.estimate().sd).toBeGreaterThan(1e6);
    const flat = new LinkEstimator(constantLink(5e6), 1000, 0.3, { mean: 5e6, sd: 0 });
    flat.probe(123_456);
    expect(flat.estimate()).toEqual({ mean: 5e6, sd: 0 });
  });
});

describe('random streams', () => {
  it('fits a lognormal to the profile: its median, and its p90 / p10 ratio', () => {
    const ln = logNormalOf({ medianMs: 50, p10Ms: 40, p90Ms: 70, meanMs: 52, sdMs: 12, n: 20 })!;
    expect(Math.exp(ln.mu)).toBeCloseTo(50, 9);
    expect(Math.exp(2 * 1.2815515655446004 * ln.sigma)).toBeCloseTo(70 / 40, 9);
    expect(logNormalOf({ medianMs: 0, p10Ms: 0, p90Ms: 0, meanMs: 0, sdMs: 0, n: 0 })).toBeNull();
    expect(logNormalOf({ medianMs: 5, p10Ms: 5, p90Ms: 5, meanMs: 5, sdMs: 0, n: 1 })!.sigma).toBe(0);
  });

  it('draws normals the same way every time, across chunk boundaries, and different streams differ', () => {
    const a = new NormalStream('head', 3);
    const b = new NormalStream('head', 3);
    const c = new NormalStream('tail', 3);
    const xs = Array.from({ length: 10_000 }, () => a.next());
    expect(Array.from({ length: 10_000 }, () => b.next())).toEqual(xs);
    expect(c.next()).not.toBe(xs[0]);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(variance).toBeCloseTo(1, 1);
  });

  it('queue lengths follow M/M/1: mean rho / (1 - rho)', () => {
    const random = mulberry32(5);
    for (const rho of [0.3, 0.7]) {
      let sum = 0;
      for (let i = 0; i < 50_000; i += 1) sum += queueLength(rho, random());
      expect(sum / 50_000).toBeCloseTo(rho / (1 - rho), 1);
    }
    expect(queueLength(0, 0.99)).toBe(0);
  });
});

describe('schedules', () => {
  it('plugged in between two UTC hours, wrapping midnight', () => {
    const at = (h: number) => START + h * HOUR_MS;
    expect(pluggedAt([22, 6], at(23))).toBe(true);
    expect(pluggedAt([22, 6], at(5.9))).toBe(true);
    expect(pluggedAt([22, 6], at(6))).toBe(false);
    expect(pluggedAt([8, 9], at(8.5))).toBe(true);
    expect(pluggedAt([8, 9], at(9.5))).toBe(false);
    expect(pluggedAt(null, at(8.5))).toBe(false);
  });

  it('a load trace loops from the start', () => {
    const load = { values: [0.1, 0.5], stepMinutes: 30 };
    expect(utilisationAt(load, START, START + 10 * 60_000)).toBe(0.1);
    expect(utilisationAt(load, START, START + 40 * 60_000)).toBe(0.5);
    expect(utilisationAt(load, START, START + 70 * 60_000)).toBe(0.1);
    expect(utilisationAt(0.2, START, START)).toBe(0.2);
  });
});
