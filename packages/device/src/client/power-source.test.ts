import { mulberry32 } from '@carboncp/core';
import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import {
  counterDelta,
  counterEnergy,
  energyOverWindow,
  powerEnergy,
  readingsFrom,
  integratePiecewiseLinear,
  modelWatts,
  powerModelOf,
  PowerSampler,
  type PowerReading,
  type PowerSource,
} from './power-source.js';

const watts = (at: number, w: number, kind: 'measured' | 'estimated' = 'measured'): PowerReading => ({ at, watts: w, kind, source: kind === 'measured' ? 'sensor' : 'model' });
const counter = (at: number, joules: number): PowerReading => ({ at, energyJoules: joules, kind: 'measured', source: 'rapl:package-0' });

describe('counterDelta', () => {
  it('is the plain difference without a wrap and wraps once at max_energy_range_uj', () => {
    expect(counterDelta(1000, 5000, 262143328850)).toBe(4000);
    // 262143328000 -> wrap at 262143328850 -> 1000: 850 + 1000.
    expect(counterDelta(262143328000, 1000, 262143328850)).toBe(1850);
    expect(counterDelta(7, 7, 100)).toBe(0);
  });
});

describe('integratePiecewiseLinear', () => {
  const points = [{ t: 0, v: 10 }, { t: 1000, v: 20 }, { t: 2000, v: 10 }];
  it('integrates the trapezoids between samples and at the window edges (hand-computed)', () => {
    // [500, 1500]: 15 -> 20 -> 15 W: (15+20)/2*500 + (20+15)/2*500 = 17500 W*ms.
    expect(integratePiecewiseLinear(points, 500, 1500)).toBeCloseTo(17500, 9);
    // Whole span: (10+20)/2*1000 + (20+10)/2*1000 = 30000.
    expect(integratePiecewiseLinear(points, 0, 2000)).toBeCloseTo(30000, 9);
    // Inside one segment [200, 400]: 12 -> 14 W: 13*200 = 2600.
    expect(integratePiecewiseLinear(points, 200, 400)).toBeCloseTo(2600, 9);
  });
  it('holds the first and last values outside the samples; an empty window is 0', () => {
    // [1500, 3000]: (15+10)/2*500 + 10*1000 = 16250.
    expect(integratePiecewiseLinear(points, 1500, 3000)).toBeCloseTo(16250, 9);
    // [-1000, 0]: 10 W held: 10000.
    expect(integratePiecewiseLinear(points, -1000, 0)).toBeCloseTo(10000, 9);
    expect(integratePiecewiseLinear(points, 700, 700)).toBe(0);
    expect(integratePiecewiseLinear([], 0, 10)).toBe(0);
  });
});

describe('energyOverWindow', () => {
  it('uses the counter, interpolated at the window edges, where one exists (hand-computed)', () => {
    const history = [counter(0, 100), counter(1000, 110), counter(2000, 130)];
    // E(500) = 105, E(1500) = 120.
    expect(energyOverWindow(history, 500, 1500)).toEqual({ joules: 15, kind: 'measured', method: 'counter', source: 'rapl:package-0', extrapolatedMs: 0 });
    // Past the newest sample at the last rate (20 J/s): E(2500) = 140; 500 ms extrapolated.
    const late = energyOverWindow(history, 1500, 2500)!;
    expect(late.joules).toBeCloseTo(20, 9);
    expect(late.extrapolatedMs).toBe(500);
  });

  it('prefers the counter to measured power in the same history', () => {
    const history = [{ ...counter(0, 0), watts: 99 }, { ...counter(1000, 5), watts: 99 }];
    expect(energyOverWindow(history, 0, 1000)).toMatchObject({ joules: 5, method: 'counter' });
  });

  it('integrates measured power where there is no counter, and labels it', () => {
    const history = [watts(0, 10), watts(1000, 20), watts(2000, 10)];
    const e = energyOverWindow(history, 500, 1500)!;
    expect(e.joules).toBeCloseTo(17.5, 9);
    expect(e).toMatchObject({ kind: 'measured', method: 'integrated', source: 'sensor', extrapolatedMs: 0 });
    expect(energyOverWindow(history, 1500, 3000)).toMatchObject({ joules: 16.25, extrapolatedMs: 1000 });
  });

  it('falls back to estimated power, labelled model; measured power wins when both are there', () => {
    const estimated = [watts(0, 4, 'estimated'), watts(1000, 6, 'estimated')];
    const e = energyOverWindow(estimated, 0, 1000)!;
    expect(e.joules).toBeCloseTo(5, 9);
    expect(e).toMatchObject({ kind: 'estimated', method: 'model', source: 'model' });
    expect(energyOverWindow([...estimated, watts(1000, 30)], 0, 1000)).toMatchObject({ joules: 30, kind: 'measured' });
  });

  it('follows the newest reading: measured power from before a switch to the model is left out', () => {
    // Battery draw measured until t=1000, then on mains: the model answers.
    const history = [watts(0, 10), watts(1000, 10), watts(2000, 4, 'estimated'), watts(3000, 6, 'estimated')];
    expect(energyOverWindow(history, 2000, 3000)).toMatchObject({ joules: 5, kind: 'estimated', method: 'model' });
    // A counter that stopped (RAPL failing) gives way to the power that is live.
    const stale = [counter(0, 0), counter(1000, 10), watts(2000, 8)];
    expect(energyOverWindow(stale, 2000, 2500)).toMatchObject({ joules: 4, method: 'integrated' });
  });

  it('is undefined when nothing is known or the window is reversed: never a made-up constant', () => {
    expect(energyOverWindow([], 0, 10)).toBeUndefined();
    expect(energyOverWindow([{ at: 0, kind: 'measured', source: 'power_supply:BAT0', batteryPercent: 80 }], 0, 10)).toBeUndefined();
    expect(energyOverWindow([watts(0, 5)], 10, 0)).toBeUndefined();
  });
});

describe('readingsFrom', () => {
  /** A seeded history: readings 0-200 ms apart (some at the same instant), counters, power or both, of either kind. */
  function history(random: () => number): PowerReading[] {
    const readings: PowerReading[] = [];
    let at = 1000 * random();
    let joules = 0;
    for (let i = 0, n = 1 + Math.floor(150 * random()); i < n; i++) {
      at += random() < 0.05 ? 0 : 200 * random();
      joules += 10 * random();
      const reading: PowerReading = { at, kind: random() < 0.7 ? 'measured' : 'estimated', source: `s${i}` };
      if (random() < 0.6) reading.energyJoules = joules;
      if (random() < 0.6) reading.watts = 20 * random();
      readings.push(reading);
    }
    return readings;
  }
  const close = (a: ReturnType<typeof powerEnergy>, b: ReturnType<typeof powerEnergy>) => {
    expect(a.joules).toBeCloseTo(b.joules, 9);
    expect(a.extrapolatedMs).toBeCloseTo(b.extrapolatedMs, 9);
    expect({ ...a, joules: 0, extrapolatedMs: 0 }).toEqual({ ...b, joules: 0, extrapolatedMs: 0 });
  };

  it('gives the window the same energy as every reading would, from the newest back to the first before t0', () => {
    const random = mulberry32(7);
    let shortened = 0;
    for (let run = 0; run < 400; run++) {
      const h = history(random);
      const first = h[0]!.at;
      const last = h[h.length - 1]!.at;
      const t0 = first - 300 + (last - first + 600) * random();
      const t1 = t0 + (random() < 0.2 ? 0 : 3000 * random());
      for (const kind of ['measured', 'estimated'] as const) {
        const hasCounter = (r: PowerReading) => r.energyJoules !== undefined && r.kind === kind;
        const hasWatts = (r: PowerReading) => r.watts !== undefined && r.kind === kind;
        const counters = h.filter(hasCounter);
        const picked = readingsFrom(h, t0, hasCounter);
        if (picked.length < counters.length) shortened += 1;
        expect(picked.length >= 2 || picked.length === counters.length).toBe(true);
        if (counters.length >= 2) close(counterEnergy(picked, t0, t1), counterEnergy(counters, t0, t1));
        const powers = h.filter(hasWatts);
        if (powers.length >= 1) close(powerEnergy(readingsFrom(h, t0, hasWatts), t0, t1), powerEnergy(powers, t0, t1));
      }
    }
    // Most windows sit inside their history: the lookup read only its end.
    expect(shortened).toBeGreaterThan(200);
  });

  it('stops at the first reading before t0 once it holds two', () => {
    const h = [watts(0, 1), watts(100, 2), watts(200, 3), watts(300, 4), watts(400, 5)];
    expect(readingsFrom(h, 250, () => true).map((r) => r.at)).toEqual([200, 300, 400]);
    expect(readingsFrom(h, 450, () => true).map((r) => r.at)).toEqual([300, 400]);
    expect(readingsFrom(h, -5, () => true).map((r) => r.at)).toEqual([0, 100, 200, 300, 400]);
  });
});

describe('modelWatts', () => {
  it('is linear between idle and active, clamped to utilisation 0..1', () => {
    const model = { idleWatts: 2, activeWatts: 6, source: 'test' };
    expect(modelWatts(model, 0)).toBe(2);
    expect(modelWatts(model, 0.25)).toBe(3);
    expect(modelWatts(model, 1)).toBe(6);
    expect(modelWatts(model, 3)).toBe(6);
    expect(modelWatts(model, Number.NaN)).toBe(2);
  });
});

/** A source whose reads resolve when the test says so, counting calls. */
class ScriptedSource implements PowerSource {
  readonly name = 'scripted';
  calls = 0;
  pending: Array<{ resolve: (r: PowerReading) => void; reject: (e: unknown) => void }> = [];
  read(): Promise<PowerReading> {
    this.calls += 1;
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }
  answer(w: number): void {
    this.pending.shift()!.resolve({ watts: w, kind: 'measured', source: 'scripted', at: -1 });
  }
  fail(): void {
    this.pending.shift()!.reject(new Error('sensor gone'));
  }
}

describe('PowerSampler', () => {
  it('samples on its timer, stamps readings with its clock, and keeps a bounded history', async () => {
    const clock = new ManualClock(0);
    let w = 0;
    const source: PowerSource = { name: 'counting', read: async () => ({ watts: ++w, kind: 'measured', source: 's', at: -1 }) };
    const sampler = new PowerSampler(source, { clock, intervalMs: 100, historySize: 3 });
    expect(sampler.latest()).toBeUndefined();
    await sampler.start();
    expect(sampler.latest()).toMatchObject({ watts: 1, at: 0 });
    await clock.advance(250);
    expect(sampler.history().map((r) => [r.at, r.watts])).toEqual([[0, 1], [100, 2], [200, 3]]);
    await clock.advance(100);
    expect(sampler.history().map((r) => r.at)).toEqual([100, 200, 300]);
    expect(clock.pending(true)).toBe(0); // the sampler's timer never keeps Node alive
    sampler.stop();
    await clock.advance(1000);
    expect(sampler.latest()!.at).toBe(300);
    expect(clock.pending()).toBe(0);
  });

  it('never overlaps reads: a slow sensor delays the next sample, and sampleNow joins the read under way', async () => {
    const clock = new ManualClock(0);
    const source = new ScriptedSource();
    const sampler = new PowerSampler(source, { clock, intervalMs: 100 });
    const started = sampler.start();
    expect(sampler.sampleNow()).toBe(sampler.sampleNow());
    expect(source.calls).toBe(1);
    await clock.advance(500); // the read hangs: no second read meanwhile
    expect(source.calls).toBe(1);
    source.answer(7);
    await started;
    expect(sampler.latest()).toMatchObject({ watts: 7, at: 250 }); // stamped in the middle of the 0..500 read
    await clock.advance(100);
    expect(source.calls).toBe(2);
    sampler.stop();
  });

  it('keeps the last good reading through failed reads and counts them', async () => {
    const clock = new ManualClock(0);
    const source = new ScriptedSource();
    const errors: unknown[] = [];
    const sampler = new PowerSampler(source, { clock, intervalMs: 100, onError: (e) => errors.push(e) });
    const started = sampler.start();
    source.answer(5);
    await started;
    await clock.advance(100);
    source.fail();
    await clock.advance(0);
    expect(sampler.latest()).toMatchObject({ watts: 5, at: 0 });
    expect(sampler.failuresSeen().count).toBe(1);
    expect(errors).toHaveLength(1);
    await clock.advance(100); // it goes on sampling after a failure
    expect(source.calls).toBe(3);
    sampler.stop();
  });

  it('gives window energy from its cached history (hand-computed)', async () => {
    const clock = new ManualClock(0);
    const values = [10, 20, 10];
    const source: PowerSource = { name: 'w', read: async () => ({ watts: values.shift()!, kind: 'measured', source: 'w', at: -1 }) };
    const sampler = new PowerSampler(source, { clock, intervalMs: 1000 });
    await sampler.start();
    await clock.advance(2000);
    sampler.stop();
    expect(sampler.energy(500, 1500)!.joules).toBeCloseTo(17.5, 9);
  });

  it('takes its default interval from the source where it suggests one', async () => {
    const clock = new ManualClock(0);
    const source: PowerSource = { name: 'slow', suggestedIntervalMs: 15_000, read: async () => ({ kind: 'measured', source: 'slow', watts: 1, at: 0 }) };
    const sampler = new PowerSampler(source, { clock });
    await sampler.start();
    await clock.advance(14_999);
    expect(sampler.history()).toHaveLength(1);
    await clock.advance(1);
    expect(sampler.history()).toHaveLength(2);
    sampler.stop();
  });

  it('refuses a zero interval or a history too short to integrate', () => {
    const source: PowerSource = { name: 'x', read: async () => ({ kind: 'estimated', source: 'x', at: 0 }) };
    expect(() => new PowerSampler(source, { intervalMs: 0 })).toThrow(RangeError);
    expect(() => new PowerSampler(source, { historySize: 1 })).toThrow(RangeError);
  });
});

describe('powerModelOf', () => {
  it("takes a device profile's idle and active watts and names the profile", async () => {
    const { loadDeviceProfile } = await import('@carboncp/carbon/node');
    const profile = await loadDeviceProfile('raspberry-pi-4');
    const model = powerModelOf(profile);
    expect(model.idleWatts).toBe(profile.power.idleW.value);
    expect(model.activeWatts).toBe(profile.power.activeW.value);
    expect(model.source).toContain("'raspberry-pi-4'");
  });
});
