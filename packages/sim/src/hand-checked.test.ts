import { loadDeviceProfile } from '@carboncp/carbon/node';
import { describe, expect, it } from 'vitest';
import { headScaleOf } from './settings.js';
import type { PolicyResult } from './metrics.js';
import { handWorld } from './sim.test-support.js';
import { simulate } from './simulate.js';

// Grams x 3.6e6 of each candidate (see handWorld): device 0.2 J x grid; server 0.051 J x grid + 0.1 J x 200.
const DEVICE_LOW = 20 / 3.6e6;
const DEVICE_HIGH = 200 / 3.6e6;
const SERVER_LOW = 25.1 / 3.6e6;
const SERVER_HIGH = 71 / 3.6e6;

function byName(results: readonly PolicyResult[], name: string): PolicyResult {
  const r = results.find((p) => p.policy === name);
  if (!r) throw new Error(`no result for ${name}`);
  return r;
}

describe('a world whose right answers are known by hand', () => {
  it('the oracle and carbon-greedy switch from the device to the server at the step in the device grid', () => {
    const result = simulate(handWorld());
    expect(result.requests).toBe(240);
    const oracle = byName(result.policies, 'oracle');
    const greedy = byName(result.policies, 'carbon-greedy');
    for (const r of [oracle, greedy]) {
      expect(r.cutCounts).toEqual({ 'device/none': 120, 'server/none': 120 });
      expect(r.carbonG).toBeCloseTo(120 * DEVICE_LOW + 120 * SERVER_HIGH, 15);
      expect(r.carbonBySide.device).toBeCloseTo(120 * DEVICE_LOW, 15);
      expect(r.carbonBySide.network).toBeCloseTo((120 * 0.051 * 1000) / 3.6e6, 15);
      expect(r.carbonBySide.server).toBeCloseTo((120 * 20) / 3.6e6, 15);
      expect(r.sloViolations).toBe(0);
      expect(r.regretG).toBeCloseTo(0, 15);
      expect(r.deviceJ).toBeCloseTo(120 * 0.2 + 120 * 0.051, 9);
      expect(r.serverJ).toBeCloseTo(120 * 0.1, 9);
      expect(r.meanLatencyMs).toBeCloseTo((120 * 100 + 120 * 31) / 240, 9);
    }
    expect(result.oracleCarbonG).toBeCloseTo(oracle.carbonG, 18);
    // The fixed policies: every request on one side.
    const device = byName(result.policies, 'device');
    expect(device.carbonG).toBeCloseTo(120 * DEVICE_LOW + 120 * DEVICE_HIGH, 15);
    expect(device.regretG).toBeCloseTo(120 * (DEVICE_HIGH - SERVER_HIGH), 15);
    const server = byName(result.policies, 'server');
    expect(server.carbonG).toBeCloseTo(120 * SERVER_LOW + 120 * SERVER_HIGH, 15);
    expect(server.reductionPct.device).toBeCloseTo((100 * (device.carbonG - server.carbonG)) / device.carbonG, 9);
    // Latency-optimal: the server (31 ms) always; energy-optimal: the server (0.051 J < 0.2 J) always.
    expect(byName(result.policies, 'neurosurgeon').cutCounts).toEqual({ 'server/none': 240 });
    expect(byName(result.policies, 'energy-optimal').cutCounts).toEqual({ 'server/none': 240 });
    expect(byName(result.policies, 'neurosurgeon').p95LatencyMs).toBeCloseTo(31, 9);
    // No battery on this device.
    expect(device.batteryDrainPct).toBeNull();
  });

  it('a policy that knows only the last hour switches an hour late; the oracle does not', () => {
    const result = simulate(handWorld({ carbonView: 'last-known' }));
    expect(byName(result.policies, 'carbon-greedy').cutCounts).toEqual({ 'device/none': 180, 'server/none': 60 });
    expect(byName(result.policies, 'oracle').cutCounts).toEqual({ 'device/none': 120, 'server/none': 120 });
    expect(byName(result.policies, 'carbon-greedy').regretG).toBeCloseTo(60 * (DEVICE_HIGH - SERVER_HIGH), 15);
    // The series shows what was seen next to the truth in the step's hour.
    const third = result.steps.find((s) => s.time >= result.settings.start + 2 * 3_600_000)!;
    expect(third.deviceIntensity).toBe(1000);
    expect(third.deviceIntensitySeen).toBe(100);
  });

  it('an SLO below the device time leaves the server as the only feasible candidate, for the oracle and for greedy', () => {
    const result = simulate(handWorld({ sloMs: 50 }));
    expect(byName(result.policies, 'oracle').cutCounts).toEqual({ 'server/none': 240 });
    expect(byName(result.policies, 'carbon-greedy').cutCounts).toEqual({ 'server/none': 240 });
    const device = byName(result.policies, 'device');
    expect(device.sloViolationRate).toBe(1);
    // The device emits less in the first two hours but misses the SLO every time: negative regret, paid in violations.
    expect(device.regretG).toBeCloseTo(120 * (DEVICE_LOW - SERVER_LOW) + 120 * (DEVICE_HIGH - SERVER_HIGH), 15);
  });

  it('carboncp, cold: bounds are infinite until 9 scores (alpha 0.1), so the fastest is taken; then each mode does what it says', () => {
    const modes = ['carboncp-mean', 'carboncp-robust', 'carboncp-set'] as const;
    const result = simulate(handWorld({ policies: [...modes, 'oracle'], decider: { exploration: false } }));
    // 'mean' holds points to the SLO: the structural model is exact here, so it is the oracle from the first request.
    expect(byName(result.policies, 'carboncp-mean').cutCounts).toEqual({ 'device/none': 120, 'server/none': 120 });
    expect(byName(result.policies, 'carboncp-mean').regretG).toBeCloseTo(0, 15);
    // 'robust' with no exploration never runs the device, so its bound stays infinite and the server is always taken.
    const robust = byName(result.policies, 'carboncp-robust');
    expect(robust.cutCounts).toEqual({ 'server/none': 240 });
    expect(robust.sloUnmetDecisions).toBe(9);
    expect(robust.infiniteIntervals).toBe(9);
    // 'set': every candidate is in the set until 9 labels, and the set's pick is its fastest member (the
    // server); then the set is the predicted optimum only.
    expect(byName(result.policies, 'carboncp-set').cutCounts).toEqual({ 'device/none': 111, 'server/none': 129 });
    for (const name of modes) {
      const r = byName(result.policies, name);
      expect(r.sloViolations).toBe(0);
      // Noiseless outcomes: every interval (infinite ones included) holds the truth.
      expect(r.coverage).toBe(1);
      expect(r.meanIntervalWidthMs).toBeLessThan(0.1);
    }
  });

  it('a device three times slower than the profile: the truth follows headScale; a policy that does not know it learns nothing and misses', () => {
    const known = simulate(handWorld({ headScale: 3, policies: ['oracle', 'carbon-greedy', 'device'] }));
    expect(byName(known.policies, 'device').meanLatencyMs).toBeCloseTo(300, 9);
    expect(byName(known.policies, 'device').deviceJ).toBeCloseTo(240 * 0.6, 9);
    expect(byName(known.policies, 'oracle').cutCounts).toEqual({ 'server/none': 240 });
    expect(byName(known.policies, 'carbon-greedy').cutCounts).toEqual({ 'server/none': 240 });
    const unknown = simulate(handWorld({ headScale: 3, headScaleKnown: false, policies: ['oracle', 'carbon-greedy'] }));
    // Its profile says 100 ms (within the SLO) and 0.2 J: it runs the device while the grid is clean, and misses every time.
    expect(byName(unknown.policies, 'carbon-greedy').cutCounts).toEqual({ 'device/none': 120, 'server/none': 120 });
    expect(byName(unknown.policies, 'carbon-greedy').sloViolations).toBe(120);
  });

  it('headScaleOf reads the device profiles: a Pixel 4 runs ResNet-18 3.56x slower than the reference machine', async () => {
    const scale = headScaleOf(await loadDeviceProfile('pixel-4'), await loadDeviceProfile('dev-machine'));
    expect(scale).toBeCloseTo(122.48 / 34.41, 9);
  });
});
