// client.serverContext() against a real server over ws: the server's queue, the tail latency of
// a plan the client just used, the carbon intensity the server was started with, and the
// device-measured round trip, as a typed ServerContext.
import { seededInputs } from '@carboncp/core/node';
import { describe, expect, it } from 'vitest';
import { useServedModel } from './split-harness.js';

const harness = useServedModel('ppocr-cls');
const { inputShapes } = harness;
const serve = () => harness.serve({ carbonIntensity: { value_g_per_kwh: 123, source: 'test' } });
const connect = (url: string) => harness.connect(url);

describe('client.serverContext() against a real server', () => {
  it('reports queue depth, the tail latency of a plan just used, carbon intensity and the round trip', async () => {
    const server = await serve();
    const client = await connect(server.url);
    await client.ready(10_000);
    const splits = client.plans.filter((p) => p.kind === 'split');
    const cut = splits[Math.floor(splits.length / 2)].id;

    const before = await client.serverContext();
    expect(before.tailMs).toEqual({});
    expect(before.carbonIntensity).toEqual({ valueGPerKwh: 123, source: 'test' });

    const feeds = seededInputs(client.partition.model, inputShapes, 17);
    expect((await client.infer(feeds, { cut })).telemetry.path).toBe('split');
    expect((await client.infer(feeds, { cut: 'server' })).telemetry.path).toBe('remote');

    const idle = await client.serverContext({ timeoutMs: 10_000 });
    expect(idle).toMatchObject({ queueDepth: 0, inFlight: 0, carbonIntensity: { valueGPerKwh: 123, source: 'test' } });
    // Exactly the two plans used, keyed by plan id; the server's p50 of their tail runs.
    expect(Object.keys(idle.tailMs).sort()).toEqual([cut, 'server'].sort());
    expect(idle.tailMs[cut]).toBeGreaterThan(0);
    expect(idle.tailMs.server).toBeGreaterThan(0);
    expect(idle.rttMs).toBeGreaterThan(0);
    expect(Math.abs(idle.receivedAt - Date.now())).toBeLessThan(60_000);
    expect(client.lastServerContext).toEqual(idle);

    // A ping sent right behind 32 requests reaches the server after them, while they still wait
    // or run (each needs a whole-model run; reading them takes a fraction of that).
    const burst = Array.from({ length: 32 }, (_, i) => client.infer(seededInputs(client.partition.model, inputShapes, 100 + i), { cut: 'server' }));
    const loaded = await client.serverContext({ timeoutMs: 10_000 });
    expect(loaded.queueDepth + loaded.inFlight).toBeGreaterThanOrEqual(1);
    expect(loaded.queueDepth).toBeLessThanOrEqual(32);
    const results = await Promise.all(burst);
    expect(results.every((r) => r.telemetry.path === 'remote')).toBe(true);
    expect(await client.serverContext()).toMatchObject({ queueDepth: 0, inFlight: 0 });
  });
});
