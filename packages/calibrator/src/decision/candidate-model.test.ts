import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@carboncp/core';
import { CandidateModel } from './candidate-model.js';
import { contextFeatures } from './context.js';
import { DEVICE, SERVER, SPLIT, context } from './decision.test-support.js';
import { DEFAULT_METHODS } from './method-registry.js';
import { metricFeatures } from './structural.js';

const config = { alphas: [0.1], methods: DEFAULT_METHODS, ridge: { lambda: 1, forgetting: 1 } };
const at = (ctx: ReturnType<typeof context>) => metricFeatures(contextFeatures(ctx));

/** A standard normal from two uniforms (Box-Muller). */
function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

describe('CandidateModel', () => {
  it('learns a device slower than its profile, and how much CPU load slows it, as a log-ratio correction', () => {
    const model = new CandidateModel(DEVICE, config);
    const random = mulberry32(5);
    // Truth: head = 40 ms x 1.5 x (1 + 2 load) against the structural 40 x (1 + load).
    const truth = (load: number) => 40 * 1.5 * (1 + 2 * load);
    for (let i = 0; i < 400; i += 1) {
      const load = random() * 0.8;
      const ctx = context({ cpuLoad: load });
      const head = truth(load) * Math.exp(0.05 * normal(random));
      model.observe(ctx, at(ctx), { latencyMs: head + 2, headMs: head, deviceEnergyJ: (5 * head) / 1000 }, i);
    }
    // Without learning, the structural model alone is a third to a half too fast.
    expect(new CandidateModel(DEVICE, config).predict(context({ cpuLoad: 0.4 }), at(context({ cpuLoad: 0.4 })), 'robust', 0).headMs.point / truth(0.4)).toBeCloseTo(56 / 108, 9);
    for (const load of [0, 0.4, 0.8]) {
      const ctx = context({ cpuLoad: load });
      const p = model.predict(ctx, at(ctx), 'robust', 0);
      // A line in the load on a log scale fits ln((1 + 2 load) / (1 + load)), which is concave, to within 8%.
      expect(p.headMs.point / truth(load)).toBeGreaterThan(0.92);
      expect(p.headMs.point / truth(load)).toBeLessThan(1.08);
      expect(p.latencyMs.point / (truth(load) + 2)).toBeGreaterThan(0.92);
      expect(p.latencyMs.point / (truth(load) + 2)).toBeLessThan(1.08);
      expect(Math.abs(p.deviceEnergyJ.point / ((5 * truth(load)) / 1000) - 1)).toBeLessThan(0.08);
      // Nothing crosses: transfer and server are 0 by kind, with zero-width intervals.
      expect(p.transferMs).toMatchObject({ point: 0, lower: 0, upper: 0, method: 'structural' });
      expect(p.serverMs.upper).toBe(0);
    }
    expect(model.observations).toBe(400);
    expect(model.lastObservedAt).toBe(399);
  });

  it('covers latency at 1 - alpha on fresh data with heavy-tailed multiplicative noise (seeded, repeated)', () => {
    const coverages: number[] = [];
    for (let rep = 0; rep < 5; rep += 1) {
      const random = mulberry32(100 + rep);
      const model = new CandidateModel(SPLIT, config);
      const draw = () => {
        const ctx = context({ uplinkBps: { mean: 2e6 + 2e7 * random(), sd: 1e6 }, serverQueueDepth: Math.floor(3 * random()) });
        const transfer = ctx.rttMs.mean + (1.2 * 8000 * SPLIT.bytesUp) / ctx.uplinkBps.mean;
        // Student-t-like tails: a normal over the root of a chi-square-ish draw.
        const tail = normal(random) / Math.sqrt(0.25 + random());
        const latency = (10 + transfer + 5 * (1 + ctx.serverQueueDepth)) * Math.exp(0.1 * tail);
        return { ctx, latency };
      };
      for (let i = 0; i < 500; i += 1) {
        const { ctx, latency } = draw();
        model.observe(ctx, at(ctx), { latencyMs: latency }, i);
      }
      let covered = 0;
      for (let i = 0; i < 1000; i += 1) {
        const { ctx, latency } = draw();
        const p = model.predict(ctx, at(ctx), 'robust', 0).latencyMs;
        if (latency >= p.lower && latency <= p.upper) covered += 1;
        model.observe(ctx, at(ctx), { latencyMs: latency }, 500 + i);
      }
      coverages.push(covered / 1000);
    }
    const mean = coverages.reduce((s, c) => s + c, 0) / coverages.length;
    expect(mean).toBeGreaterThanOrEqual(0.88);
    expect(mean).toBeLessThan(0.95);
  });

  it("uses the server's recent tail time for its plan over the profile's, and its queue", () => {
    const model = new CandidateModel(SERVER, config);
    const quiet = context();
    expect(model.predict(quiet, at(quiet), 'robust', 0).serverMs.point).toBeCloseTo(8, 9);
    const busy = context({ serverTailMs: { server: 12, 'split-2': 99 }, serverQueueDepth: 2 });
    // 12 ms x (1 + 2 queued).
    expect(model.predict(busy, at(busy), 'robust', 0).serverMs.point).toBeCloseTo(36, 9);
    expect(model.predict(busy, at(busy), 'robust', 0).headMs.point).toBe(0);
  });

  it('ignores observations of metrics that are 0 by kind, and refuses negative ones', () => {
    const model = new CandidateModel(DEVICE, config);
    const ctx = context();
    model.observe(ctx, at(ctx), { latencyMs: 40, transferMs: 5, serverMs: 3 }, 0);
    expect(model.toJSON().metrics.transferMs).toBeUndefined();
    expect(model.toJSON().metrics.latencyMs!.methods).toHaveLength(2);
    expect(() => model.observe(ctx, at(ctx), { latencyMs: 40, headMs: -1 }, 1)).toThrow(/observed headMs must be a finite number >= 0/);
  });
});
