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

// Every test runs against both executors: tails on the event loop, and on a worker thread.
describe.each(['main', 'worker'] as const)('executor %s', (executor) => {
  beforeAll(async () => {
    partition = await loadClsPartition();
    split = middleSplit(partition);
    server = await startServer({ models: [CLS_PATH], inputShapes: CLS_INPUT_SHAPES, port: 0, executor, log: (line) => logs.push(line) });
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

  describe('ping, HTTP endpoints and metrics', () => {
    it('answers ping with queue depth, in-flight count, recent tail p50 and carbon intensity', async () => {
      const carbon = await startServer({
        models: [CLS_PATH],
        inputShapes: CLS_INPUT_SHAPES,
        port: 0,
        carbonIntensity: { value_g_per_kwh: 123.5, source: 'test-grid' },
        executor,
        log: () => undefined,
      });
      try {
        const client = await TestClient.connect(carbon.url);
        await client.hello();
        const inputs = await crossingFor(partition, split, clsInputs(partition, 3));
        expectResponse(await client.infer(inferBody(partition, split, inputs)));
        const pong = await client.ping(42);
        expect(pong.type).toBe(MessageType.Pong);
        if (pong.type !== MessageType.Pong) return;
        expect(pong.body.t).toBe(42);
        expect(pong.body.queue_depth).toBe(0);
        expect(pong.body.in_flight).toBe(0);
        expect(pong.body.carbon_intensity).toEqual({ value_g_per_kwh: 123.5, source: 'test-grid' });
        expect(pong.body.tail_ms[`${partition.model.name}/${split.id}`]).toBeGreaterThan(0);
        expect(pong.body.tail_ms[split.id]).toBe(pong.body.tail_ms[`${partition.model.name}/${split.id}`]);
        client.close();
      } finally {
        await carbon.close();
      }
    });

    it('serves health and readiness', async () => {
      const live = await fetch(`${server.httpUrl}/v2/health/live`);
      expect(live.status).toBe(200);
      const ready = await fetch(`${server.httpUrl}/v2/health/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ ready: true });
      const missing = await fetch(`${server.httpUrl}/nothing-here`);
      expect(missing.status).toBe(404);
      const post = await fetch(`${server.httpUrl}/v2/health/live`, { method: 'POST' });
      expect(post.status).toBe(405);
    });

    it('serves KServe-v2-like model metadata with digests and plans', async () => {
      const response = await fetch(`${server.httpUrl}/v2/models/${partition.model.name}`);
      expect(response.status).toBe(200);
      const meta = (await response.json()) as {
        name: string;
        versions: string[];
        platform: string;
        inputs: { name: string; datatype: string; shape: number[] }[];
        outputs: { name: string; datatype: string; shape: number[] }[];
        digest: string;
        plans: { id: string; kind: string; digest: string; crossing: { name: string; datatype: string; shape: (number | string)[] }[] }[];
      };
      expect(meta.name).toBe(partition.model.name);
      expect(meta.platform).toBe('onnx');
      expect(meta.versions).toEqual(['1']);
      expect(meta.inputs).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1] }]);
      expect(meta.outputs[0].datatype).toBe('FP32');
      expect(meta.outputs[0].shape).toEqual([-1, 2]);
      expect(meta.digest).toBe(partition.model.digest);
      expect(meta.plans.map((p) => [p.id, p.kind, p.digest])).toEqual(partition.plans.map((p) => [p.id, p.kind, p.digest]));
      const served = meta.plans.find((p) => p.id === split.id)!;
      expect(served.crossing.map((c) => [c.name, c.datatype, c.shape])).toEqual(split.crossing.map((c) => [c.name, c.dtype, c.shape]));
      const unknown = await fetch(`${server.httpUrl}/v2/models/not-a-model`);
      expect(unknown.status).toBe(404);
      expect(((await unknown.json()) as { error: string }).error).toMatch(/unknown model 'not-a-model'/);
    });

    it('exposes Prometheus metrics through a per-server registry', async () => {
      const client = await TestClient.connect(server.url);
      await client.hello();
      const inputs = await crossingFor(partition, split, clsInputs(partition, 9));
      expectResponse(await client.infer(inferBody(partition, split, inputs)));
      await client.infer({ ...inferBody(partition, split, inputs), model_name: 'missing' });
      const response = await fetch(`${server.httpUrl}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await response.text();
      const labels = `model="${partition.model.name}",plan="${split.id}"`;
      expect(text).toMatch(new RegExp(`carboncp_requests_total\\{${labels}\\} [1-9]`));
      expect(text).toMatch(new RegExp(`carboncp_request_duration_seconds_bucket\\{le="\\+Inf",${labels}\\} [1-9]`));
      expect(text).toMatch(new RegExp(`carboncp_tail_duration_seconds_count\\{${labels}\\} [1-9]`));
      expect(text).toMatch(/carboncp_received_bytes_total [1-9]\d*/);
      expect(text).toMatch(/carboncp_sent_bytes_total [1-9]\d*/);
      expect(text).toMatch(/carboncp_errors_total\{code="CARBONCP_UNKNOWN_MODEL"\} 1/);
      expect(text).toMatch(/carboncp_queue_depth 0/);
      expect(text).toMatch(/carboncp_session_cache_entries [1-9]/);
      expect(text).toMatch(/carboncp_connections [1-9]/);
      client.close();
    });
  });
});
