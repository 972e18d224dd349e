import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@carboncp/core';
import { ScoreWindow } from '../conformal/score-window.js';
import { SplitConformal } from '../conformal/split.js';
import { ConformalPid } from '../online/conformal-pid.js';
import { CandidateModel, type CandidateModelState, type ModelConfig } from './candidate-model.js';
import { contextFeatures, type DecisionContext } from './context.js';
import { SPLIT, context } from './decision.test-support.js';
import { DEFAULT_METHODS, type MethodFactory } from './method-registry.js';
import { metricMethods } from './metric-methods.js';
import { metricFeatures } from './structural.js';

const at = (ctx: DecisionContext) => metricFeatures(contextFeatures(ctx));
const ridge = { lambda: 1, forgetting: 1 };
const shared: ModelConfig = { alphas: [0.1, 0.2], methods: DEFAULT_METHODS, ridge };
// The same methods from factories the model does not know: each keeps its own window.
const ownSplit: MethodFactory = (point, spec) => new SplitConformal(point, { alpha: spec.alpha, window: 500 });
const ownPid: MethodFactory = (point, spec) => new ConformalPid(point, { alpha: spec.alpha });
const separate: ModelConfig = { alphas: [0.1, 0.2], methods: { robust: ownSplit, adaptive: ownPid }, ridge };

/** A seeded stream of contexts and observations (some of latency only), longer than a window. */
function stream(seed: number, length: number): { ctx: DecisionContext; observed: { latencyMs: number; transferMs?: number; serverMs?: number } }[] {
  const random = mulberry32(seed);
  return Array.from({ length }, () => {
    const ctx = context({ uplinkBps: { mean: 2e6 + 2e7 * random(), sd: 1e6 * random() }, serverQueueDepth: Math.floor(3 * random()), cpuLoad: random() * 0.5 });
    const transfer = ctx.rttMs.mean + (1.3 * 8000 * SPLIT.bytesUp) / ctx.uplinkBps.mean;
    const server = 5 * (1 + ctx.serverQueueDepth) * Math.exp(0.3 * (random() - 0.5));
    const latencyMs = (10 * (1 + (ctx.cpuLoad ?? 0)) + transfer + server) * Math.exp(0.2 * (random() - 0.5));
    return { ctx, observed: random() < 0.3 ? { latencyMs } : { latencyMs, transferMs: transfer, serverMs: server } };
  });
}

function feed(model: CandidateModel, steps: ReturnType<typeof stream>, from: number): void {
  steps.forEach(({ ctx, observed }, i) => model.observe(ctx, at(ctx), observed, from + i));
}

describe('metricMethods', () => {
  it("gives the package's own methods of a metric one window, and every other factory its own", () => {
    const point = { predict: () => 0 };
    const spec = { candidateId: 'c', metric: 'latencyMs' as const, dimensions: 0, families: ['robust', 'adaptive'] as const, alphas: [0.1, 0.2] };
    const one = metricMethods(point, { ...spec, methods: DEFAULT_METHODS });
    expect(one.shared).toBeInstanceOf(ScoreWindow);
    expect(one.methods.map((m) => `${m.method}@${m.alpha}`)).toEqual(['split@0.1', 'split@0.2', 'pid@0.1', 'pid@0.2']);
    // Every method reads the window its owner fills.
    for (let i = 1; i <= 20; i += 1) one.shared!.add(i);
    for (const m of one.methods) expect(m.predict([]).n).toBe(20);
    expect(one.methods.map((m) => m.predict([]).upper)).toEqual([19, 17, 19, 17]);
    const none = metricMethods(point, { ...spec, methods: separate.methods });
    expect(none.shared).toBeUndefined();
  });

  it('predicts, learns and saves exactly as separate windows would, before and after a restore', () => {
    const steps = stream(3, 1400);
    const a = new CandidateModel(SPLIT, shared);
    const b = new CandidateModel(SPLIT, separate);
    feed(a, steps.slice(0, 700), 0);
    feed(b, steps.slice(0, 700), 0);
    expect(a.toJSON()).toEqual(b.toJSON());
    const saved = JSON.parse(JSON.stringify(a.toJSON())) as CandidateModelState;
    const restored = new CandidateModel(SPLIT, shared, { saved });
    for (const [i, { ctx, observed }] of steps.slice(700).entries()) {
      for (const family of ['robust', 'adaptive'] as const) {
        for (const alphaIndex of [0, 1]) {
          const expected = b.predict(ctx, at(ctx), family, alphaIndex);
          expect(a.predict(ctx, at(ctx), family, alphaIndex)).toEqual(expected);
          expect(restored.predict(ctx, at(ctx), family, alphaIndex)).toEqual(expected);
        }
      }
      for (const model of [a, b, restored]) model.observe(ctx, at(ctx), observed, 700 + i);
    }
    expect(restored.toJSON()).toEqual(b.toJSON());
  });

  it('keeps a window of its own for a restored method whose saved scores differ from the shared ones', () => {
    const steps = stream(4, 600);
    const reference = new CandidateModel(SPLIT, shared);
    feed(reference, steps.slice(0, 300), 0);
    const saved = JSON.parse(JSON.stringify(reference.toJSON())) as CandidateModelState;
    // The second PID's window halved: it must go on from its own scores, not the others'.
    const latency = saved.metrics.latencyMs!;
    const pid = latency.methods[3] as { scores: number[] };
    pid.scores = pid.scores.map((s) => s / 2);
    const edited = new CandidateModel(SPLIT, shared, { saved });
    const separated = new CandidateModel(SPLIT, separate, { saved: JSON.parse(JSON.stringify(saved)) as CandidateModelState });
    feed(edited, steps.slice(300), 300);
    feed(separated, steps.slice(300), 300);
    expect(edited.toJSON()).toEqual(separated.toJSON());
    const after = edited.toJSON().metrics.latencyMs!.methods as { scores: number[] }[];
    expect(after[3]!.scores).not.toEqual(after[2]!.scores);
    expect(after[2]!.scores).toEqual(after[0]!.scores);
  });
});

describe('a shared calibration window', () => {
  it('is read, not filled, by the methods built on it, and must match their window size', () => {
    const window = new ScoreWindow(50);
    const point = { predict: (x: readonly number[]) => x[0]! };
    const split = new SplitConformal(point, { alpha: 0.1, scores: window });
    const pid = new ConformalPid(point, { alpha: 0.1, window: 50, scores: window });
    split.observe([1], 3);
    pid.observe([1], 3);
    expect(window.size).toBe(0);
    for (let i = 1; i <= 10; i += 1) window.add(i);
    expect(split.predict([0]).upper).toBe(10);
    expect(pid.predict([0]).upper).toBe(10);
    expect(() => new SplitConformal(point, { alpha: 0.1, window: 40, scores: window })).toThrow(/window 40 differs from the shared window's capacity 50/);
  });
});
