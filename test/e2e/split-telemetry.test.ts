// The telemetry contract under load, against a real server over ws on 127.0.0.1: 64 requests
// in flight from one client (their heads run one after another on the device, their tails queue
// and batch on the server). For every request: the parts add up to totalMs within 1 ms, no part
// is negative, serverMs includes queueMs, totalMs fits inside the time the caller measured around
// infer(); and over the batch: heads never overlap (headMs is compute, waiting is waitMs), and
// transferMs is not clamped to 0 (it was for 58 of 64 when the device subtracted queue_ms twice).
import { seededInputs } from '@carboncp/core/node';
import { createClient, type CarboncpClient, type RequestTelemetry } from '@carboncp/device/node';
import { ensureModel, getZooModel } from '@carboncp/models';
import { startServer, type CarboncpServer } from '@carboncp/server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { modelNameOf } from './split-harness.js';

const MODEL = 'ppocr-cls';
const REQUESTS = 64;

let server: CarboncpServer;
let client: CarboncpClient;

beforeAll(async () => {
  const file = await ensureModel(MODEL);
  const { inputShapes } = getZooModel(MODEL);
  server = await startServer({ models: [file], inputShapes: { [modelNameOf(file)]: inputShapes }, host: '127.0.0.1', port: 0, executionProviders: ['cpu'], log: () => {} });
  client = await createClient({ model: file, server: server.url, inputShapes, intraOpNumThreads: 1, reconnect: { initialMs: 50, maxMs: 500, seed: 7 } });
  await client.ready(10_000);
});

afterAll(async () => {
  await client?.close();
  await server?.close();
});

const parts = (t: RequestTelemetry) => [t.waitMs, t.headMs, t.transferMs, t.serverMs, t.tailLocalMs];

it(`${REQUESTS} concurrent requests: every telemetry record adds up, on the clocks it names`, async () => {
  const { inputShapes } = getZooModel(MODEL);
  const model = client.partition.model;
  const splits = client.plans.filter((p) => p.kind === 'split');
  // A middle cut (a real head on the device) and 'server' (no head: raw inputs cross).
  const cuts = [splits[Math.floor(splits.length / 2)].id, 'server'];
  const inputs = Array.from({ length: REQUESTS }, (_, i) => seededInputs(model, inputShapes, 20_000 + i));
  // Sessions load outside the measured batch (a first request's load is waitMs too, but would
  // dwarf everything else here).
  for (const cut of cuts) await client.infer(inputs[0], { cut });

  const batchStarted = performance.now();
  const measured = await Promise.all(
    inputs.map(async (feeds, i) => {
      const called = performance.now();
      const { telemetry } = await client.infer(feeds, { cut: cuts[i % cuts.length] });
      return { telemetry, outerMs: performance.now() - called };
    }),
  );
  const batchMs = performance.now() - batchStarted;

  for (const [i, { telemetry: t, outerMs }] of measured.entries()) {
    const at = `request ${i} (${t.planId}): ${JSON.stringify(t)}`;
    expect(t.error, at).toBeUndefined();
    expect(t.path, at).toBe(i % cuts.length === 0 ? 'split' : 'remote');
    for (const part of [...parts(t), t.queueMs, t.totalMs]) expect(part, at).toBeGreaterThanOrEqual(0);
    expect(Math.abs(parts(t).reduce((a, b) => a + b, 0) - t.totalMs), at).toBeLessThanOrEqual(1);
    expect(t.queueMs, at).toBeLessThanOrEqual(t.serverMs);
    expect(t.tailLocalMs, at).toBe(0);
    expect(t.totalMs, at).toBeLessThanOrEqual(outerMs + 1e-6);
    if (t.planId === 'server') expect(t.headMs, at).toBe(0);
  }
  const records = measured.map((m) => m.telemetry);
  const split = records.filter((t) => t.path === 'split');
  // The heads ran one after another: their compute times fit inside the batch, and whoever ran
  // last waited (waitMs) for most of the others.
  const headSum = split.reduce((sum, t) => sum + t.headMs, 0);
  expect(headSum).toBeLessThanOrEqual(batchMs);
  expect(Math.max(...split.map((t) => t.waitMs))).toBeGreaterThanOrEqual(0.5 * (headSum - Math.max(...split.map((t) => t.headMs))));
  const clamped = records.filter((t) => t.transferMs === 0).length;
  expect(clamped, `transferMs clamped to 0 in ${clamped} of ${REQUESTS}`).toBeLessThanOrEqual(REQUESTS / 10);
  // The server queued some of them: its queue time is inside serverMs, not subtracted twice.
  expect(records.some((t) => t.queueMs > 0)).toBe(true);

  const mean = (key: keyof RequestTelemetry, of: RequestTelemetry[]) => (of.reduce((s, t) => s + (t[key] as number), 0) / of.length).toFixed(2);
  for (const [label, of] of [['split', split], ['remote', records.filter((t) => t.path === 'remote')]] as const) {
    console.log(
      `[telemetry] ${MODEL} ${label} x${of.length} in ${batchMs.toFixed(1)} ms: mean wait ${mean('waitMs', of)} head ${mean('headMs', of)} ` +
        `transfer ${mean('transferMs', of)} server ${mean('serverMs', of)} (queue ${mean('queueMs', of)}) total ${mean('totalMs', of)}; clamped ${clamped}`,
    );
  }
});
