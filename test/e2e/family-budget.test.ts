// A model family under a carbon budget, end to end: a real server serving two MobileNetV2 widths
// (0.35 and 0.75: small enough for 2 cores, far enough apart in cost), a device client over the family
// whose decision picks variant x cut under a paced budget. A generous budget runs the better
// variant, a tight one moves to the cheaper, the next period moves back; a quality floor holds on
// every answer; every output matches onnxruntime-node's full run of the variant that answered.
// Wall time moves by the client's clock only (epochMs shifted by the test: no waiting an hour).
import type { IntensityPoint } from '@carboncp/carbon';
import { seededInputs } from '@carboncp/core/node';
import { createClient, systemClock, type CarboncpFamilyClient, type Clock, type RequestTelemetry } from '@carboncp/device/node';
import { ensureModel, getFamily, getZooModel } from '@carboncp/models';
import { startServer, type CarboncpServer } from '@carboncp/server';
import type * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxAbs, maxAbsDiffAll, modelNameOf, referenceRunner } from './split-harness.js';

const HOUR = 3_600_000;
const FAMILY = getFamily('imagenet-mobilenetv2');
const VARIANTS = { '0.35': 'mobilenetv2-0.35', '0.75': 'mobilenetv2-0.75' } as const;
/** The better variant: 0.75 (0.5 shares 0.35's last 1280-channel layers, which dominate on one CPU thread: too close in cost to tell apart reliably). */
const BETTER = '0.75';
/** Relative to the output's scale: the split runs the same operators as the full model, on the same CPU provider. */
const TOL = 1e-4;

let server: CarboncpServer;
let family: CarboncpFamilyClient;
const references = new Map<string, Awaited<ReturnType<typeof referenceRunner>>>();
let shiftMs = 0;
const clock: Clock = { ...systemClock, epochMs: () => Date.now() + shiftMs };
/** The grid's intensity (device and server alike), set against the budget by priceBetterAt(). */
let grid = 1;
const intensity = (): IntensityPoint => ({ time: new Date(clock.epochMs()).toISOString(), gPerKwh: grid, zone: 'test', source: 'test grid', kind: 'estimated' });
const GRAMS = 1;

beforeAll(async () => {
  const files: Record<string, string> = {};
  const inputShapes = getZooModel(VARIANTS['0.35']).inputShapes;
  for (const [variant, model] of Object.entries(VARIANTS)) {
    files[variant] = await ensureModel(model);
    references.set(variant, await referenceRunner(files[variant]!));
  }
  server = await startServer({
    models: Object.values(files),
    inputShapes: Object.fromEntries(Object.values(files).map((f) => [modelNameOf(f), inputShapes])),
    host: '127.0.0.1',
    port: 0,
    executionProviders: ['cpu'],
    log: () => {},
  });
  family = await createClient({
    family: FAMILY,
    models: files,
    server: server.url,
    inputShapes,
    intraOpNumThreads: 1,
    clock,
    reconnect: { initialMs: 50, maxMs: 500, seed: 7 },
    calibrator: {
      deviceProfile: 'raspberry-pi-4',
      radio: 'wifi',
      deviceIntensity: intensity,
      serverIntensity: intensity,
      fallbackIntensityGPerKwh: 1,
      serverPowerW: 5,
      uplinkPriorBps: 200e6,
      rttPriorMs: 1,
      profileRuns: 10,
      serverProfiles: false,
      planIds: ['server', 'device'],
      decider: { exploration: false },
      defaults: { mode: 'mean', objective: 'carbon' },
    },
    // A flat, sure forecast: the cap is what is left over the requests expected in the hour's rest
    // (one an hour: the test's seconds leave about one to come, so the cap is what is left).
    budget: { grams: GRAMS, periodMs: HOUR, requestsPerHour: 1, forecast: () => [{ point: grid, upper: grid }] },
  });
  await family.ready(10_000);
}, 600_000);

/** What the better variant's cheapest candidate is priced at while the budget is not tight: within the cap (all of GRAMS, one request being expected in the hour's rest). */
const BETTER_PRICE = 0.7 * GRAMS;

/**
 * Each variant's cheapest candidate's predicted carbon per g/kWh of grid (device and server share
 * the grid, so carbon is proportional to it), in the context the next request's decision will
 * see: the family's freshest network estimate and server context, as FamilyClient builds it.
 * The test sets the grid from these before each request whose variant it asserts, so that the
 * budget's arithmetic does not hang on how fast this machine is (the predictions learn it as
 * requests run: a profile taken under load and faster requests later once let the better variant
 * fit for twelve requests).
 */
function unitCarbon(): Record<keyof typeof VARIANTS, number> {
  const policy = family.policy!.inner;
  const freshest = <T extends { updatedAt?: number; receivedAt?: number }>(xs: (T | undefined)[]) =>
    xs.filter((x): x is T => x !== undefined).sort((a, b) => (b.updatedAt ?? b.receivedAt ?? 0) - (a.updatedAt ?? a.receivedAt ?? 0))[0];
  const members = Object.values(family.clients);
  const serverContext = freshest(members.map((c) => c.lastServerContext));
  const context = policy.context({ network: freshest(members.map((c) => c.networkEstimate())), serverContext: serverContext && { ...serverContext, tailMs: {} } }, clock.epochMs());
  delete context.serverTailMs;
  const { assessments } = policy.decider.decide(context, { mode: 'mean' });
  const least = (variant: string) => Math.min(...assessments.filter((a) => a.candidate.variant === variant).map((a) => a.carbonG)) / grid;
  return { '0.35': least('0.35'), '0.75': least('0.75') };
}

/** The better variant at BETTER_PRICE: affordable while the cap is all of the budget. */
function priceBetter(): void {
  grid = BETTER_PRICE / unitCarbon()[BETTER];
}

/** What is left of the budget (the cap) half way between the two variants' cheapest: the cheaper fits, the better does not. */
function priceBetween(): void {
  const unit = unitCarbon();
  expect(unit['0.35'], 'the cheaper variant predicted cheaper').toBeLessThan(unit['0.75']);
  grid = (2 * family.budgetState()!.remainingG) / (unit['0.35'] + unit['0.75']);
}

afterAll(async () => {
  await family?.close();
  await server?.close();
  for (const r of references.values()) await r.release();
});

const inputsOf = (seed: number) => seededInputs(family.clients['0.35']!.partition.model, getZooModel(VARIANTS['0.35']).inputShapes, seed);

/** One request: its answer checked against the full model of the variant that ran it, and the budget's rule checked against its decision. */
async function request(seed: number, options: { minQuality?: number } = {}): Promise<RequestTelemetry> {
  const inputs = inputsOf(seed);
  const { outputs, telemetry: t } = await family.infer(inputs, { cut: 'auto', ...options });
  expect(t.error, JSON.stringify(t)).toBeUndefined();
  const variant = t.variant!.name;
  const expected = await references.get(variant)!.run(inputs as Record<string, ort.Tensor>);
  expect(maxAbsDiffAll(outputs as Record<string, ort.Tensor>, expected) / maxAbs(expected)).toBeLessThanOrEqual(TOL);
  expect(t.variant!.model).toBe(modelNameOf(await ensureModel(VARIANTS[variant as keyof typeof VARIANTS])));
  expect(t.decision!.candidateId).toBe(`${t.planId}/none/${variant}`);
  if (options.minQuality !== undefined) expect(t.variant!.quality).toBeGreaterThanOrEqual(options.minQuality);
  // The rule, from the decision's own predictions: the better variant whenever one of its
  // candidates fits the cap (and the floor); else the cheaper one if one of its candidates fits;
  // else (the cap relaxed) the least predicted carbon among those the budget alone kept out.
  const d = family.policy!.lastDecision()!;
  const fits = (name: string) => d.assessments.some((a) => a.candidate.variant === name && a.feasible);
  const relaxed = [...d.assessments].filter((a) => a.excludedBy.every((r) => r === 'budget')).sort((a, b) => a.carbonG - b.carbonG)[0];
  const want = fits(BETTER) ? BETTER : fits('0.35') ? '0.35' : relaxed!.candidate.variant;
  expect(variant).toBe(want);
  expect(t.budget!.bound).toBe(!fits(BETTER));
  if (!fits(BETTER) && !fits('0.35')) expect(d.relaxed).toContain('budget');
  return t;
}

describe('a model family under a paced carbon budget, over a real server', () => {
  it('runs the better variant while the budget allows, the cheaper once it is tight, and the better again next period', async () => {
    priceBetter();
    const first = await request(1);
    expect(first.variant!.name).toBe(BETTER);
    expect(first.budget).toMatchObject({ period: 0, grams: GRAMS, bound: false, bookedFrom: 'prediction' });
    const tight: RequestTelemetry[] = [first];
    // The first booked BETTER_PRICE: what is left (the cap) is set between the two variants.
    for (let seed = 2; seed <= 4 && tight.at(-1)!.variant!.name === BETTER; seed += 1) {
      priceBetween();
      tight.push(await request(seed));
    }
    expect(tight.at(-1)!.variant!.name).toBe('0.35');
    expect(tight.at(-1)!.budget!.remainingG).toBeLessThan(GRAMS);
    expect(tight.at(-1)!.budget!.bound).toBe(true);
    expect(tight.at(-1)!.budget!.capG).toBeGreaterThan(0);
    // A floor the cheaper variant does not meet: the better one answers (the cap relaxed when it does not fit: request() checks which).
    for (let seed = 30; seed < 33; seed += 1) expect((await request(seed, { minQuality: 65 })).variant!.name).toBe(BETTER);
    // Half way into the next period: the grams renew, half a request is expected in what is left
    // of it, so the cap is all of the budget: the better variant is affordable again.
    shiftMs += 1.5 * HOUR;
    priceBetter();
    const renewed = await request(40);
    expect(renewed.variant!.name).toBe(BETTER);
    expect(renewed.budget).toMatchObject({ period: 1, spentG: renewed.budget!.bookedG, requests: 1 });
    expect(family.budgetState()!.period).toBe(1);
    const { total } = family.stats();
    expect(total.localFallback).toBe(0);
    const row = (t: RequestTelemetry) => `${t.variant!.name}@${t.planId} cap ${t.budget!.capG!.toPrecision(3)} g, booked ${t.budget!.bookedG!.toPrecision(3)} g`;
    process.stdout.write(`family under a budget of ${GRAMS} g/h: ${tight.map(row).join('; ')}; next period: ${row(renewed)}\n`);
    expect(total.requests).toBe(tight.length + 3 + 1);
  });

  it('runs a fixed { variant, cut } on the server serving that variant, split or whole', async () => {
    const split = family.clients['0.35']!.partition.plans.find((p) => p.kind === 'split')!;
    for (const [seed, cut, path] of [[60, split.id, 'split'], [61, 'server', 'remote']] as const) {
      const inputs = inputsOf(seed);
      const { outputs, telemetry: t } = await family.infer(inputs, { variant: '0.35', cut });
      const expected = await references.get('0.35')!.run(inputs as Record<string, ort.Tensor>);
      expect(maxAbsDiffAll(outputs as Record<string, ort.Tensor>, expected) / maxAbs(expected)).toBeLessThanOrEqual(TOL);
      expect(t).toMatchObject({ planId: cut, path, cutChosenBy: 'caller', variant: { name: '0.35', quality: 60.3 } });
      expect(t.error).toBeUndefined();
      // No decision and no footprint: booked at the calibrator's prediction for what ran, where it
      // has that candidate ('server'; this client's planIds leave the split out: nothing to book, said so).
      if (cut === 'server') expect(t.budget).toMatchObject({ bookedFrom: 'prediction', bookedG: expect.any(Number) });
      else expect(t.budget!.bookedG).toBeUndefined();
      expect(t.budget!.capG).toBeUndefined();
    }
  });

  it('refuses a quality floor no variant served meets, and a family the server does not serve', async () => {
    await expect(family.infer(inputsOf(50), { minQuality: 70 })).rejects.toMatchObject({ code: 'CARBONCP_INVALID_ARGUMENT' });
    const other = await startServer({ models: [await ensureModel('mobilenetv2-0.5')], inputShapes: { [modelNameOf(await ensureModel('mobilenetv2-0.5'))]: getZooModel('mobilenetv2-0.5').inputShapes }, host: '127.0.0.1', port: 0, executionProviders: ['cpu'], log: () => {} });
    try {
      await expect(
        createClient({ family: FAMILY, models: { '0.35': await ensureModel(VARIANTS['0.35']) }, server: other.url, inputShapes: getZooModel(VARIANTS['0.35']).inputShapes, intraOpNumThreads: 1 }),
      ).rejects.toMatchObject({ code: 'CARBONCP_UNKNOWN_MODEL', message: expect.stringMatching(/serves no variant of family 'imagenet-mobilenetv2'/) });
    } finally {
      await other.close();
    }
  });
});
