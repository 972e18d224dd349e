/** A family client over the fake platform: variant x cut by the calibrated decision, a paced budget, fixed choices, errors. */
import { afterEach, describe, expect, it } from 'vitest';
import { CarbonAwareDecision, type DecisionCandidate } from '@carboncp/calibrator';
import { loadDeviceProfile } from '@carboncp/carbon/node';
import { ErrorCode } from '@carboncp/protocol';
import { ClientBudget, type ClientBudgetOptions } from './budget-pacer.js';
import { CalibratedPolicy } from './calibrated-policy.js';
import { ManualClock } from './clock.js';
import { FamilyClient } from './family-client.js';
import { FamilyPolicy } from './family-policy.js';
import { FAKE_FAMILY, FakeRuntime, FakeServer, fakeModel, seededFloats, type FakeTensor } from './fake-platform.test-support.js';
import { SplitClient } from './split-client.js';

const profile = await loadDeviceProfile('raspberry-pi-4');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const FAMILY = FAKE_FAMILY;
/** Head time of each variant on the device (ms): its profile, and what its fake runtime reports per run. */
const HEAD_MS = { small: 10, large: 40 } as const;
const dist = (medianMs: number) => ({ medianMs, p10Ms: medianMs, p90Ms: medianMs, meanMs: medianMs, sdMs: 0, n: 10 });
const deviceCandidate = (variant: 'small' | 'large'): DecisionCandidate => ({
  id: `device/none/${variant}`,
  planId: 'device',
  kind: 'device',
  compression: 'none',
  bytesUp: 0,
  bytesDown: 0,
  head: dist(HEAD_MS[variant]),
  tail: dist(0),
  tailSource: 'device-profile',
  maxAbsError: 0,
  variant,
  quality: FAMILY.variants.find((v) => v.name === variant)!.quality.value,
});

const open: FamilyClient<FakeTensor>[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function setup(budget?: ClientBudgetOptions) {
  const clock = new ManualClock();
  const start = clock.epochMs();
  const members = [];
  for (const variant of FAMILY.variants) {
    const model = { ...fakeModel(variant.name.padEnd(64, '0')), name: variant.model };
    const runtime = new FakeRuntime({ clock, busyMs: HEAD_MS[variant.name as 'small' | 'large'], computeMs: HEAD_MS[variant.name as 'small' | 'large'] });
    const client = await SplitClient.open({ model, runtime, transport: new FakeServer(model, clock), server: 'ws://fake', clock, keepaliveMs: 0 });
    members.push({ variant, modelName: model.name, client });
  }
  const decider = new CarbonAwareDecision([deviceCandidate('small'), deviceCandidate('large')], { exploration: false });
  const inner = new CalibratedPolicy({ decider, deviceProfile: profile, radio: 'wifi', fallbackIntensityGPerKwh: 400, serverPowerW: 200 });
  const policy = new FamilyPolicy(inner, { mode: 'mean' }, budget ? new ClientBudget(budget, start, () => undefined, 400) : undefined);
  const family = new FamilyClient(FAMILY, members, { clock, policy });
  open.push(family);
  return { clock, start, family, policy, decider };
}
const x = (seed: number): FakeTensor => ({ type: 'float32', dims: [1, 4], data: seededFloats(seed, 4) });
const expectOutputs = (out: FakeTensor, input: FakeTensor) => {
  const want = (input.data as Float32Array).map((v) => (v + 1) * 3);
  (out.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
};

describe('FamilyClient', () => {
  it('a tight budget runs the cheaper variant, moves to the better one once unspent grams pile up, and renews each period', async () => {
    const { clock, start, family, policy } = await setup({ grams: 1, periodMs: HOUR, forecast: () => [{ point: 400, upper: 400 }] });
    // The decision's own carbon of each variant (device energy x 400 g/kWh); the budget is 31 requests of the large one.
    const probe = policy.inner.decider.decide(policy.inner.context({ network: undefined, serverContext: undefined }, start), { mode: 'mean' });
    const carbonOf = (name: string, a = probe.assessments) => a.find((c) => c.candidate.variant === name)!.carbonG;
    expect(carbonOf('large') / carbonOf('small')).toBeCloseTo(4, 6); // 40 ms vs 10 ms of the same watts
    const grams = 31 * carbonOf('large');
    const tight = await setup({ grams, periodMs: HOUR, forecast: () => [{ point: 400, upper: 400 }] });
    await family.close();
    const chosen: string[] = [];
    let spent = 0;
    for (let m = 0; m < 60; m += 1) {
      const input = x(m);
      const { outputs, telemetry: t } = await tight.family.infer({ x: input }, { cut: 'auto' });
      expectOutputs(outputs.y!, input);
      const d = tight.policy.lastDecision()!;
      const b = t.budget!;
      // Flat sure forecast: the cap is what is left over the requests expected in the period's rest (60 an hour).
      expect(b.capG).toBeCloseTo((grams - spent) / ((60 * (HOUR - m * MINUTE)) / HOUR), 12);
      const expected = b.capG! >= carbonOf('large', d.assessments) ? 'large' : 'small';
      expect(t.variant).toMatchObject({ name: expected, model: `fake-${expected}`, quality: expected === 'large' ? 72 : 60 });
      expect(t.cutChosenBy).toBe('policy');
      expect(t.decision!.candidateId).toBe(`device/none/${expected}`);
      expect(b.bound).toBe(expected === 'small');
      expect(b.bookedFrom).toBe('prediction');
      spent += b.bookedG!;
      expect(b.spentG).toBeCloseTo(spent, 12);
      chosen.push(expected);
      await tight.clock.advance(MINUTE - HEAD_MS[expected as 'small' | 'large']); // each request starts on the minute
    }
    // 31 x large = 124 x small: small while 31 - m/4 < 60 - m (m < 38.7), then large to the period's end.
    expect(chosen.indexOf('large')).toBe(39);
    expect(chosen.slice(39).every((v) => v === 'large')).toBe(true);
    expect(spent).toBeLessThanOrEqual(grams * (1 + 1e-9));
    // The next period: the grams renew, the pace is tight again.
    const next = await tight.family.infer({ x: x(99) }, { cut: 'auto' });
    expect(next.telemetry.budget).toMatchObject({ period: 1, periodStart: start + HOUR, requests: 1, bound: true });
    expect(next.telemetry.variant!.name).toBe('small');
    expect(tight.family.budgetState()).toMatchObject({ period: 1, grams, periodMs: HOUR });
  });

  it('holds minQuality on every answer, even when the budget cannot afford it (the cap is relaxed, and says so)', async () => {
    const { family } = await setup({ grams: 1e-12, periodMs: HOUR, forecast: () => [{ point: 400, upper: 400 }] });
    for (let i = 0; i < 3; i += 1) {
      const { telemetry: t } = await family.infer({ x: x(i) }, { minQuality: 65 });
      expect(t.variant!.quality).toBeGreaterThanOrEqual(65);
      expect(t.budget!.bound).toBe(true);
    }
    // A lower floor: nothing fits the spent budget, so the least carbon by the decision's predictions (what it has learnt) runs.
    const cheap = await family.infer({ x: x(9) }, { minQuality: 50 });
    const d = family.policy!.lastDecision()!;
    expect(d.relaxed).toEqual(['budget']);
    const least = [...d.assessments].sort((a, b) => a.carbonG - b.carbonG)[0]!;
    expect(cheap.telemetry.variant!.name).toBe(least.candidate.variant);
  });

  it('runs a fixed { variant, cut } as asked, on the server of that variant', async () => {
    const { family } = await setup();
    const input = x(3);
    const { outputs, telemetry: t } = await family.infer({ x: input }, { variant: 'large', cut: 'split-1' });
    expectOutputs(outputs.y!, input);
    expect(t).toMatchObject({ planId: 'split-1', path: 'split', cutChosenBy: 'caller', variant: { name: 'large', model: 'fake-large' } });
    expect(t.budget).toBeUndefined();
    expect(family.stats().byVariant.large!.split).toBe(1);
    expect(family.stats().total.requests).toBe(1);
    expect(family.remoteStatus('small', 'split-1')).toEqual({ usable: true });
  });

  it('books a fixed { variant, cut } against the budget at the carbon predicted for it (nothing where the decider has no such candidate)', async () => {
    const { family, policy, start } = await setup({ grams: 1, periodMs: HOUR, forecast: () => [{ point: 400, upper: 400 }] });
    const predicted = policy.inner.decider.predict('device/none/large', policy.inner.context({ network: undefined, serverContext: undefined }, start)).carbonG.point;
    expect(predicted).toBeGreaterThan(0);
    const { telemetry: t } = await family.infer({ x: x(4) }, { variant: 'large', cut: 'device' });
    expect(t).toMatchObject({ cutChosenBy: 'caller', path: 'local', budget: { requests: 1, bookedFrom: 'prediction' } });
    expect(t.decision).toBeUndefined();
    expect(t.budget!.capG).toBeUndefined();
    expect(t.budget!.bookedG).toBeCloseTo(predicted, 12);
    expect(t.budget!.spentG).toBeCloseTo(predicted, 12);
    // split-1 is no candidate of this decider: nothing to price it by, so nothing booked (and said so).
    const { telemetry: split } = await family.infer({ x: x(5) }, { variant: 'large', cut: 'split-1' });
    expect(split.budget).toMatchObject({ requests: 1 });
    expect(split.budget!.bookedG).toBeUndefined();
  });

  it('refuses what no variant can answer, with the codes of a bad argument', async () => {
    const { family } = await setup();
    await expect(family.infer({ x: x(1) }, { minQuality: 80 })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT, message: expect.stringMatching(/no variant .* meets minQuality 80: the best declared is 72/) });
    await expect(family.infer({ x: x(1) }, { variant: 'small', minQuality: 65 })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    await expect(family.infer({ x: x(1) }, { variant: 'huge' })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT, message: expect.stringMatching(/no variant 'huge'/) });
    await expect(family.infer({ x: x(1) }, { cut: 'split-1' })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT, message: expect.stringMatching(/give the variant too/) });
    expect(() => new FamilyClient(FAMILY, [], { clock: new ManualClock() })).toThrow(/no servable variant/);
  });
});
