// Failure paths over real sockets: bad input is refused before anything is sent; a server that
// dies with requests in flight costs no request (each resolves once, locally), and the client
// reconnects when a server is back on the same port; a server with other model bytes is never
// trusted with a tensor; a server whose answers stop arriving is found out by the keepalive.
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededInputs } from '@carboncp/core/node';
import { createClient, type CarboncpClient, type InferResult } from '@carboncp/device/node';
import { ensureModel, getZooModel } from '@carboncp/models';
import { isCarboncpError } from '@carboncp/protocol';
import { startServer, type CarboncpServer } from '@carboncp/server';
import * as ort from 'onnxruntime-node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TcpProxy, maxAbsDiffAll, modelNameOf, referenceRunner } from './split-harness.js';

const MODEL = 'ppocr-cls';
const TOL = 1e-4;
const { inputShapes } = getZooModel(MODEL);
let file: string;
let reference: Awaited<ReturnType<typeof referenceRunner>>;
const cleanup: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  file = await ensureModel(MODEL);
  reference = await referenceRunner(file);
});
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
});
afterAll(async () => {
  await reference?.release();
});

async function serve(port = 0, models = [file]): Promise<CarboncpServer> {
  const inputShapes = Object.fromEntries(models.map((m) => [modelNameOf(m), shapesFor(m)]));
  const server = await startServer({ models, inputShapes, host: '127.0.0.1', port, executionProviders: ['cpu'], log: () => {} });
  cleanup.push(() => server.close({ drainMs: 0 }));
  return server;
}

// The digest test serves the recogniser under another name; both take 3-channel 48-high images.
const shapesFor = (model: string) => (model === file ? inputShapes : getZooModel('ppocr-rec').inputShapes);

async function connect(url: string, extra: Partial<Parameters<typeof createClient>[0]> = {}): Promise<CarboncpClient> {
  const client = await createClient({ model: file, server: url, inputShapes, reconnect: { initialMs: 20, maxMs: 200, seed: 3 }, ...extra });
  cleanup.push(() => client.close());
  return client;
}

const middle = (client: CarboncpClient) => {
  const splits = client.plans.filter((p) => p.kind === 'split');
  return splits[Math.floor(splits.length / 2)].id;
};

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => undefined, (error: unknown) => error);
}

describe('bad input at the client API', () => {
  it('is refused with a clear error before any byte is sent', async () => {
    const server = await serve();
    const proxy = await TcpProxy.start(server.port);
    cleanup.push(() => proxy.kill());
    const client = await connect(`ws://127.0.0.1:${proxy.port}`);
    await client.ready(10_000);
    // The ping sent on connecting (its pong sets lastServerContext): bytes, but no request.
    await vi.waitFor(() => expect(client.lastServerContext).toBeDefined());
    // The ping sent on connecting (its pong sets lastServerContext): bytes, but no tensor.
    await vi.waitFor(() => expect(client.lastServerContext).toBeDefined());
    const sentAfterHello = proxy.bytesUp;
    const feeds = seededInputs(client.partition.model, inputShapes, 1);

    const unknown = await errorOf(client.infer(feeds, { cut: 'split-100000' }));
    expect(isCarboncpError(unknown, 'CARBONCP_UNKNOWN_PLAN')).toBe(true);
    expect((unknown as Error).message).toMatch(/no plan 'split-100000'.*valid cuts: server, split-1/);

    const wrongShape = await errorOf(client.infer({ x: new ort.Tensor('float32', new Float32Array(3 * 48 * 100), [1, 3, 48, 100]) }, { cut: 'server' }));
    expect(isCarboncpError(wrongShape, 'CARBONCP_BAD_TENSOR')).toBe(true);
    const wrongRank = await errorOf(client.infer({ x: new ort.Tensor('float32', new Float32Array(3 * 48 * 192), [3, 48, 192]) }));
    expect((wrongRank as Error).message).toMatch(/model 'ch_ppocr_mobile_v2.0_cls_infer': input 'x' has shape \[3, 48, 192\] \(rank 3\), expected .* \(rank 4\)/);
    const wrongType = await errorOf(client.infer({ x: new ort.Tensor('int32', new Int32Array(3 * 48 * 192), [1, 3, 48, 192]) }));
    expect((wrongType as Error).message).toMatch(/input 'x' has datatype INT32, expected FP32/);
    const missing = await errorOf(client.infer({} as Record<string, ort.Tensor>));
    expect((missing as Error).message).toMatch(/missing input 'x'/);
    const notTensor = await errorOf(client.infer({ x: new Float32Array(4) as unknown as ort.Tensor }));
    expect(isCarboncpError(notTensor, 'CARBONCP_BAD_TENSOR')).toBe(true);

    expect(proxy.bytesUp).toBe(sentAfterHello);
    expect(client.stats().requests).toBe(0);
  });
});

describe('a server that dies mid-request', () => {
  it('costs no request: each resolves once, locally, then the client reconnects on the same port', async () => {
    const first = await serve();
    const proxy = await TcpProxy.start(first.port);
    const port = proxy.port;
    const client = await connect(`ws://127.0.0.1:${port}`);
    await client.ready(10_000);
    const cut = middle(client);

    const warm = seededInputs(client.partition.model, inputShapes, 7);
    expect((await client.infer(warm, { cut })).telemetry.path).toBe('split');

    // Hold the server's answers so every request below is in flight, then cut everything.
    proxy.hold();
    const inputs = Array.from({ length: 16 }, (_, i) => seededInputs(client.partition.model, inputShapes, 500 + i));
    const resolutions = new Array<number>(inputs.length).fill(0);
    const pending = inputs.map((feeds, i) =>
      client.infer(feeds, { cut: i % 2 ? cut : 'server' }).then((result) => {
        resolutions[i] += 1;
        return result;
      }),
    );
    await vi.waitFor(() => expect(proxy.bytesHeld, 'the server to answer while held').toBeGreaterThan(0), { timeout: 10_000 });
    await proxy.kill();
    await first.close({ drainMs: 0 });
    const results: InferResult<ort.Tensor>[] = await Promise.all(pending);

    expect(resolutions).toEqual(inputs.map(() => 1));
    for (const [i, { outputs, telemetry }] of results.entries()) {
      expect(telemetry.path).toBe('local-fallback');
      expect(telemetry.error?.code).toBe('CARBONCP_CONNECTION_LOST');
      expect(telemetry.tailLocalMs).toBeGreaterThan(0);
      expect(maxAbsDiffAll(outputs, await reference.run(inputs[i]))).toBeLessThanOrEqual(TOL);
    }
    // Down: requests keep working locally.
    const offline = await client.infer(warm, { cut });
    expect(offline.telemetry.path).toBe('local-fallback');

    await serve(port);
    await client.ready(10_000);
    const back = await client.infer(warm, { cut });
    expect(back.telemetry).toMatchObject({ path: 'split' });
    expect(back.telemetry.error).toBeUndefined();
    expect(maxAbsDiffAll(back.outputs, await reference.run(warm))).toBeLessThanOrEqual(TOL);
    // A ping round trip on the new connection: any answer the server sent before its pong (a late
    // one would count in lateResponses) has been read by the time the pong is.
    await client.serverContext();
    expect(client.stats()).toMatchObject({ requests: 19, split: 2, localFallback: 17, disconnects: 1, connects: 2, lateResponses: 0 });
  });

  it('resolves every request once when the server shuts down while they run', async () => {
    const server = await serve();
    const client = await connect(server.url);
    await client.ready(10_000);
    const cut = middle(client);
    const inputs = Array.from({ length: 24 }, (_, i) => seededInputs(client.partition.model, inputShapes, 900 + i));
    let resolutions = 0;
    const pending = inputs.map((feeds, i) => client.infer(feeds, { cut: i % 3 ? cut : 'server' }).then((r) => ((resolutions += 1), r)));
    await Promise.race(pending);
    await server.close({ drainMs: 0 });
    const results = await Promise.all(pending);
    expect(resolutions).toBe(inputs.length);
    for (const [i, { outputs, telemetry }] of results.entries()) {
      expect(['split', 'remote', 'local-fallback']).toContain(telemetry.path);
      if (telemetry.path === 'local-fallback') expect(telemetry.error?.code).toMatch(/^CARBONCP_/);
      expect(maxAbsDiffAll(outputs, await reference.run(inputs[i]))).toBeLessThanOrEqual(TOL);
    }
  });
});

describe('a server whose answers stop arriving (the socket stays open)', () => {
  it('is taken for dead by the keepalive: requests in flight run locally, each once, then the client reconnects', async () => {
    const server = await serve();
    const proxy = await TcpProxy.start(server.port);
    cleanup.push(() => proxy.kill());
    const client = await connect(`ws://127.0.0.1:${proxy.port}`, { keepaliveMs: 300, keepaliveTimeoutMs: 300, timeoutMs: 60_000, handshakeTimeoutMs: 1_000 });
    await client.ready(10_000);
    const cut = middle(client);
    const warm = seededInputs(client.partition.model, inputShapes, 31);
    expect((await client.infer(warm, { cut })).telemetry.path).toBe('split');

    // Nothing the server sends reaches the device from here on, and nothing closes the socket:
    // only the keepalive can tell (the request timeout is a minute away).
    proxy.hold();
    const inputs = Array.from({ length: 8 }, (_, i) => seededInputs(client.partition.model, inputShapes, 700 + i));
    const resolutions = new Array<number>(inputs.length).fill(0);
    const pending = inputs.map((feeds, i) =>
      client.infer(feeds, { cut: i % 2 ? cut : 'server' }).then((result) => {
        resolutions[i] += 1;
        return result;
      }),
    );
    const results: InferResult<ort.Tensor>[] = await Promise.all(pending);
    proxy.release();
    expect(resolutions).toEqual(inputs.map(() => 1));
    for (const [i, { outputs, telemetry }] of results.entries()) {
      expect(telemetry.path).toBe('local-fallback');
      expect(telemetry.error?.code).toBe('CARBONCP_CONNECTION_LOST');
      expect(telemetry.error?.message).toMatch(/did not answer a keepalive ping within 300 ms/);
      expect(maxAbsDiffAll(outputs, await reference.run(inputs[i]))).toBeLessThanOrEqual(TOL);
    }
    expect(proxy.bytesHeld).toBeGreaterThan(0);

    await vi.waitFor(() => expect({ connects: client.stats().connects >= 2, state: client.state }, 'the client to reconnect').toEqual({ connects: true, state: 'open' }), {
      timeout: 10_000,
    });
    const back = await client.infer(warm, { cut });
    expect(back.telemetry.path).toBe('split');
    expect(maxAbsDiffAll(back.outputs, await reference.run(warm))).toBeLessThanOrEqual(TOL);
    expect(client.stats()).toMatchObject({ requests: 10, split: 2, localFallback: 8, timeouts: 0, lateResponses: 0 });
    expect(client.stats().disconnects).toBeGreaterThanOrEqual(1);
  });
});

describe('a server with different model bytes under the same name', () => {
  it('is never sent a tensor: the plans run locally with CARBONCP_DIGEST_MISMATCH', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'carboncp-digest-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    // The server's 'ppocr' is the recogniser; the device's 'ppocr' is the classifier.
    const served = join(dir, 'ppocr.onnx');
    await copyFile(await ensureModel('ppocr-rec'), served);
    const server = await serve(0, [served]);
    const proxy = await TcpProxy.start(server.port);
    cleanup.push(() => proxy.kill());
    const client = await connect(`ws://127.0.0.1:${proxy.port}`, { modelName: 'ppocr' });
    await client.ready(10_000);
    // The ping sent on connecting (its pong sets lastServerContext): bytes, but no tensor.
    await vi.waitFor(() => expect(client.lastServerContext).toBeDefined());
    const sentAfterHello = proxy.bytesUp;
    const feeds = seededInputs(client.partition.model, inputShapes, 21);
    for (const cut of ['server', middle(client)]) {
      const { outputs, telemetry } = await client.infer(feeds, { cut });
      expect(telemetry).toMatchObject({ path: 'local-fallback', error: { code: 'CARBONCP_DIGEST_MISMATCH' } });
      expect(maxAbsDiffAll(outputs, await reference.run(feeds))).toBeLessThanOrEqual(TOL);
    }
    expect(proxy.bytesUp).toBe(sentAfterHello);
    expect(client.remoteStatus('server')).toMatchObject({ usable: false, error: { code: 'CARBONCP_DIGEST_MISMATCH' } });
  });
});

describe('a server restarted on the same port with other model bytes', () => {
  it('is trusted no longer after the reconnect: the plans run locally with CARBONCP_DIGEST_MISMATCH', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'carboncp-restart-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await Promise.all([join(dir, 'a'), join(dir, 'b')].map((d) => mkdir(d)));
    // Both servers serve a model named 'ppocr': first the classifier the device holds, then the recogniser.
    const same = join(dir, 'a', 'ppocr.onnx');
    const other = join(dir, 'b', 'ppocr.onnx');
    await copyFile(file, same);
    await copyFile(await ensureModel('ppocr-rec'), other);
    const first = await startServer({ models: [same], inputShapes: { ppocr: inputShapes }, port: 0, executionProviders: ['cpu'], log: () => {} });
    cleanup.push(() => first.close({ drainMs: 0 }));
    const port = first.port;
    const proxy = await TcpProxy.start(port);
    cleanup.push(() => proxy.kill());
    const client = await connect(`ws://127.0.0.1:${proxy.port}`, { modelName: 'ppocr' });
    await client.ready(10_000);
    const cut = middle(client);
    const feeds = seededInputs(client.partition.model, inputShapes, 41);
    expect((await client.infer(feeds, { cut })).telemetry.path).toBe('split');
    // The server answers in order: the opening ping's pong came before that response.
    const contextBefore = client.lastServerContext;

    await first.close({ drainMs: 0 });
    await serve(port, [other]);
    await vi.waitFor(() => expect({ connects: client.stats().connects >= 2, state: client.state }, 'the client to reconnect').toEqual({ connects: true, state: 'open' }), {
      timeout: 10_000,
    });
    // The reconnected connection's opening ping, answered: a new context object.
    await vi.waitFor(() => expect(client.lastServerContext).not.toBe(contextBefore));
    const sentAfterHello = proxy.bytesUp;
    for (const plan of ['server', cut]) {
      const { outputs, telemetry } = await client.infer(feeds, { cut: plan });
      expect(telemetry).toMatchObject({ path: 'local-fallback', error: { code: 'CARBONCP_DIGEST_MISMATCH' } });
      expect(maxAbsDiffAll(outputs, await reference.run(feeds))).toBeLessThanOrEqual(TOL);
    }
    expect(proxy.bytesUp).toBe(sentAfterHello);
    expect(client.remoteStatus(cut)).toMatchObject({ usable: false, error: { code: 'CARBONCP_DIGEST_MISMATCH' } });
  });
});
