import { isCarboncpError } from '@carboncp/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeRuntime, FakeServer, fakeModel, seededFloats, type FakeTensor } from './fake-platform.test-support.js';
import { SplitClient } from './split-client.js';

// Fake timers throughout: the fake server answers on timers, so time only moves when a test says so.
const open: SplitClient<FakeTensor>[] = [];
beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2030-01-02T03:04:05Z'));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
  vi.useRealTimers();
});

async function setup(options: { refuse?: 'down' } = {}) {
  const model = fakeModel();
  const server = new FakeServer(model);
  server.refuse = options.refuse;
  const opening = SplitClient.open({
    model,
    runtime: new FakeRuntime(),
    transport: server,
    server: 'ws://fake',
    keepaliveMs: 0,
    reconnect: { initialMs: 5, maxMs: 20, seed: 1 },
  });
  await vi.advanceTimersByTimeAsync(1);
  const client = await opening;
  open.push(client);
  return { model, server, client };
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => undefined, (error: unknown) => error);
}

describe('SplitClient.serverContext', () => {
  it("returns the server's pong as a ServerContext, with this model's tail latencies by plan id", async () => {
    const { server, client } = await setup();
    expect(client.state).toBe('open');
    expect(client.lastServerContext).toBeUndefined();
    server.pongDelayMs = () => 7;
    server.pongContext = () => ({
      queue_depth: 3,
      in_flight: 2,
      // The server's keys: 'model/plan', plus bare plan ids when it serves one model.
      tail_ms: { 'fake/split-1': 4.5, 'split-1': 4.5, 'fake/server': 9.25, 'other/split-1': 99, 'other/device': 1 },
      carbon_intensity: { value_g_per_kwh: 123, source: 'test' },
    });
    const asked = client.serverContext();
    await vi.advanceTimersByTimeAsync(7);
    const context = await asked;
    expect(context).toEqual({
      queueDepth: 3,
      inFlight: 2,
      tailMs: { 'split-1': 4.5, server: 9.25 },
      carbonIntensity: { valueGPerKwh: 123, source: 'test' },
      rttMs: 7,
      receivedAt: Date.parse('2030-01-02T03:04:05Z') + 1 + 7,
    });
    expect(client.lastServerContext).toEqual(context);
    expect(server.pings).toHaveLength(1);
    expect(server.pings[0].requestId).toBeGreaterThan(0);
    expect(client.state).toBe('open');
  });

  it('uses bare plan ids only when no key names a model, and leaves out carbon intensity the server lacks', async () => {
    const { server, client } = await setup();
    server.pongContext = () => ({ queue_depth: 0, in_flight: 0, tail_ms: { 'split-1': 2, 'split-9': 5 } });
    const asked = client.serverContext();
    await vi.advanceTimersByTimeAsync(1);
    const context = await asked;
    expect(context.tailMs).toEqual({ 'split-1': 2 });
    expect('carbonIntensity' in context).toBe(false);
  });

  it('matches pongs sent with request id 0 to their pings by the echoed t, whatever the order', async () => {
    const { server, client } = await setup();
    server.pongRequestId = 'zero';
    // The first ping is answered last; each answer carries its ping's number as queue depth.
    server.pongDelayMs = (n) => (n === 1 ? 20 : 5);
    server.pongContext = (n) => ({ queue_depth: n, in_flight: 0, tail_ms: {} });
    const first = client.serverContext();
    const second = client.serverContext();
    await vi.advanceTimersByTimeAsync(20);
    expect(await first).toMatchObject({ queueDepth: 1, rttMs: 20 });
    expect(await second).toMatchObject({ queueDepth: 2, rttMs: 5 });
    expect(server.pings[0].t).not.toBe(server.pings[1].t);
    // The latest to arrive is kept.
    expect(client.lastServerContext?.queueDepth).toBe(1);
  });

  it('rejects with CARBONCP_TIMEOUT when no pong comes, and the connection stays usable', async () => {
    const { server, client } = await setup();
    server.pong = 'silent';
    const asked = errorOf(client.serverContext({ timeoutMs: 50 }));
    await vi.advanceTimersByTimeAsync(50);
    const error = await asked;
    expect(isCarboncpError(error, 'CARBONCP_TIMEOUT')).toBe(true);
    expect((error as Error).message).toMatch(/ping \d+ got no response within 50 ms/);
    expect(client.state).toBe('open');
    expect(client.lastServerContext).toBeUndefined();

    server.pong = 'answer';
    const again = client.serverContext({ timeoutMs: 50 });
    await vi.advanceTimersByTimeAsync(1);
    expect((await again).queueDepth).toBe(0);
    expect(client.stats().disconnects).toBe(0);
  });

  it('rejects with CARBONCP_CONNECTION_LOST when not connected, or when the connection drops first', async () => {
    const down = await setup({ refuse: 'down' });
    const offline = await errorOf(down.client.serverContext());
    expect(isCarboncpError(offline, 'CARBONCP_CONNECTION_LOST')).toBe(true);
    expect((offline as Error).message).toMatch(/cannot ping ws:\/\/fake: not connected \(CARBONCP_CONNECTION_LOST: connect ECONNREFUSED/);
    expect(down.server.pings).toHaveLength(0);

    const { server, client } = await setup();
    server.pong = 'silent';
    const asked = errorOf(client.serverContext({ timeoutMs: 10_000 }));
    await vi.advanceTimersByTimeAsync(1);
    server.dropAll();
    await vi.advanceTimersByTimeAsync(1);
    const dropped = await asked;
    expect(isCarboncpError(dropped, 'CARBONCP_CONNECTION_LOST')).toBe(true);
    expect((dropped as Error).message).toMatch(/closed \(1006\)/);
  });

  it('rejects with CARBONCP_SHUTTING_DOWN once the client is closed, and refuses a bad timeout', async () => {
    const { server, client } = await setup();
    const bad = await errorOf(client.serverContext({ timeoutMs: -1 }));
    expect(isCarboncpError(bad, 'CARBONCP_INVALID_ARGUMENT')).toBe(true);
    server.pong = 'silent';
    const inFlight = errorOf(client.serverContext());
    await vi.advanceTimersByTimeAsync(1);
    await client.close();
    expect(isCarboncpError(await inFlight, 'CARBONCP_SHUTTING_DOWN')).toBe(true);
    expect(isCarboncpError(await errorOf(client.serverContext()), 'CARBONCP_SHUTTING_DOWN')).toBe(true);
  });

  it('does not disturb requests in flight on the same connection', async () => {
    const { model, server, client } = await setup();
    const x: FakeTensor = { type: 'float32', dims: [1, 4], data: seededFloats(31, 4) };
    const result = client.infer({ x }, { cut: 'split-1' });
    const context = client.serverContext();
    await vi.advanceTimersByTimeAsync(1);
    const { outputs, telemetry } = await result;
    expect(telemetry.path).toBe('split');
    const expected = model.local(x.data as Float32Array);
    (outputs.y.data as Float32Array).forEach((v, i) => expect(Math.abs(v - expected[i])).toBeLessThanOrEqual(1e-5));
    expect((await context).queueDepth).toBe(0);
    expect(server.requests).toHaveLength(1);
    expect(client.stats().lateResponses).toBe(0);
  });
});
