import type { Partition, Plan } from '@carboncp/core';
import { MessageType, tensorToArray } from '@carboncp/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type CarboncpServer } from './index.js';
import {
  CLS_INPUT_SHAPES,
  CLS_PATH,
  clsInputs,
  crossingFor,
  expectResponse,
  inferBody,
  loadClsPartition,
  maxAbsDiff,
  middleSplit,
  runFullModel,
} from './testing/fixtures.js';
import { TestClient } from './testing/ws-test-client.js';

let partition: Partition;
let split: Plan;
let server: CarboncpServer;
const logs: string[] = [];

beforeAll(async () => {
  partition = await loadClsPartition();
  split = middleSplit(partition);
  server = await startServer({ models: [CLS_PATH], inputShapes: CLS_INPUT_SHAPES, port: 0, log: (line) => logs.push(line) });
});

afterAll(async () => {
  await server?.close({ drainMs: 1000 });
});

describe('carboncp server: handshake and split inference', () => {
  it('answers hello with models, plan digests, execution provider and limits', async () => {
    const client = await TestClient.connect(server.url);
    const ack = await client.hello();
    expect(ack.type).toBe(MessageType.HelloAck);
    if (ack.type !== MessageType.HelloAck) return;
    expect(ack.body.execution_provider).toBe('cpu');
    expect(ack.body.limits).toEqual({ max_payload: 64 * 1024 * 1024, max_queue: 256 });
    const model = ack.body.models.find((m) => m.name === partition.model.name);
    expect(model?.digest).toBe(partition.model.digest);
    const servable = partition.plans.filter((p) => p.kind !== 'device').map((p) => ({ id: p.id, digest: p.digest }));
    expect(model?.plans).toEqual(servable);
    client.close();
  });

  it('runs a middle split tail whose output matches full local inference within 1e-4', async () => {
    const client = await TestClient.connect(server.url);
    await client.hello();
    const feeds = clsInputs(partition, 7);
    const inputs = await crossingFor(partition, split, feeds);
    const response = expectResponse(await client.infer(inferBody(partition, split, inputs, { id: 'req-a' })));
    expect(response.body.id).toBe('req-a');
    expect(response.body.plan_id).toBe(split.id);
    expect(response.body.parameters.execution_provider).toBe('cpu');
    expect(response.body.parameters.batch_size).toBe(1);
    const full = await runFullModel(partition, feeds);
    for (const name of split.tailOutputs) {
      const got = response.body.outputs.find((o) => o.name === name);
      expect(got, `output ${name}`).toBeDefined();
      expect(got!.shape).toEqual([...full[name].dims]);
      expect(maxAbsDiff(tensorToArray(got!) as Float32Array, full[name].data as Float32Array)).toBeLessThan(1e-4);
    }
    client.close();
  });
});
