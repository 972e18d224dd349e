/** cut: 'auto' through the calibrated policy, over the fake platform: decisions, telemetry, learning, coverage, state. */
import { afterEach, describe, expect, it } from 'vitest';
import { CarbonAwareDecision, type DecisionCandidate } from '@carboncp/calibrator';
import { loadDeviceProfile } from '@carboncp/carbon/node';
import { ClientBudget } from './budget-pacer.js';
import { CalibratedPolicy, observationOf } from './calibrated-policy.js';
import { FakeRuntime, FakeServer, fakeModel, seededFloats, type FakeTensor } from './fake-platform.test-support.js';
import { SplitClient } from './split-client.js';

const profile = await loadDeviceProfile('raspberry-pi-4');
const dist = (medianMs: number) => ({ medianMs, p10Ms: medianMs, p90Ms: medianMs, meanMs: medianMs, sdMs: 0, n: 10 });
const zero = dist(0);

/** The fake model's three plans: the head is slow on this "device", the tail fast on the "server". */
function candidates(): DecisionCandidate[] {
  return [
    { id: 'server/none', planId: 'server', kind: 'server', compression: 'none', bytesUp: 200, bytesDown: 100, head: zero, tail: dist(2), tailSource: 'server-profile', maxAbsError: 0 },
    { id: 'split-1/none', planId: 'split-1', kind: 'split', compression: 'none', bytesUp: 200, bytesDown: 100, head: dist(30), tail: dist(2), tailSource: 'server-profile', maxAbsError: 0 },
    { id: 'device/none', planId: 'device', kind: 'device', compression: 'none', bytesUp: 0, bytesDown: 0, head: dist(60), tail: zero, tailSource: 'device-profile', maxAbsError: 0 },
  ];
}

const open: SplitClient<FakeTensor>[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function setup(decider = new CarbonAwareDecision(candidates(), { exploration: false }), extra: Partial<ConstructorParameters<typeof CalibratedPolicy>[0]> = {}) {
  const model = fakeModel();
  const server = new FakeServer(model);
  const policy = new CalibratedPolicy({ decider, deviceProfile: profile, radio: 'wifi', fallbackIntensityGPerKwh: 300, serverPowerW: 200, defaults: { sloMs: 1000 }, ...extra });
  const client = await SplitClient.open({ model, runtime: new FakeRuntime(), transport: server, server: 'ws://fake', timeoutMs: 2_000, cutPolicy: policy });
  open.push(client);
  return { server, client, policy, decider };
}
const x = (): FakeTensor => ({ type: 'float32', dims: [2, 4], data: seededFloats(5, 8) });

describe('CalibratedPolicy', () => {
  it("cut 'auto' asks the decision and records it, with intervals beside what was observed", async () => {
    const { client, policy } = await setup();
    const { telemetry } = await client.infer({ x: x() }, { cut: 'auto', objective: 'latency' });
    expect(telemetry.cutChosenBy).toBe('policy');
    const d = telemetry.decision!;
    // By the profiles alone the server plan is fastest (no 30 ms head), and it is what ran.
    expect(d.candidateId).toBe('server/none');
    expect(telemetry.planId).toBe('server');
    expect(d).toMatchObject({ mode: 'robust', objective: 'latency', alpha: 0.1, sloMs: 1000 });
    expect(d.intervals.latencyMs!.observed).toBe(telemetry.totalMs);
    expect(d.intervals.headMs!.observed).toBe(telemetry.headMs);
    expect(d.intervals.serverMs!.observed).toBe(telemetry.serverMs);
    expect(d.intervals.carbonG!.observed).toBeUndefined(); // no footprint option: carbon is not observed
    expect(d.context).toMatchObject({ powerSource: 'unknown', deviceIntensityGPerKwh: 300, serverIntensityGPerKwh: 300, uplinkBps: 10e6 });
    expect(policy.lastDecision()!.candidate.id).toBe('server/none');
    expect(policy.lastDecision()!.explanation).toMatch(/objective latency/);
  });

  it('with no cut named, a calibrated client decides too; SLO and mode pass through per request', async () => {
    const { client } = await setup();
    const { telemetry } = await client.infer({ x: x() }, { sloMs: 0.001, mode: 'mean' });
    expect(telemetry.decision!.mode).toBe('mean');
    expect(telemetry.decision!.sloUnmet).toBe(true);
    expect(telemetry.decision!.bound).toBe('slo');
  });

  it('with sloBudget, every request the policy decided moves the margin: up after a miss, down after a hit', async () => {
    const { client, policy } = await setup(undefined, { sloBudget: { alpha: 0.1, step: 0.1 } });
    expect(policy.budget!.margin).toBe(1);
    await client.infer({ x: x() }, { cut: 'auto', sloMs: 0.001 }); // nothing is that fast: a miss
    expect(policy.budget!.margin).toBeCloseTo(1 + 0.1 * 0.9, 12);
    for (let i = 0; i < 3; i += 1) await client.infer({ x: x() }, { cut: 'auto' }); // SLO 1000 ms: hits
    expect(policy.budget!.margin).toBeCloseTo(1 + 0.1 * 0.9 - 3 * 0.1 * 0.1, 12);
    await client.infer({ x: x() }, { cut: 'device' }); // the caller's choice: not the policy's to count
    expect(policy.budget!.toJSON()).toMatchObject({ requests: 4, misses: 1 });
    const { policy: without } = await setup();
    expect(without.budget).toBeUndefined();
  });

  it('with a carbon budget, each decision is capped in grams and each request booked in telemetry.budget', async () => {
    // The predicted grams of each candidate, from an unbudgeted decision (latency first: the server;
    // 'mean': robust's cold start has no finite bound, and its SLO rule would outrank the budget).
    const probe = await setup();
    await probe.client.infer({ x: x() }, { cut: 'auto', objective: 'latency', mode: 'mean' });
    const grams = Object.fromEntries(probe.policy.lastDecision()!.assessments.map((a) => [a.candidate.planId, a.carbonG]));
    expect(probe.policy.lastDecision()!.candidate.planId).toBe('server');
    const cheapest = Math.min(...Object.values(grams));
    expect(grams.server!).toBeGreaterThan(cheapest); // else no cap could move the choice
    // One slot, a sure forecast: the cap is grams / requests expected in the hour (10).
    const cap = (cheapest + grams.server!) / 2;
    const budgeted = (g: number) => new ClientBudget({ grams: g, period: '1h', requestsPerHour: 10, forecast: () => [{ point: 300, upper: 300 }] }, Date.now(), () => undefined, 300);
    const tight = await setup(undefined, { carbonBudget: budgeted(cap * 10) });
    const { telemetry } = await tight.client.infer({ x: x() }, { cut: 'auto', objective: 'latency', mode: 'mean' });
    expect(telemetry.planId).not.toBe('server');
    expect(grams[telemetry.planId]!).toBeLessThanOrEqual(cap);
    expect(telemetry.decision!.bound).toBe('budget');
    expect(telemetry.budget).toMatchObject({ grams: cap * 10, periodMs: 3_600_000, requests: 1, bound: true, bookedFrom: 'prediction' });
    // The requests expected in the hour's rest shrink with the milliseconds since the budget started.
    expect(telemetry.budget!.capG! / cap).toBeCloseTo(1, 4);
    expect(telemetry.budget!.bookedG).toBeCloseTo(telemetry.decision!.intervals.carbonG!.point, 12);
    expect(telemetry.budget!.spentG).toBeCloseTo(telemetry.budget!.bookedG!, 12);
    expect(tight.client.budgetState()).toMatchObject({ requests: 1, spentG: telemetry.budget!.spentG });
    // A generous budget binds nothing: the fastest again, booked the same way.
    const generous = await setup(undefined, { carbonBudget: budgeted(1e6) });
    const free = (await generous.client.infer({ x: x() }, { cut: 'auto', objective: 'latency', mode: 'mean' })).telemetry;
    expect(free.planId).toBe('server');
    expect(free.budget).toMatchObject({ bound: false, requests: 1 });
    // A caller's fixed cut: no decision, booked at the carbon predicted for that plan (about the probe's).
    const fixed = (await generous.client.infer({ x: x() }, { cut: 'server' })).telemetry;
    expect(fixed.decision).toBeUndefined();
    expect(fixed.budget).toMatchObject({ requests: 2, bookedFrom: 'prediction' });
    expect(fixed.budget!.capG).toBeUndefined();
    expect(fixed.budget!.bookedG! / grams.server!).toBeGreaterThan(0.5);
    expect(fixed.budget!.bookedG! / grams.server!).toBeLessThan(2);
    // No budget: no telemetry.budget, no state.
    expect((await probe.client.infer({ x: x() }, { cut: 'auto' })).telemetry.budget).toBeUndefined();
    expect(probe.client.budgetState()).toBeUndefined();
  });

  it('learns from every request, the caller\'s choices too, and reports coverage per mode and metric', async () => {
    const { client, decider } = await setup();
    for (let i = 0; i < 5; i += 1) await client.infer({ x: x() }, { cut: 'device' });
    // The first request of a plan loads its sessions: a one-off cost the policy does not learn.
    expect(decider.freshness()['device/none']!.observations).toBe(4);
    for (let i = 0; i < 30; i += 1) await client.infer({ x: x() }, { cut: 'auto' });
    const coverage = client.coverage()!;
    expect(coverage.robust!.latencyMs!.n).toBe(30);
    expect(coverage.robust!.latencyMs!.coverage).toBeGreaterThanOrEqual(0);
    expect(coverage.robust!.latencyMs!.coverage).toBeLessThanOrEqual(1);
    expect(Object.keys(coverage)).toEqual(['robust']);
  });

  it('saves and restores its state: the restored client decides the same way', async () => {
    const { client } = await setup();
    for (let i = 0; i < 20; i += 1) await client.infer({ x: x() }, { cut: i % 3 === 0 ? 'device' : 'auto' });
    const saved = JSON.parse(JSON.stringify(client.calibratorState()));
    const a = (client.cutPolicy as CalibratedPolicy).decider;
    const b = CarbonAwareDecision.fromJSON(saved);
    const ctx = (client.cutPolicy as CalibratedPolicy).context({ network: undefined, serverContext: undefined }, Date.parse('2026-12-01T00:00:00Z'));
    for (const mode of ['mean', 'robust', 'adaptive', 'set'] as const) {
      expect(b.decide(ctx, { mode, sloMs: 1000 }).candidate.id).toBe(a.decide(ctx, { mode, sloMs: 1000 }).candidate.id);
    }
  });

  it('with the server out of reach it runs on the device without asking the decision', async () => {
    const { policy } = await setup();
    const model = fakeModel();
    const down = new FakeServer(model);
    down.refuse = 'down';
    const offline = await SplitClient.open({ model, runtime: new FakeRuntime(), transport: down, server: 'ws://fake', timeoutMs: 2_000, cutPolicy: policy });
    open.push(offline);
    const { telemetry } = await offline.infer({ x: x() }, { cut: 'auto' });
    expect(telemetry.planId).toBe('device');
    expect(telemetry.decision).toBeUndefined();
  });

  it('refuses options it could not use', () => {
    const decider = new CarbonAwareDecision(candidates());
    const base = { decider, deviceProfile: profile, radio: 'wifi' as const, fallbackIntensityGPerKwh: 300, serverPowerW: 200 };
    expect(() => new CalibratedPolicy({ ...base, radio: 'nr5g' as never })).toThrow(/not a radio/);
    expect(() => new CalibratedPolicy({ ...base, fallbackIntensityGPerKwh: undefined as never })).toThrow(/fallbackIntensityGPerKwh/);
    expect(() => new CalibratedPolicy({ ...base, serverPowerW: -1 })).toThrow(/serverPowerW/);
    expect(() => new CalibratedPolicy({ ...base, decider: {} as never })).toThrow(/CarbonAwareDecision/);
  });

  it('observationOf: a fallback shows no transfer or server time; a footprint shows energy and carbon', () => {
    const base = { planId: 'split-1', waitMs: 0, headMs: 3, transferMs: 9, serverMs: 4, queueMs: 1, tailLocalMs: 0, totalMs: 16, cutChosenBy: 'policy' as const, bytesUp: 10, bytesDown: 10, compression: 'none' as const };
    expect(observationOf({ ...base, path: 'local-fallback' })).toEqual({ latencyMs: 16, headMs: 3 });
    const side = { energyJ: 0.5, carbonG: 1e-4, kind: 'estimated' as const, source: 's', intensity: { time: 't', gPerKwh: 1, zone: 'z', source: 's', kind: 'estimated' as const } };
    const footprint = { device: side, network: { ...side, energyJ: 0.25 }, server: side, totalEnergyJ: 1.25, totalCarbonG: 3e-4, kind: 'estimated' as const };
    expect(observationOf({ ...base, path: 'split', footprint })).toEqual({ latencyMs: 16, headMs: 3, transferMs: 9, serverMs: 4, deviceEnergyJ: 0.75, carbonG: 3e-4 });
  });
});
