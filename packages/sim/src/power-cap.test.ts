/**
 * Power caps in the simulator, hand-checked on the hand world (sim.test-support.ts) with the
 * server candidate alone (10 ms tail at 10 W, PUE 1: 0.1 J a request; no queue) and McDonald et
 * al.'s V100 curve (250 W default; at 150 W time x 1.068, energy x 0.863). The server's policy
 * (choosePowerCap, defaults 200..400 g/kWh, floor 0.6 x 250 = 150 W):
 *   grid 150 g/kWh: 250 W, ratios 1;
 *   grid 300: 200 W, halfway between the published points: time 1.034, energy 0.9315;
 *   grid 500: 150 W: time 1.068, energy 0.863.
 */
import { readFileSync } from 'node:fs';
import { parseGpuPowerCapCurves } from '@carboncp/carbon';
import { describe, expect, it } from 'vitest';
import { HOUR_MS, START, candidate, fixed, handWorld, hourly } from './sim.test-support.js';
import { simulate } from './simulate.js';
import type { SimulationOptions } from './options.js';

const curves = parseGpuPowerCapCurves(JSON.parse(readFileSync(new URL('../../carbon/data/gpu-power-caps.json', import.meta.url), 'utf8')));
const V100 = curves.curves.find((c) => c.id === 'v100-language-model-training-mcdonald-2022')!;

function run(serverGPerKwh: number, extra: Partial<SimulationOptions> = {}) {
  return simulate(
    handWorld({
      candidates: [candidate('server/none', 'server', fixed(0), fixed(10), 1000)],
      serverCarbon: hourly('SRV', Array(6).fill(serverGPerKwh), START - HOUR_MS),
      policies: ['server-uncapped', 'carboncp-power-cap'],
      powerCap: { curve: V100 },
      decider: { exploration: false },
      ...extra,
    }),
  );
}

describe('GPU power caps in the simulator (modelled from published curves)', () => {
  for (const [grid, capW, time, energy] of [
    [150, 250, 1, 1],
    [300, 200, 1.034, 0.9315],
    [500, 150, 1.068, 0.863],
  ] as const) {
    it(`at ${grid} g/kWh the server's policy caps at ${capW} W: server energy x ${energy}, tail x ${time}`, () => {
      const r = run(grid);
      const [free, capped] = r.policies;
      expect(r.requests).toBe(240);
      expect(r.powerCap).toMatchObject({ curve: V100.id, mode: 'auto', defaultW: 250 });
      expect(r.powerCap!.meanCapW).toBeCloseTo(capW, 9);
      expect(r.powerCap!.cappedShare).toBe(capW < 250 ? 1 : 0);
      expect(free!.serverJ).toBeCloseTo(240 * 0.1, 9);
      expect(capped!.serverJ).toBeCloseTo(240 * 0.1 * energy, 9);
      expect(capped!.carbonBySide.server).toBeCloseTo((240 * 0.1 * energy * grid) / 3.6e6, 15);
      expect(capped!.carbonBySide.device).toBeCloseTo(free!.carbonBySide.device, 15);
      // No queue: the latency grows by the tail's 10 ms x (time - 1).
      expect(capped!.p95LatencyMs - free!.p95LatencyMs).toBeCloseTo(10 * (time - 1), 6);
    });
  }

  it('a fixed cap is clamped to the curve\'s published range (no extrapolation below 150 W)', () => {
    const at = (mode: number) => run(150, { powerCap: { curve: V100, mode } }).powerCap!.meanCapW;
    expect(at(175)).toBe(175);
    expect(at(100)).toBe(150);
    expect(at(400)).toBe(250);
  });

  it('a queue at the lift depth lifts the cap to the default (latency first)', () => {
    // liftQueueDepth 1: any request waiting lifts the cap; a busy server has one most of the time.
    const busy = run(500, { server: { powerW: 10, utilisation: 0.9 }, powerCap: { curve: V100, policy: { liftQueueDepth: 1 } } });
    const idle = run(500, { powerCap: { curve: V100, policy: { liftQueueDepth: 1 } } });
    expect(idle.powerCap!.cappedShare).toBe(1);
    expect(busy.powerCap!.cappedShare).toBeLessThan(0.5);
    expect(busy.powerCap!.cappedShare).toBeGreaterThan(0);
  });

  it('needs a curve, and one server', () => {
    expect(() => simulate(handWorld({ policies: ['carboncp-power-cap'] }))).toThrow(/needs a power cap/);
    expect(() => run(300, { powerCap: { curve: V100, mode: -1 } })).toThrow(/powerCap.mode/);
  });
});
