import type { Partition, Plan } from '@carboncp/core';
import { MessageType, tensorFromArray, tensorToArray, type InferRequestMessage, type Message, type WireTensor } from '@carboncp/protocol';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type CarboncpServer } from './index.js';
import {
  CLS_INPUT_SHAPES,
  CLS_PATH,
  clsInputs,
  crossingFor,
  expectError,
  expectResponse,
  inferBody,
  loadClsPartition,
  maxAbsDiff,
  middleSplit,
} from './testing/fixtures.js';
import { writeFragileModels } from './testing/fragile-model.js';
import { TestClient } from './testing/ws-test-client.js';

let partition: Partition;
let split: Plan;
let serverPlan: Plan;
const samples: WireTensor[][] = [];
/** Inputs of the 'server' plan (the whole model runs on the server): slower, for the drain test. */
const samplesFull: WireTensor[] = [];
let server: CarboncpServer | undefined;
let logs: string[] = [];

beforeAll(async () => {
  partition = await loadClsPartition();
  split = middleSplit(partition);
  serverPlan = partition.plans.find((p) => p.id === 'server')!;
  for (let seed = 1; seed <= 6; seed++) samples.push(await crossingFor(partition, split, clsInputs(partition, 100 + seed)));
  for (let seed = 1; seed <= 4; seed++) samplesFull.push((await crossingFor(partition, serverPlan, clsInputs(partition, 200 + seed)))[0]);
});

afterEach(async () => {
  await server?.close({ drainMs: 2000 });
  server = undefined;
  logs = [];
});

async function start(options: Partial<Parameters<typeof startServer>[0]> = {}): Promise<CarboncpServer> {
  server = await startServer({ models: [CLS_PATH], inputShapes: CLS_INPUT_SHAPES, port: 0, log: (line) => logs.push(line), ...options });
  return server;
}

function outputsOf(message: Message): Float32Array[] {
  return expectResponse(message).body.outputs.map((o) => tensorToArray(o) as Float32Array);
}

describe('backpressure', () => {
  it('answers CARBONCP_BUSY past the queue limits, and every request gets an answer', async () => {
    // One client alone meets its share (at most maxQueue) first; the global bound with several
    // clients is tested in queue-share.test.ts.
    const s = await start({ maxQueue: 1 });
    const c = await TestClient.ready(s.url);
    const ids = Array.from({ length: 24 }, (_, i) => c.sendInfer(inferBody(partition, split, samples[i % samples.length])));
    const answers = await Promise.all(ids.map((id) => c.answer(id)));
    const busy = answers.filter((m) => m.type === MessageType.Error);
    const served = answers.filter((m) => m.type === MessageType.InferResponse);
    expect(busy.length).toBeGreaterThan(0);
    expect(served.length).toBeGreaterThan(0);
    for (const m of busy) {
      const error = expectError(m);
      expect(error.code).toBe('CARBONCP_BUSY');
      expect(error.message).toMatch(/max-queue-per-connection 1\)/);
    }
    // After the burst the server serves again.
    expectResponse(await c.infer(inferBody(partition, split, samples[0])));
  });
});

describe('graceful shutdown', () => {
  it('drains queued requests, refuses new ones with CARBONCP_SHUTTING_DOWN, then closes with 1001', async () => {
    const s = await start();
    const a = await TestClient.ready(s.url);
    const b = await TestClient.ready(s.url);
    const ids = Array.from({ length: 16 }, (_, i) => a.sendInfer(inferBody(partition, serverPlan, [samplesFull[i % samplesFull.length]])));
    // The pong comes back after the server has read (and queued) every request before it.
    const pong = await a.ping();
    expect(pong.type).toBe(MessageType.Pong);
    const closing = s.close({ drainMs: 30_000 });
    const lateId = b.sendInfer(inferBody(partition, split, samples[0]));
    const late = expectError(await b.answer(lateId));
    expect(late.code).toBe('CARBONCP_SHUTTING_DOWN');
    const answers = await Promise.all(ids.map((id) => a.answer(id)));
    for (const m of answers) expect(m.type).toBe(MessageType.InferResponse);
    await closing;
    expect((await a.closed).code).toBe(1001);
    expect((await b.closed).code).toBe(1001);
    await expect(TestClient.connect(s.url)).rejects.toThrow();
    server = undefined;
  });

  it('answers every queued request (a result or CARBONCP_SHUTTING_DOWN) even with no drain time', async () => {
    const s = await start({ batching: { maxBatch: 64, windowMs: 60_000 } });
    const a = await TestClient.ready(s.url);
    // With a long batching window and maxBatch not reached, the requests wait in the queue.
    const ids = [0, 1, 2].map((i) => a.sendInfer(inferBody(partition, split, samples[i])));
    await a.ping();
    const answers = Promise.all(ids.map((id) => a.answer(id)));
    await s.close({ drainMs: 0 });
    server = undefined;
    for (const m of await answers) {
      if (m.type === MessageType.Error) expect(m.body.code).toBe('CARBONCP_SHUTTING_DOWN');
      else expect(m.type).toBe(MessageType.InferResponse);
    }
  });
});

describe('dynamic batching', () => {
  it('produces the same outputs as unbatched runs, and runs requests together', async () => {
    const plain = await start();
    const c1 = await TestClient.ready(plain.url);
    const expected: Float32Array[][] = [];
    for (const inputs of samples) expected.push(outputsOf(await c1.infer(inferBody(partition, split, inputs))));
    await plain.close();

    const batched = await start({ batching: { maxBatch: 4, windowMs: 200 } });
    const c2 = await TestClient.ready(batched.url);
    const answers = await Promise.all(samples.map((inputs) => c2.infer(inferBody(partition, split, inputs))));
    const sizes = answers.map((m) => expectResponse(m).body.parameters.batch_size);
    expect(Math.max(...sizes)).toBeGreaterThan(1);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4);
    answers.forEach((m, i) => {
      const got = outputsOf(m);
      expect(expectResponse(m).body.outputs[0].shape[0]).toBe(1);
      got.forEach((values, j) => expect(maxAbsDiff(values, expected[i][j])).toBeLessThan(1e-5));
    });
    const metrics = await (await fetch(`${batched.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/carboncp_batch_size_bucket\{le="1",model="[^"]+",plan="split-\d+"\} \d+/);
  });
});

describe('a batched run that fails', () => {
  it('is rerun one request at a time, so each request gets its own answer', async () => {
    const fragile = await writeFragileModels();
    try {
      const s = await start({ models: [fragile.fragilePath], inputShapes: {}, batching: { maxBatch: 8, windowMs: 200 } });
      const model = s.models.get('fragile')!;
      const plan = model.servable.get('split-1')!;
      const body = (values: number[], shape: number[]): InferRequestMessage => ({
        model_name: 'fragile',
        plan_id: plan.id,
        plan_digest: plan.digest,
        model_digest: model.loaded.digest,
        inputs: [tensorFromArray(plan.crossing[0].name, Float32Array.from(values), shape)],
      });
      const c = await TestClient.ready(s.url);
      // Together they make a [4, 4] batch, which the tail's Reshape to [1, 4] refuses.
      const [a, b, bad] = await Promise.all([
        c.infer(body([1, 2, 3, 4], [1, 4])),
        c.infer(body([5, 6, 7, 8], [1, 4])),
        c.infer(body([1, 2, 3, 4, 5, 6, 7, 8], [2, 4])),
      ]);
      expect(logs.some((line) => line.includes('the batched run failed'))).toBe(true);
      expect(outputsOf(a).map((t) => Array.from(t))).toEqual([[1, 2, 3, 4]]);
      expect(outputsOf(b).map((t) => Array.from(t))).toEqual([[5, 6, 7, 8]]);
      expect(expectResponse(a).body.parameters.batch_size).toBe(1);
      expect(bad.type === MessageType.Error && bad.body.code).toBe('CARBONCP_BAD_TENSOR');
    } finally {
      await server?.close({ drainMs: 1000 });
      server = undefined;
      await fragile.cleanup();
    }
  });
});

describe('tail session cache', () => {
  it('evicts the least recently used tail under a small byte bound and rebuilds it on demand', async () => {
    const splits = partition.plans.filter((p) => p.kind === 'split' && p.crossing.length === 1 && p.crossing[0].source === 'head');
    const [p1, p2] = [splits[2], splits[splits.length - 3]];
    const bound = Math.max(p1.tailParamBytes, p2.tailParamBytes) + 1;
    const s = await start({ sessionCacheBytes: bound });
    const c = await TestClient.ready(s.url);
    const feeds = clsInputs(partition, 5);
    const in1 = await crossingFor(partition, p1, feeds);
    const in2 = await crossingFor(partition, p2, feeds);
    const first = outputsOf(await c.infer(inferBody(partition, p1, in1)));
    outputsOf(await c.infer(inferBody(partition, p2, in2)));
    expect(logs.some((l) => l.includes(`evicted ${partition.model.name}/${p1.id}`))).toBe(true);
    const metrics = await (await fetch(`${s.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/carboncp_session_cache_entries 1\n/);
    // Rebuilt after eviction, same numbers.
    const again = outputsOf(await c.infer(inferBody(partition, p1, in1)));
    expect(maxAbsDiff(again[0], first[0])).toBe(0);
    expect(logs.filter((l) => l.startsWith(`tail session ${partition.model.name}/${p1.id}:`)).length).toBe(2);
  });
});
