// 200 requests in flight over 8 connections (8 clients) to one server: every response must be
// the answer to its own request (distinct seeded inputs, each compared with its own local result).
import { seededInputs } from '@carboncp/core/node';
import { createClient, type CarboncpClient } from '@carboncp/device/node';
import { ensureModel, getZooModel } from '@carboncp/models';
import { startServer, type CarboncpServer } from '@carboncp/server';
import type * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { maxAbsDiffAll, modelNameOf, referenceRunner } from './split-harness.js';

const MODEL = 'ppocr-cls';
const CLIENTS = 8;
const REQUESTS = 200;
const TOL = 1e-4;

let server: CarboncpServer;
let clients: CarboncpClient[] = [];

beforeAll(async () => {
  const file = await ensureModel(MODEL);
  const { inputShapes } = getZooModel(MODEL);
  server = await startServer({ models: [file], inputShapes: { [modelNameOf(file)]: inputShapes }, host: '127.0.0.1', port: 0, executionProviders: ['cpu'], log: () => {} });
  clients = await Promise.all(
    Array.from({ length: CLIENTS }, (_, i) =>
      createClient({ model: file, server: server.url, inputShapes, reconnect: { initialMs: 50, maxMs: 500, seed: i } }),
    ),
  );
  await Promise.all(clients.map((c) => c.ready(10_000)));
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server?.close();
});

it(`answers ${REQUESTS} concurrent requests over ${CLIENTS} connections, each with its own result`, async () => {
  const file = await ensureModel(MODEL);
  const { inputShapes } = getZooModel(MODEL);
  const model = clients[0].partition.model;
  const splits = clients[0].plans.filter((p) => p.kind === 'split');
  const cuts = ['server', splits[Math.floor(splits.length / 3)].id, splits[Math.floor((2 * splits.length) / 3)].id];

  const inputs = Array.from({ length: REQUESTS }, (_, i) => seededInputs(model, inputShapes, 10_000 + i));
  const reference = await referenceRunner(file);
  const expected: Record<string, ort.Tensor>[] = [];
  for (const feeds of inputs) expected.push(await reference.run(feeds));
  await reference.release();
  // Neighbouring answers must differ, or a swapped response could pass unnoticed.
  for (let i = 0; i < REQUESTS; i++) {
    expect(maxAbsDiffAll(expected[i], expected[(i + 1) % REQUESTS])).toBeGreaterThan(10 * TOL);
  }

  let resolutions = 0;
  const results = await Promise.all(
    inputs.map((feeds, i) =>
      clients[i % CLIENTS].infer(feeds, { cut: cuts[i % cuts.length] }).then((result) => {
        resolutions += 1;
        return result;
      }),
    ),
  );
  expect(resolutions).toBe(REQUESTS);
  results.forEach(({ outputs, telemetry }, i) => {
    expect(telemetry.error, telemetry.error?.message).toBeUndefined();
    expect(telemetry.path).toBe(i % cuts.length === 0 ? 'remote' : 'split');
    expect(maxAbsDiffAll(outputs, expected[i]), `request ${i}`).toBeLessThanOrEqual(TOL);
  });
  const stats = clients.map((c) => c.stats());
  expect(stats.reduce((sum, s) => sum + s.requests, 0)).toBe(REQUESTS);
  expect(stats.reduce((sum, s) => sum + s.localFallback + s.lateResponses + s.timeouts, 0)).toBe(0);
});
