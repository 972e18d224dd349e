import { isCarboncpError } from '@carboncp/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeRuntime, FakeServer, fakeModel, seededFloats, type FakeTensor } from './fake-platform.test-support.js';
import { SplitClient } from './split-client.js';

const open: SplitClient<FakeTensor>[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function setup(options: { timeoutMs?: number; refuse?: 'down' | 'unauthorized' } = {}) {
  const model = fakeModel();
  const server = new FakeServer(model);
  server.refuse = options.refuse;
  const client = await SplitClient.open({
    model,
    runtime: new FakeRuntime(),
    transport: server,
    server: 'ws://fake',
    timeoutMs: options.timeoutMs ?? 2_000,
    reconnect: { initialMs: 5, maxMs: 20, seed: 1 },
  });
  open.push(client);
  return { model, server, client };
}

const input = (seed: number, batch = 2): FakeTensor => ({ type: 'float32', dims: [batch, 4], data: seededFloats(seed, batch * 4) });

function expectClose(actual: FakeTensor, expected: Float32Array, tol = 1e-5) {
  const data = actual.data as Float32Array;
  expect(data.length).toBe(expected.length);
  for (let i = 0; i < data.length; i++) expect(Math.abs(data[i] - expected[i])).toBeLessThanOrEqual(tol);
}

describe('SplitClient over a fake server', () => {
  it('runs each kind of plan and reports the path it took', async () => {
    const { model, server, client } = await setup();
    const x = input(11);
    const expected = model.local(x.data as Float32Array);
    for (const [cut, path] of [['split-1', 'split'], ['server', 'remote'], ['device', 'local']] as const) {
      const { outputs, telemetry } = await client.infer({ x }, { cut });
      expectClose(outputs.y, expected);
      expect(telemetry.path).toBe(path);
      expect(telemetry.planId).toBe(cut);
      expect(telemetry.error).toBeUndefined();
      if (cut === 'device') expect(telemetry.bytesUp).toBe(0);
      else {
        expect(telemetry.bytesUp).toBeGreaterThan(32);
        expect(telemetry.bytesDown).toBeGreaterThan(32);
        expect(telemetry.serverMs).toBeCloseTo(0.5, 6);
      }
    }
    expect(server.requests.map((r) => r.plan_id)).toEqual(['split-1', 'server']);
    expect(server.requests[0].plan_digest).toBe(model.plans[1].digest);
  });

  it('rejects an unknown cut and bad inputs before anything is sent', async () => {
    const { server, client } = await setup();
    const bad = async (promise: Promise<unknown>, code: string, pattern: RegExp) => {
      const error = await promise.then(() => undefined, (e: unknown) => e);
      expect(isCarboncpError(error, code)).toBe(true);
      expect((error as Error).message).toMatch(pattern);
    };
    await bad(client.infer({ x: input(1) }, { cut: 'split-99' }), 'CARBONCP_UNKNOWN_PLAN', /split-99.*valid cuts: server, split-1, device/);
    await bad(client.infer({ x: { type: 'float32', dims: [2, 5], data: new Float32Array(10) } }), 'CARBONCP_BAD_TENSOR', /shape \[N, 4\].*\[2, 5\]/);
    await bad(client.infer({ x: { type: 'int64', dims: [1, 4], data: new BigInt64Array(4) } }), 'CARBONCP_BAD_TENSOR', /must be FP32, got INT64/);
    await bad(client.infer({ x: { type: 'float32', dims: [1, 4], data: new Float32Array(3) } }), 'CARBONCP_BAD_TENSOR', /4 elements\) but 3/);
    await bad(client.infer({}), 'CARBONCP_BAD_TENSOR', /missing input 'x'/);
    await bad(client.infer({ x: input(1), z: input(2) }), 'CARBONCP_BAD_TENSOR', /no input 'z'/);
    await bad(client.infer({ x: input(1) }, { compression: 'zip' as never }), 'CARBONCP_INVALID_ARGUMENT', /compression/);
    expect(server.requests).toHaveLength(0);
  });

  it('falls back to the local tail on a timeout and counts the late response', async () => {
    const { model, server, client } = await setup({ timeoutMs: 30 });
    server.behaviour = { kind: 'answer', delayMs: 120, scale: 100 };
    const x = input(5);
    const { outputs, telemetry } = await client.infer({ x }, { cut: 'split-1' });
    expect(telemetry.path).toBe('local-fallback');
    expect(telemetry.error?.code).toBe('CARBONCP_TIMEOUT');
    expect(telemetry.tailLocalMs).toBeGreaterThanOrEqual(0);
    // The server's (scaled, so distinguishable) late answer must not leak into the result.
    expectClose(outputs.y, model.local(x.data as Float32Array));
    await new Promise((r) => setTimeout(r, 150));
    expect(client.stats()).toMatchObject({ requests: 1, localFallback: 1, timeouts: 1, lateResponses: 1 });
  });

  it('falls back with the server error code', async () => {
    const { model, server, client } = await setup();
    server.behaviour = { kind: 'error', code: 'CARBONCP_BUSY' };
    const x = input(6);
    const { outputs, telemetry } = await client.infer({ x }, { cut: 'server' });
    expect(telemetry).toMatchObject({ path: 'local-fallback', error: { code: 'CARBONCP_BUSY' } });
    expectClose(outputs.y, model.local(x.data as Float32Array));
  });

  it('does not use a plan whose digest differs on the server, and says so', async () => {
    const { model, server, client } = await setup();
    server.ackModels = [{ name: 'fake', digest: model.digest, plans: [{ id: 'split-1', digest: 'f'.repeat(64) }, { id: 'server', digest: model.plans[0].digest }] }];
    server.dropAll();
    await new Promise((r) => setTimeout(r, 50));
    await client.ready(2_000);
    const x = input(8);
    const split = await client.infer({ x }, { cut: 'split-1' });
    expect(split.telemetry).toMatchObject({ path: 'local-fallback', error: { code: 'CARBONCP_DIGEST_MISMATCH' } });
    expectClose(split.outputs.y, model.local(x.data as Float32Array));
    expect((await client.infer({ x }, { cut: 'server' })).telemetry.path).toBe('remote');
    expect(server.requests.map((r) => r.plan_id)).toEqual(['server']);
    expect(client.remoteStatus('split-1').usable).toBe(false);
  });

  it('resolves every in-flight request exactly once when the connection drops, then reconnects', async () => {
    const { model, server, client } = await setup();
    server.behaviour = { kind: 'silent' };
    const inputs = Array.from({ length: 12 }, (_, i) => input(100 + i, 1 + (i % 3)));
    let resolutions = 0;
    const pending = inputs.map((x, i) =>
      client.infer({ x }, { cut: i % 2 ? 'split-1' : 'server' }).then((r) => {
        resolutions += 1;
        return r;
      }),
    );
    await new Promise((r) => setTimeout(r, 20));
    expect(server.requests).toHaveLength(12);
    server.dropAll();
    const results = await Promise.all(pending);
    expect(resolutions).toBe(12);
    results.forEach((result, i) => {
      expect(result.telemetry).toMatchObject({ path: 'local-fallback', error: { code: 'CARBONCP_CONNECTION_LOST' } });
      expectClose(result.outputs.y, model.local(inputs[i].data as Float32Array));
    });
    server.behaviour = { kind: 'answer' };
    await client.ready(2_000);
    const after = await client.infer({ x: inputs[0] }, { cut: 'split-1' });
    expect(after.telemetry.path).toBe('split');
    expect(client.stats()).toMatchObject({ connects: 2, disconnects: 1, localFallback: 12, split: 1 });
  });

  it('works offline when the server is down at start, and connects when it comes up', async () => {
    const { model, server, client } = await setup({ refuse: 'down' });
    expect(client.state).toBe('connecting');
    const x = input(9);
    const offline = await client.infer({ x }, { cut: 'split-1' });
    expect(offline.telemetry).toMatchObject({ path: 'local-fallback', error: { code: 'CARBONCP_NOT_READY' } });
    expectClose(offline.outputs.y, model.local(x.data as Float32Array));
    server.refuse = undefined;
    await client.ready(2_000);
    expect((await client.infer({ x }, { cut: 'split-1' })).telemetry.path).toBe('split');
  });

  it('refuses to start with a token the server rejects', async () => {
    const error = await setup({ refuse: 'unauthorized' }).then(() => undefined, (e: unknown) => e);
    expect(isCarboncpError(error, 'CARBONCP_UNAUTHORIZED')).toBe(true);
  });

  it('compresses FP32 crossing tensors on request', async () => {
    const { model, server, client } = await setup();
    const x = input(12, 4);
    const plain = await client.infer({ x }, { cut: 'split-1' });
    const half = await client.infer({ x }, { cut: 'split-1', compression: 'fp16' });
    const int8 = await client.infer({ x }, { cut: 'split-1', compression: 'int8' });
    expect(server.requests.map((r) => r.inputs[0].datatype)).toEqual(['FP32', 'FP16', 'UINT8']);
    expect(half.telemetry.bytesUp).toBeLessThan(plain.telemetry.bytesUp);
    expect(half.telemetry.compression).toBe('fp16');
    const expected = model.local(x.data as Float32Array);
    // fp16 keeps ~3 significant digits of |h| <= 2; int8 has 256 levels over the range of h.
    expectClose(half.outputs.y, expected, 3 * 2 * 2 ** -10);
    expectClose(int8.outputs.y, expected, 3 * (2 / 255));
  });
});
