import { isCarboncpError } from '@carboncp/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeRuntime, FakeServer, fakeModel, seededFloats, type FakeTensor } from './fake-platform.test-support.js';
import { SplitClient } from './split-client.js';

// Fake timers: keepalive is all about time passing, and fake time passes only when told to.
const open: SplitClient<FakeTensor>[] = [];
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
  vi.useRealTimers();
});

const KEEPALIVE_MS = 100;
const KEEPALIVE_TIMEOUT_MS = 50;

async function setup(options: { keepaliveMs?: number } = {}) {
  const model = fakeModel();
  const server = new FakeServer(model);
  const opening = SplitClient.open({
    model,
    runtime: new FakeRuntime(),
    transport: server,
    server: 'ws://fake',
    timeoutMs: 10_000,
    keepaliveMs: options.keepaliveMs ?? KEEPALIVE_MS,
    keepaliveTimeoutMs: KEEPALIVE_TIMEOUT_MS,
    reconnect: { initialMs: 5, maxMs: 20, seed: 1 },
  });
  await vi.advanceTimersByTimeAsync(1);
  const client = await opening;
  expect(client.state).toBe('open');
  open.push(client);
  // The ping sent as the connection opened (tested below): the tests here count the keepalive's.
  expect(server.pings).toHaveLength((options.keepaliveMs ?? KEEPALIVE_MS) > 0 ? 1 : 0);
  server.pings.length = 0;
  return { model, server, client };
}

const input = (seed: number, batch = 1): FakeTensor => ({ type: 'float32', dims: [batch, 4], data: seededFloats(seed, batch * 4) });

function expectClose(actual: FakeTensor, expected: Float32Array, tol = 1e-5) {
  const data = actual.data as Float32Array;
  expect(data.length).toBe(expected.length);
  for (let i = 0; i < data.length; i++) expect(Math.abs(data[i] - expected[i])).toBeLessThanOrEqual(tol);
}

describe('keepalive', () => {
  it('takes a silent server for dead: requests in flight run locally, each once, then the client reconnects', async () => {
    const { model, server, client } = await setup();
    server.behaviour = { kind: 'silent' };
    server.pong = 'silent';
    const inputs = Array.from({ length: 6 }, (_, i) => input(40 + i, 1 + (i % 2)));
    const resolutions = inputs.map(() => 0);
    const pending = inputs.map((x, i) =>
      client.infer({ x }, { cut: i % 2 ? 'split-1' : 'server' }).then((result) => {
        resolutions[i] += 1;
        return result;
      }),
    );
    // Idle for keepaliveMs since the hello: one ping; unanswered for keepaliveTimeoutMs: dead.
    await vi.advanceTimersByTimeAsync(KEEPALIVE_MS + KEEPALIVE_TIMEOUT_MS - 10);
    expect(server.requests).toHaveLength(6);
    expect(server.pings).toHaveLength(1);
    expect(resolutions).toEqual([0, 0, 0, 0, 0, 0]);
    expect(client.state).toBe('open');

    server.behaviour = { kind: 'answer' };
    server.pong = 'answer';
    await vi.advanceTimersByTimeAsync(10);
    expect(client.state).toBe('connecting');
    expect(server.terminations).toBe(1);
    const results = await Promise.all(pending);
    expect(resolutions).toEqual([1, 1, 1, 1, 1, 1]);
    results.forEach(({ outputs, telemetry }, i) => {
      expect(telemetry.path).toBe('local-fallback');
      expect(telemetry.error?.code).toBe('CARBONCP_CONNECTION_LOST');
      expect(telemetry.error?.message).toMatch(/did not answer a keepalive ping within 50 ms \(CARBONCP_TIMEOUT\)/);
      expectClose(outputs.y, model.local(inputs[i].data as Float32Array));
    });

    // Reconnect with the backoff (5..20 ms here), then the server is used again.
    await vi.advanceTimersByTimeAsync(25);
    expect(client.state).toBe('open');
    const after = client.infer({ x: inputs[0] }, { cut: 'split-1' });
    await vi.advanceTimersByTimeAsync(1);
    expect((await after).telemetry.path).toBe('split');
    expect(client.stats()).toMatchObject({ connects: 2, disconnects: 1, localFallback: 6, split: 1, lateResponses: 0 });
  });

  it('pings an idle server that answers, keeps the connection, and records its context', async () => {
    const { server, client } = await setup();
    server.pongContext = (n) => ({ queue_depth: n, in_flight: 0, tail_ms: {}, carbon_intensity: { value_g_per_kwh: 50, source: 'fake' } });
    await vi.advanceTimersByTimeAsync(10 * KEEPALIVE_MS + 5);
    // A ping once keepaliveMs passed without a frame (the pong itself is a frame, and the fake
    // delivers it a tick after the ping): `t` is the ping's send time.
    expect(server.pings.length).toBeGreaterThanOrEqual(9);
    const gaps = server.pings.slice(1).map((ping, i) => ping.t - server.pings[i].t);
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(KEEPALIVE_MS);
      expect(gap).toBeLessThanOrEqual(KEEPALIVE_MS + 2);
    }
    expect(client.state).toBe('open');
    expect(client.stats()).toMatchObject({ connects: 1, disconnects: 0 });
    expect(client.lastServerContext).toMatchObject({ queueDepth: server.pings.length, carbonIntensity: { valueGPerKwh: 50, source: 'fake' } });
  });

  it('pings once as the connection opens, so that the RTT and the server context are known before any request', async () => {
    const model = fakeModel();
    const server = new FakeServer(model);
    server.pongContext = () => ({ queue_depth: 3, in_flight: 0, tail_ms: {}, carbon_intensity: { value_g_per_kwh: 120, source: 'fake' } });
    const opening = SplitClient.open({ model, runtime: new FakeRuntime(), transport: server, server: 'ws://fake', keepaliveMs: KEEPALIVE_MS, keepaliveTimeoutMs: KEEPALIVE_TIMEOUT_MS });
    await vi.advanceTimersByTimeAsync(1);
    const client = await opening;
    open.push(client);
    await vi.advanceTimersByTimeAsync(1);
    expect(server.pings).toHaveLength(1);
    expect(client.lastServerContext).toMatchObject({ queueDepth: 3, carbonIntensity: { valueGPerKwh: 120 } });
    expect(client.networkEstimate()?.rttMs.n).toBe(1);
    // Its pong is a frame: the keepalive's next ping comes keepaliveMs after it, not before.
    await vi.advanceTimersByTimeAsync(KEEPALIVE_MS - 5);
    expect(server.pings).toHaveLength(1);
  });

  it('does not ping a connection that keeps receiving frames', async () => {
    const { server, client } = await setup();
    for (let i = 0; i < 20; i++) {
      const result = client.infer({ x: input(60 + i) }, { cut: 'split-1' });
      await vi.advanceTimersByTimeAsync(KEEPALIVE_MS / 2);
      expect((await result).telemetry.path).toBe('split');
    }
    expect(server.pings).toHaveLength(0);
  });

  it('is off with keepaliveMs 0: a silent server is never pinged, and an idle client holds no timer', async () => {
    const { server, client } = await setup({ keepaliveMs: 0 });
    server.pong = 'silent';
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(server.pings).toHaveLength(0);
    expect(client.state).toBe('open');
    expect(client.stats().disconnects).toBe(0);
  });

  it('leaves no timer behind after close(), with a keepalive ping and a request in flight', async () => {
    const { model, server, client } = await setup();
    server.behaviour = { kind: 'silent' };
    server.pong = 'silent';
    const x = input(77);
    const request = client.infer({ x }, { cut: 'split-1' });
    await vi.advanceTimersByTimeAsync(KEEPALIVE_MS + 1);
    expect(server.pings).toHaveLength(1);
    expect(vi.getTimerCount()).toBeGreaterThan(0);
    await client.close();
    const { outputs, telemetry } = await request;
    expect(telemetry.error?.code).toBe('CARBONCP_SHUTTING_DOWN');
    expectClose(outputs.y, model.local(x.data as Float32Array));
    await vi.advanceTimersByTimeAsync(1); // the fake socket's own close event
    expect(vi.getTimerCount()).toBe(0);
    expect(client.state).toBe('closed');
  });

  it('leaves no timer behind after close() of an idle client waiting for its next keepalive', async () => {
    const { server, client } = await setup();
    await vi.advanceTimersByTimeAsync(KEEPALIVE_MS + 5);
    expect(server.pings).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(1);
    await client.close();
    await vi.advanceTimersByTimeAsync(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("unrefs its timers, so a client never keeps a Node process alive", async () => {
    const created: { delay: number | undefined; timer: { hasRef(): boolean } }[] = [];
    const fakeSetTimeout = globalThis.setTimeout;
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, delay?: number) => {
      const timer = fakeSetTimeout(fn, delay);
      created.push({ delay, timer: timer as unknown as { hasRef(): boolean } });
      return timer;
    }) as typeof setTimeout);
    const { server } = await setup();
    server.pong = 'silent';
    await vi.advanceTimersByTimeAsync(KEEPALIVE_MS + 1);
    expect(server.pings).toHaveLength(1);
    const keepalive = created.filter((c) => c.delay === KEEPALIVE_MS);
    const pingTimeout = created.filter((c) => c.delay === KEEPALIVE_TIMEOUT_MS);
    expect(keepalive.length).toBeGreaterThan(0);
    // The opening ping's timeout and the keepalive ping's.
    expect(pingTimeout).toHaveLength(2);
    for (const { timer } of [...keepalive, ...pingTimeout]) expect(timer.hasRef()).toBe(false);
    vi.mocked(globalThis.setTimeout).mockRestore();
  });

  it('refuses a bad keepalive option', async () => {
    const model = fakeModel();
    for (const [keepaliveMs, keepaliveTimeoutMs, pattern] of [
      [-1, undefined, /keepaliveMs must be 0 \(off\) or a positive number/],
      [Number.NaN, undefined, /keepaliveMs/],
      [1000, 0, /keepaliveTimeoutMs must be a positive number/],
    ] as const) {
      const error = await SplitClient.open({
        model,
        runtime: new FakeRuntime(),
        transport: new FakeServer(model),
        server: 'ws://fake',
        keepaliveMs,
        ...(keepaliveTimeoutMs === undefined ? {} : { keepaliveTimeoutMs }),
      }).then(() => undefined, (e: unknown) => e);
      expect(isCarboncpError(error, 'CARBONCP_INVALID_ARGUMENT')).toBe(true);
      expect((error as Error).message).toMatch(pattern);
    }
  });
});
