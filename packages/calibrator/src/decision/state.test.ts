import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@carboncp/core';
import type { Features, IntervalPrediction, IntervalPredictor, PointPredictor } from '../types.js';
import { CarbonAwareDecision, type DeciderState } from './decider.js';
import type { DecideOptions, Decision } from './decision-types.js';
import { EXPECTED, WORLD, context } from './decision.test-support.js';
import { registerIntervalMethod, restoreIntervalPredictor, type MethodFactory } from './method-registry.js';

/** A seeded stream of contexts and what each candidate would cost in them (30% slower wire, log-normal noise). */
function world(seed: number) {
  const random = mulberry32(seed);
  return () => {
    const ctx = context({
      cpuLoad: random() * 0.5,
      uplinkBps: { mean: 4e6 + 1e7 * random(), sd: 1e6 * random() },
      serverQueueDepth: Math.floor(random() * 3),
      deviceIntensityGPerKwh: 200 + 600 * random(),
      powerSource: random() < 0.3 ? 'battery' : 'ac',
      batteryPercent: 100 * random(),
    });
    const noise = () => Math.exp(0.2 * (random() - 0.5));
    const outcome = (i: number) => ({
      latencyMs: EXPECTED.latencyMs[i]! * 1.1 * noise() + ctx.serverQueueDepth * 3,
      deviceEnergyJ: EXPECTED.deviceEnergyJ[i]! * noise(),
      carbonG: EXPECTED.carbonG[i]! * noise(),
    });
    return { ctx, outcomes: Object.fromEntries(WORLD.map((c, i) => [c.id, outcome(i)])) };
  };
}

const MODES: DecideOptions['mode'][] = ['robust', 'mean', 'adaptive', 'set'];

function step(decider: CarbonAwareDecision, next: ReturnType<typeof world>, i: number): Decision {
  const { ctx, outcomes } = next();
  if (i % 10 === 0) {
    decider.observeAll(ctx, outcomes, { sloMs: 120 });
  }
  const d = decider.decide(ctx, { sloMs: 120, mode: MODES[i % 4] });
  decider.observe(d.candidate.id, ctx, outcomes[d.candidate.id]!, d);
  return d;
}

const summary = (d: Decision) => ({
  candidate: d.candidate.id,
  explored: d.explored,
  bound: d.bound,
  latency: d.assessments.map((a) => [a.latency.point, a.latency.lower, a.latency.upper]),
  set: d.set,
  explanation: d.explanation,
});

describe('decider state', () => {
  it('round-trips through JSON text: the restored decider decides and learns exactly as the original', () => {
    const original = new CarbonAwareDecision(WORLD, { alphas: [0.1, 0.2], exploration: { rate: 0.1, staleAfter: 5, seed: 4 } });
    const next = world(21);
    for (let i = 0; i < 150; i += 1) step(original, next, i);
    const text = JSON.stringify(original);
    const restored = CarbonAwareDecision.fromJSON(JSON.parse(text) as DeciderState);
    expect(JSON.stringify(restored)).toBe(text);
    const a = world(99);
    const b = world(99);
    let explored = 0;
    for (let i = 0; i < 120; i += 1) {
      const x = step(original, a, i);
      const y = step(restored, b, i);
      expect(summary(y)).toEqual(summary(x));
      if (x.explored) explored += 1;
    }
    expect(explored).toBeGreaterThan(0);
    expect(JSON.stringify(restored)).toBe(JSON.stringify(original));
    expect(restored.stats).toEqual(original.stats);
  });

  it('a decision serialises with its explanation', () => {
    const decider = new CarbonAwareDecision(WORLD, { exploration: false });
    const d = decider.decide(context(), { mode: 'mean', sloMs: 100 });
    const json = JSON.parse(JSON.stringify(d)) as Decision;
    expect(json.explanation).toBe(d.explanation);
    expect(json.candidate.id).toBe('split-2/int8');
    expect(json.predictions.latencyMs.point).toBeCloseTo(50, 9);
  });

  it('refuses a state of another version or one that lacks a candidate', () => {
    const state = new CarbonAwareDecision(WORLD).toJSON();
    expect(() => CarbonAwareDecision.fromJSON({ ...state, version: 2 } as unknown as DeciderState)).toThrow(/unknown decider state version 2/);
    const { ['server/none']: _gone, ...models } = state.models;
    expect(() => CarbonAwareDecision.fromJSON({ ...state, models })).toThrow(/no model for candidate 'server\/none'/);
  });
});

/** A method of the caller's own: the point +- a fixed width (stands for any method outside the package). */
class FixedWidth implements IntervalPredictor {
  readonly method = 'fixed-width';
  constructor(
    private readonly point: PointPredictor,
    readonly alpha: number,
    readonly width: number,
  ) {}
  predict(x: Features): IntervalPrediction {
    const p = this.point.predict(x);
    return { point: p, lower: p - this.width, upper: p + this.width, alpha: this.alpha, method: this.method, n: 0 };
  }
  observe(): void {}
  toJSON(): unknown {
    return { method: this.method, alpha: this.alpha, width: this.width };
  }
}

describe('interval method registry', () => {
  const fixed: MethodFactory = (point, spec) => new FixedWidth(point, spec.alpha, 0.5);
  const restoreFixed = (state: unknown, point: PointPredictor) => {
    const s = state as { alpha: number; width: number };
    return new FixedWidth(point, s.alpha, s.width);
  };

  it('builds any IntervalPredictor from the factory, and restores it with a restorer', () => {
    const decider = new CarbonAwareDecision(WORLD, { methods: { robust: fixed }, exploration: false });
    const d = decider.decide(context(), { mode: 'robust' });
    // Width 0.5 on the log ratio: the interval is the structural value x e^(+-0.5).
    expect(d.assessments[2]!.latency.upper).toBeCloseTo(50 * Math.exp(0.5), 9);
    expect(d.assessments[2]!.latency.method).toBe('fixed-width');
    const state = JSON.parse(JSON.stringify(decider)) as DeciderState;
    expect(() => CarbonAwareDecision.fromJSON(state)).toThrow(/no restorer for interval method 'fixed-width'/);
    const restored = CarbonAwareDecision.fromJSON(state, { restorers: { 'fixed-width': restoreFixed } });
    expect(restored.decide(context(), { mode: 'robust' }).assessments[2]!.latency.upper).toBeCloseTo(50 * Math.exp(0.5), 9);
  });

  it('takes registrations for every decider, and refuses states without a method name', () => {
    registerIntervalMethod('fixed-width-global', (state, point) => new FixedWidth(point, (state as { alpha: number }).alpha, 1));
    const method = restoreIntervalPredictor({ method: 'fixed-width-global', alpha: 0.1 }, { predict: () => 2 });
    expect(method.predict([])).toMatchObject({ lower: 1, upper: 3, method: 'fixed-width' });
    expect(() => restoreIntervalPredictor({ alpha: 0.1 }, { predict: () => 0 })).toThrow(/has no method name/);
    expect(() => registerIntervalMethod('', restoreFixed)).toThrow(/non-empty name/);
  });
});
