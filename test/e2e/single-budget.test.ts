// A carbon budget on a one-model client, end to end: a real server serving the PP-OCR
// classifier, a device client whose calibrated decision minimises latency under a paced budget.
// With one model the budget can only move the cut: a generous budget runs the fastest plan, a
// tight one the cheaper in carbon, and the next period the fastest again. Every answer matches
// onnxruntime-node's full model. Wall time moves by the client's clock only (epochMs shifted).
import type { IntensityPoint } from '@carboncp/carbon';
import { seededInputs } from '@carboncp/core/node';
import { CalibratedPolicy, createClient, systemClock, type CarboncpClient, type Clock, type RequestTelemetry } from '@carboncp/device/node';
import { ensureModel, getZooModel } from '@carboncp/models';
import { startServer, type CarboncpServer } from '@carboncp/server';
import type * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxAbs, maxAbsDiffAll, modelNameOf, offloadingDevice, referenceRunner } from './split-harness.js';

const HOUR = 3_600_000;
const MODEL = 'ppocr-cls';
const GRAMS = 1;
/** Relative to the output's scale: the split runs the same operators as the full model, on the same CPU provider. */
const TOL = 1e-4;

let server: CarboncpServer;
let client: CarboncpClient;
let reference: Awaited<ReturnType<typeof referenceRunner>>;
let shiftMs = 0;
const clock: Clock = { ...systemClock, epochMs: () => Date.now() + shiftMs };
/** Each side's grid (g/kWh), set against the budget by price(). */
const grid = { device: 1, server: 1 };
const point = (gPerKwh: number): IntensityPoint => ({ time: new Date(clock.epochMs()).toISOString(), gPerKwh, zone: 'test', source: 'test grid', kind: 'estimated' });

beforeAll(async () => {
  const file = await ensureModel(MODEL);
  const { inputShapes } = getZooModel(MODEL);
  reference = await referenceRunner(file);
  server = await startServer({ models: [file], inputShapes: { [modelNameOf(file)]: inputShapes }, host: '127.0.0.1', port: 0, executionProviders: ['cpu'], log: () => {} });
  client = await createClient({
    model: file,
    server: server.url,
    inputShapes,
    intraOpNumThreads: 1,
    clock,
    reconnect: { initialMs: 50, maxMs: 500, seed: 7 },
    calibrator: {
      deviceProfile: await offloadingDevice('test/e2e/single-budget.test.ts'),
      radio: 'wifi',
      deviceIntensity: () => point(grid.device),
      serverIntensity: () => point(grid.server),
      fallbackIntensityGPerKwh: 1,
      serverPowerW: 5,
      uplinkPriorBps: 200e6,
      rttPriorMs: 1,
      profileRuns: 3,
      serverProfile: false,
      planIds: ['server', 'device'],
      decider: { exploration: false },
      defaults: { mode: 'mean', objective: 'latency' },
    },
    // A flat, sure forecast: the cap is what is left over the requests expected in the hour's rest
    // (one an hour: the test's seconds leave about one to come, so the cap is what is left).
    budget: { grams: GRAMS, periodMs: HOUR, requestsPerHour: 1, forecast: () => [{ point: grid.device, upper: grid.device }] },
  });
  await client.ready(10_000);
}, 600_000);

afterAll(async () => {
  await client?.close();
  await server?.close();
  await reference?.release();
});

/** The client's calibrated policy (the calibrator option makes one; a check, not a cast). */
function policy(): CalibratedPolicy {
  const p = client.cutPolicy;
  if (!(p instanceof CalibratedPolicy)) throw new Error('the client has no calibrated policy');
  return p;
}

/** What the fastest plan and the other are priced at: the fastest within the cap (all of GRAMS) while nothing is spent, far past what is left (0.3 GRAMS) once it is booked; the other within that. */
const PRICE = { fastest: 0.7 * GRAMS, other: 0.15 * GRAMS };

/**
 * Sets both grids from the predictions in force, so that the fastest plan costs PRICE.fastest and
 * the other PRICE.other. A plan's carbon is its device energy x the device grid + its server energy x the
 * server grid: both energies are read off two decisions at unit intensities. Called before each
 * request whose plan the test asserts, so that the budget's arithmetic does not hang on this
 * machine's speed (the predictions learn it as requests run). Returns the fastest plan's id.
 * (The request's own decision, with the client's full context, is what the test asserts on.)
 */
function price(): string {
  const p = policy();
  const base = p.context({ network: client.networkEstimate(), serverContext: client.lastServerContext }, clock.epochMs());
  const at = (device: number, server: number) => p.decider.decide({ ...base, deviceIntensityGPerKwh: device, serverIntensityGPerKwh: server }, { mode: 'mean', objective: 'latency' });
  const unit = at(1, 1);
  const fastest = unit.chosen.candidate.planId;
  const energy = (device: number, server: number) => Object.fromEntries(at(device, server).assessments.map((a) => [a.candidate.planId, a.carbonG]));
  // The server grid at 0 is refused nowhere, but keep both positive: 1e-9 is 0 to 9 digits here.
  const onDevice = energy(1, 1e-9);
  const onServer = energy(1e-9, 1);
  const other = fastest === 'device' ? 'server' : 'device';
  const want = { [fastest]: PRICE.fastest, [other]: PRICE.other };
  // Two plans, two grids: solve want[plan] = onDevice[plan] x d + onServer[plan] x s.
  const [a, b, c, e] = [onDevice.server!, onServer.server!, onDevice.device!, onServer.device!];
  const det = a * e - b * c;
  const d = (want.server! * e - b * want.device!) / det;
  const s = (a * want.device! - c * want.server!) / det;
  expect(d, JSON.stringify({ onDevice, onServer, fastest })).toBeGreaterThan(0);
  expect(s, JSON.stringify({ onDevice, onServer, fastest })).toBeGreaterThan(0);
  grid.device = d;
  grid.server = s;
  return fastest;
}

/** One request: its answer checked against the full model, its plan against the rule read off its own decision. */
async function request(seed: number): Promise<RequestTelemetry & { fastest: string }> {
  const inputs = seededInputs(client.partition.model, getZooModel(MODEL).inputShapes, seed);
  const { outputs, telemetry: t } = await client.infer(inputs, { cut: 'auto' });
  expect(t.error, JSON.stringify(t)).toBeUndefined();
  const expected = await reference.run(inputs as Record<string, ort.Tensor>);
  expect(maxAbsDiffAll(outputs as Record<string, ort.Tensor>, expected) / maxAbs(expected)).toBeLessThanOrEqual(TOL);
  // The rule: the fastest plan within the cap; else (the cap relaxed) the least carbon.
  const d = policy().lastDecision()!;
  const feasible = d.assessments.filter((a) => a.feasible).sort((x, y) => x.objectiveValue - y.objectiveValue);
  const want = feasible[0] ?? [...d.assessments].sort((x, y) => x.carbonG - y.carbonG)[0]!;
  expect(t.planId).toBe(want.candidate.planId);
  expect(t.budget!.capG).toBe(d.maxCarbonG);
  // The fastest plan as this decision predicted it, cap or no cap.
  const fastest = [...d.assessments].sort((x, y) => x.objectiveValue - y.objectiveValue)[0]!.candidate.planId;
  return { ...t, fastest };
}

describe('a one-model client under a paced carbon budget, over a real server', () => {
  it('runs the fastest plan while the budget allows, the cleaner once it is tight, and the fastest again next period', async () => {
    const fastest = price();
    const first = await request(1);
    expect(first.planId).toBe(first.fastest);
    expect(first.budget).toMatchObject({ period: 0, grams: GRAMS, bound: false, bookedFrom: 'prediction' });
    // Booked (its predicted carbon: no footprint option) about PRICE.fastest: the cap is now what
    // is left, about 0.3 GRAMS, the other plan's PRICE.other within it.
    price();
    const tight = await request(2);
    expect(tight.planId).not.toBe(tight.fastest);
    expect(tight.budget).toMatchObject({ bound: true, requests: 2 });
    expect(tight.budget!.capG).toBeLessThan(PRICE.fastest);
    expect(tight.budget!.capG).toBeGreaterThanOrEqual(PRICE.other);
    // Half way into the next period the grams renew: the fastest plan is affordable again.
    shiftMs += 1.5 * HOUR;
    price();
    const renewed = await request(3);
    expect(renewed.planId).toBe(renewed.fastest);
    expect(renewed.budget).toMatchObject({ period: 1, requests: 1, bound: false });
    expect(client.budgetState()!.period).toBe(1);
    expect(client.stats().localFallback).toBe(0);
    const row = (t: RequestTelemetry) => `${t.planId} cap ${t.budget!.capG!.toPrecision(3)} g, booked ${t.budget!.bookedG!.toPrecision(3)} g (${t.budget!.bookedFrom})`;
    process.stdout.write(`one model under a budget of ${GRAMS} g/h (fastest: ${fastest}): ${[first, tight].map(row).join('; ')}; next period: ${row(renewed)}\n`);
  });
});
