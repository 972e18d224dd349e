/**
 * The KServe v2 side of a carboncp server, with a KServe client built from the codec and fetch:
 * POST /v2/models/{name}/infer for the full model and for a split plan's tail (JSON and binary
 * data), its refusals, and a server that forwards its tails (--tail-backend) to another carboncp
 * server's KServe route. No Triton runs here: server B stands in for it.
 */
import type { Partition, Plan } from '@carboncp/core';
import { ErrorCode, tensorFromArray, tensorToArray, type WireTensor } from '@carboncp/protocol';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startServer, type CarboncpServer } from '../index.js';
import { CLS_INPUT_SHAPES, CLS_PATH, clsInputs, crossingFor, expectError, expectResponse, inferBody, loadClsPartition, maxAbsDiff, middleSplit, runFullModel } from '../testing/fixtures.js';
import { GATE_MARKER } from '../testing/worker-markers.js';
import { gatedServers, marked, openGate, untilBlocked } from '../testing/worker-gate.js';
import { TestClient } from '../testing/ws-test-client.js';
import { HEADER_LENGTH_HEADER } from './kserve-body.js';
import { decodeInferResponse, encodeInferRequest } from './kserve-messages.js';
import { tailModelName } from './model-names.js';

let partition: Partition;
let split: Plan;
let plain: CarboncpServer;
const logs: string[] = [];

async function kserveInfer(server: CarboncpServer, name: string, inputs: WireTensor[], binary: boolean, headers: Record<string, string> = {}) {
  const { body, headerLength } = encodeInferRequest({ id: `k-${name}`, inputs, binary });
  const response = await fetch(`${server.httpUrl}/v2/models/${name}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(headerLength === undefined ? {} : { [HEADER_LENGTH_HEADER]: String(headerLength) }), ...headers },
    body: new Uint8Array(body),
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  return { status: response.status, bytes, header: response.headers.get(HEADER_LENGTH_HEADER) ?? undefined };
}

function fp32(name: string, tensor: { data: unknown; dims: readonly number[] }): WireTensor {
  return tensorFromArray(name, tensor.data as Float32Array, [...tensor.dims]);
}

async function metricsText(server: CarboncpServer): Promise<string> {
  return (await fetch(`${server.httpUrl}/metrics`)).text();
}

async function queueDepth(server: CarboncpServer): Promise<number> {
  const line = (await metricsText(server)).split('\n').find((l) => l.startsWith('carboncp_queue_depth '));
  return Number(line?.split(' ')[1]);
}

function requestCount(metrics: string, model: string, plan: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`carboncp_requests_total{model="${model}",plan="${plan}"}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

beforeAll(async () => {
  partition = await loadClsPartition();
  split = middleSplit(partition);
  plain = await startServer({ models: [CLS_PATH], inputShapes: CLS_INPUT_SHAPES, port: 0, executor: 'main', maxPayload: 1 << 20, log: (line) => logs.push(line) });
});

afterAll(async () => {
  await plain?.close({ drainMs: 1000 });
});

describe('POST /v2/models/{name}/infer', () => {
  const output = () => partition.model.outputs[0].name;

  it('runs the full model under its own name, JSON data in and out, equal to onnxruntime within 1e-5', async () => {
    const feeds = clsInputs(partition, 11);
    const expected = (await runFullModel(partition, feeds))[output()].data as Float32Array;
    const input = partition.model.inputs[0].name;
    const answer = await kserveInfer(plain, partition.model.name, [fp32(input, feeds[input])], false);
    expect(answer.status).toBe(200);
    expect(answer.header).toBeUndefined();
    const decoded = decodeInferResponse(answer.bytes, undefined);
    expect(decoded.model_name).toBe(partition.model.name);
    expect(decoded.id).toBe(`k-${partition.model.name}`);
    expect(decoded.outputs.map((o) => o.name)).toEqual([output()]);
    expect(maxAbsDiff(tensorToArray(decoded.outputs[0]) as Float32Array, expected)).toBeLessThan(1e-5);
    expect(decoded.parameters?.batch_size).toBe(1);
  });

  it("runs a split plan's tail under its tail name, binary data in and out, equal to the full model", async () => {
    const feeds = clsInputs(partition, 12);
    const expected = (await runFullModel(partition, feeds))[output()].data as Float32Array;
    const name = tailModelName(partition.model.name, split);
    const answer = await kserveInfer(plain, name, await crossingFor(partition, split, feeds), true);
    expect(answer.status).toBe(200);
    expect(answer.header).toBeDefined();
    const decoded = decodeInferResponse(answer.bytes, answer.header);
    expect(decoded.model_name).toBe(name);
    expect(decoded.outputs[0].parameters?.binary_data_size).toBe(decoded.outputs[0].data.byteLength);
    expect(maxAbsDiff(tensorToArray(decoded.outputs[0]) as Float32Array, expected)).toBeLessThan(1e-4);
  });

  it("serves a tail's KServe metadata: the crossing tensors in, the tail's outputs out", async () => {
    const name = tailModelName(partition.model.name, split);
    const meta = (await (await fetch(`${plain.httpUrl}/v2/models/${name}`)).json()) as Record<string, unknown>;
    expect(meta.name).toBe(name);
    expect(meta.inputs).toEqual(split.crossing.map((c) => ({ name: c.name, datatype: c.dtype, shape: c.shape!.map((d) => (typeof d === 'number' ? d : -1)) })));
    expect((meta.outputs as { name: string }[]).map((o) => o.name)).toEqual(split.tailOutputs);
    expect(meta.plan).toEqual({ id: split.id, digest: split.digest });
    const root = (await (await fetch(`${plain.httpUrl}/v2`)).json()) as { extensions: string[] };
    expect(root.extensions).toEqual(['binary_tensor_data']);
  });

  it('refuses with KServe error bodies: unknown model 404, bad tensors 400, too large 413 before reading, GET 405', async () => {
    const input = partition.model.inputs[0].name;
    const unknown = await kserveInfer(plain, 'nope', [tensorFromArray(input, new Float32Array(1), [1])], false);
    expect(unknown.status).toBe(404);
    expect(JSON.parse(Buffer.from(unknown.bytes).toString())).toMatchObject({ code: ErrorCode.UNKNOWN_MODEL });
    const wrongShape = await kserveInfer(plain, partition.model.name, [tensorFromArray(input, new Float32Array(6), [1, 2, 3])], true);
    expect(wrongShape.status).toBe(400);
    const bad = JSON.parse(Buffer.from(wrongShape.bytes).toString()) as { error: string; code: string };
    expect(bad.code).toBe(ErrorCode.BAD_TENSOR);
    expect(bad.error).toMatch(/x|input/);
    const huge = await fetch(`${plain.httpUrl}/v2/models/${partition.model.name}/infer`, { method: 'POST', body: new Uint8Array((1 << 20) + 1) });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { code: string }).code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
    const get = await fetch(`${plain.httpUrl}/v2/models/${partition.model.name}/infer`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const metrics = await metricsText(plain);
    expect(metrics).toMatch(new RegExp(`carboncp_errors_total\\{code="${ErrorCode.PAYLOAD_TOO_LARGE}"\\} [1-9]`));
  });

  it('asks for the token on infer when the server has one', async () => {
    const guarded = await startServer({ models: [CLS_PATH], inputShapes: CLS_INPUT_SHAPES, port: 0, executor: 'main', token: 'secret', log: () => undefined });
    try {
      const feeds = clsInputs(partition, 13);
      const input = partition.model.inputs[0].name;
      const inputs = [fp32(input, feeds[input])];
      expect((await kserveInfer(guarded, partition.model.name, inputs, true)).status).toBe(401);
      const wrong = await kserveInfer(guarded, partition.model.name, inputs, true, { authorization: 'Bearer other' });
      expect(wrong.status).toBe(401);
      const ok = await kserveInfer(guarded, partition.model.name, inputs, true, { authorization: 'Bearer secret' });
      expect(ok.status).toBe(200);
      expect(decodeInferResponse(ok.bytes, ok.header).outputs).toHaveLength(1);
    } finally {
      await guarded.close({ drainMs: 1000 });
    }
  });
});

describe('one queue for KServe and WebSocket requests', () => {
  const gated = gatedServers();

  afterAll(async () => {
    await gated.closeAll();
  });

  it("waits behind a WebSocket run, counts against max-queue and the client's share, then runs", async () => {
    const gate = new SharedArrayBuffer(16);
    const cells = new Int32Array(gate);
    const server = await gated.start({ maxQueue: 2, maxQueuePerConnection: 1 }, gate);
    const client = await TestClient.ready(server.url);
    const feeds = clsInputs(partition, 31);
    const inputs = await crossingFor(partition, split, feeds);
    const expected = (await runFullModel(partition, feeds))[partition.model.outputs[0].name].data as Float32Array;
    const name = tailModelName(partition.model.name, split);
    try {
      const blocking = client.sendInfer(inferBody(partition, split, marked(inputs, GATE_MARKER)));
      await untilBlocked(cells);
      // Queued behind the blocked run: the executor is the WebSocket requests' one.
      const waiting = kserveInfer(server, name, inputs, true);
      await vi.waitFor(async () => expect(await queueDepth(server)).toBe(1), { timeout: 10_000 });
      // The same HTTP client's second request passes its share (max-queue-per-connection 1).
      const second = await kserveInfer(server, name, inputs, false);
      expect(second.status).toBe(503);
      expect(JSON.parse(Buffer.from(second.bytes).toString())).toMatchObject({ code: ErrorCode.BUSY, error: expect.stringMatching(/max-queue-per-connection 1/) });
      // A WebSocket request (another connection: each has a share of 1) takes the last place in
      // the queue; the next one finds it full.
      const secondWs = await TestClient.ready(server.url);
      const thirdWs = await TestClient.ready(server.url);
      try {
        const queued = secondWs.sendInfer(inferBody(partition, split, inputs));
        await vi.waitFor(async () => expect(await queueDepth(server)).toBe(2), { timeout: 10_000 });
        const refused = expectError(await thirdWs.infer(inferBody(partition, split, inputs)));
        expect(refused.code).toBe(ErrorCode.BUSY);
        expect(refused.message).toMatch(/max-queue/);
        openGate(cells);
        const answer = await waiting;
        expect(answer.status).toBe(200);
        expect(maxAbsDiff(tensorToArray(decodeInferResponse(answer.bytes, answer.header).outputs[0]) as Float32Array, expected)).toBeLessThan(1e-4);
        expect(maxAbsDiff(tensorToArray(expectResponse(await secondWs.answer(queued)).body.outputs[0]) as Float32Array, expected)).toBeLessThan(1e-4);
        expectResponse(await client.answer(blocking));
        expect(await queueDepth(server)).toBe(0);
      } finally {
        secondWs.close();
        thirdWs.close();
      }
    } finally {
      openGate(cells);
      client.close();
    }
  });
});

describe('--tail-backend: forwarding tails to a KServe v2 server (another carboncp server here, no Triton)', () => {
  let backendServer: CarboncpServer;
  let front: CarboncpServer;

  beforeAll(async () => {
    backendServer = await startServer({ models: [CLS_PATH], inputShapes: CLS_INPUT_SHAPES, port: 0, executor: 'main', log: () => undefined });
    front = await startServer({
      models: [CLS_PATH],
      inputShapes: CLS_INPUT_SHAPES,
      port: 0,
      tailBackend: { url: backendServer.httpUrl },
      tailTimeoutMs: 10_000,
      log: (line) => logs.push(line),
    });
  });

  afterAll(async () => {
    await front?.close({ drainMs: 1000 });
    await backendServer?.close({ drainMs: 1000 });
  });

  it('answers WebSocket devices with the outputs of a plain server; the backend counts the runs', async () => {
    const before = requestCount(await metricsText(backendServer), partition.model.name, split.id);
    const feeds = clsInputs(partition, 21);
    const inputs = await crossingFor(partition, split, feeds);
    const viaFront = await TestClient.ready(front.url);
    const viaPlain = await TestClient.ready(plain.url);
    try {
      const forwarded = expectResponse(await viaFront.infer(inferBody(partition, split, inputs, { id: 'f1' })));
      const local = expectResponse(await viaPlain.infer(inferBody(partition, split, inputs, { id: 'p1' })));
      expect(forwarded.body.id).toBe('f1');
      expect(forwarded.body.outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual(local.body.outputs.map((o) => [o.name, o.datatype, o.shape]));
      expect(maxAbsDiff(tensorToArray(forwarded.body.outputs[0]) as Float32Array, tensorToArray(local.body.outputs[0]) as Float32Array)).toBeLessThan(1e-6);
      // The backend was a carboncp server: it says where it ran.
      expect(forwarded.body.parameters.execution_provider).toBe('cpu');
      expect(forwarded.body.parameters.batch_size).toBe(1);
      // The full model ('server' plan) goes to the model's own name.
      const server = partition.plans.find((p) => p.kind === 'server')!;
      const full = expectResponse(await viaFront.infer(inferBody(partition, server, await crossingFor(partition, server, feeds))));
      expect(maxAbsDiff(tensorToArray(full.body.outputs[0]) as Float32Array, tensorToArray(local.body.outputs[0]) as Float32Array)).toBeLessThan(1e-4);
    } finally {
      viaFront.close();
      viaPlain.close();
    }
    const backendMetrics = await metricsText(backendServer);
    expect(requestCount(backendMetrics, partition.model.name, split.id)).toBe(before + 1);
    expect(requestCount(backendMetrics, partition.model.name, 'server')).toBeGreaterThanOrEqual(1);
    // The front's own metrics count the forwarded requests too.
    expect(requestCount(await metricsText(front), partition.model.name, split.id)).toBe(1);
  });

  it('forwards a batch as one call and splits its rows back per request', async () => {
    const gated = gatedServers();
    const gate = new SharedArrayBuffer(16);
    const cells = new Int32Array(gate);
    const backend = await gated.start({}, gate);
    const batching = await startServer({
      models: [CLS_PATH],
      inputShapes: CLS_INPUT_SHAPES,
      port: 0,
      tailBackend: { url: backend.httpUrl },
      batching: { maxBatch: 4, windowMs: 20 },
      log: () => undefined,
    });
    const client = await TestClient.ready(batching.url);
    try {
      const samples = await Promise.all([41, 42].map(async (seed) => crossingFor(partition, split, clsInputs(partition, seed))));
      const expected = await Promise.all([41, 42].map(async (seed) => (await runFullModel(partition, clsInputs(partition, seed)))[partition.model.outputs[0].name].data as Float32Array));
      // The first call blocks in the backend's worker; the two that arrive meanwhile go together.
      const first = client.sendInfer(inferBody(partition, split, marked(samples[0], GATE_MARKER)));
      await untilBlocked(cells);
      const ids = samples.map((inputs) => client.sendInfer(inferBody(partition, split, inputs)));
      await vi.waitFor(async () => expect(await queueDepth(batching)).toBe(2), { timeout: 10_000 });
      openGate(cells);
      expectResponse(await client.answer(first));
      for (const [k, id] of ids.entries()) {
        const response = expectResponse(await client.answer(id));
        expect(response.body.parameters.batch_size).toBe(2);
        expect(response.body.outputs[0].shape[0]).toBe(1);
        expect(maxAbsDiff(tensorToArray(response.body.outputs[0]) as Float32Array, expected[k])).toBeLessThan(1e-4);
      }
      // Two calls reached the backend: the blocked one and the batch.
      expect(requestCount(await metricsText(backend), partition.model.name, split.id)).toBe(2);
    } finally {
      openGate(cells);
      client.close();
      await batching.close({ drainMs: 1000 });
      await gated.closeAll();
    }
  });

  it('fails requests with CARBONCP_INTERNAL naming the backend when it is down, without hanging', async () => {
    await backendServer.close({ drainMs: 1000 });
    const client = await TestClient.ready(front.url);
    try {
      const inputs = await crossingFor(partition, split, clsInputs(partition, 22));
      const error = expectError(await client.infer(inferBody(partition, split, inputs)));
      expect(error.code).toBe(ErrorCode.INTERNAL);
      expect(error.message).toContain(backendServer.httpUrl);
      expect(error.message).toMatch(/unreachable/);
    } finally {
      client.close();
    }
  });
});
