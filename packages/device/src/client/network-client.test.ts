import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import type { CutContext } from './cut-policy.js';
import { FakeRuntime, FakeServer, seededFloats, type FakeTensor } from './fake-platform.test-support.js';
import type { NetworkEstimate } from './network-estimator.js';
import type { NetworkProbeOptions } from './network-probe.js';
import { SplitClient } from './split-client.js';
import type { ClientPlan, SplitModel } from './types.js';

const encoder = new TextEncoder();
const graph = (g: object) => encoder.encode(JSON.stringify(g));

/**
 * y = s * 3 with a large input x that only crosses: the request carries x and s up, the answer
 * only y, so bytes up dominate (the fake model's output is as large as its input).
 */
function uploadModel(): SplitModel<ClientPlan> {
  const full = graph({ inputs: ['x', 's'], outputs: ['y'], steps: [{ out: 'y', from: 's', op: 'mul', k: 3 }] });
  const plans: ClientPlan[] = [
    { id: 'server', kind: 'server', crossing: [{ name: 'x', source: 'input' }, { name: 's', source: 'input' }], headOutputs: [], tailOutputs: ['y'], digest: 'u-server' },
    { id: 'device', kind: 'device', crossing: [], headOutputs: ['y'], tailOutputs: [], digest: 'u-device' },
  ];
  return {
    name: 'upload',
    digest: 'u'.repeat(64),
    inputs: [
      { name: 'x', dtype: 'FP32', shape: ['N', 4] },
      { name: 's', dtype: 'FP32', shape: [1, 4] },
    ],
    outputs: [{ name: 'y', dtype: 'FP32', shape: [1, 4] }],
    plans,
    halves: (planId) => (planId === 'server' ? { head: null, tail: full } : { head: full, tail: null }),
  };
}

const open: SplitClient<FakeTensor>[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function setup(networkProbe?: NetworkProbeOptions) {
  const clock = new ManualClock();
  const model = uploadModel();
  const server = new FakeServer(model, clock);
  const seen: (NetworkEstimate | undefined)[] = [];
  const opening = SplitClient.open({
    model,
    runtime: new FakeRuntime(),
    transport: server,
    server: 'ws://fake',
    keepaliveMs: 0,
    clock,
    reconnect: { initialMs: 5, maxMs: 20, seed: 1 },
    cutPolicy: {
      choose: (context: CutContext) => {
        seen.push(context.network);
        return { plan: context.defaults.cut, compression: 'none' };
      },
    },
    ...(networkProbe ? { networkProbe } : {}),
  });
  await clock.advance(0);
  const client = await opening;
  open.push(client);
  expect(client.state).toBe('open');
  return { clock, server, client, seen };
}

const inputs = (seed: number, rows = 4000) => ({
  x: { type: 'float32', dims: [rows, 4], data: seededFloats(seed, rows * 4) } as FakeTensor,
  s: { type: 'float32', dims: [1, 4], data: seededFloats(seed + 1, 4) } as FakeTensor,
});

/** The fake server's answers take `delayMs` on the manual clock; it reports server_ms 0.5. */
async function infer(clock: ManualClock, server: FakeServer, client: SplitClient<FakeTensor>, seed: number, delayMs: number) {
  server.behaviour = { kind: 'answer', delayMs };
  const pending = client.infer(inputs(seed));
  await clock.advance(delayMs);
  return pending;
}

const RTT_MS = 20;
const UPLINK_BPS = 10e6;

describe('SplitClient network estimate (fake platform, ManualClock)', () => {
  it('infer() calls feed the estimate; a pong gives the rtt; the cut policy sees it in its context', async () => {
    const { clock, server, client, seen } = await setup();
    expect(client.networkEstimate()).toBeUndefined();

    // Before any rtt: the trip waits for one (the uplink needs the rtt to subtract).
    const first = await infer(clock, server, client, 1, 60);
    const bytesUp = first.telemetry.bytesUp;
    expect(bytesUp).toBeGreaterThan(64_000);
    expect(first.telemetry.bytesDown).toBeLessThan(1000);
    expect(first.telemetry.transferMs).toBeCloseTo(59.5, 6);
    expect(client.networkEstimate()).toBeUndefined();

    server.pongDelayMs = () => RTT_MS;
    const asked = client.serverContext();
    await clock.advance(RTT_MS);
    await asked;
    const afterPing = client.networkEstimate();
    expect(afterPing?.rttMs).toEqual({ mean: RTT_MS, sd: 0, n: 1 });
    // The waiting trip, now: bytesUp over (59.5 - 20) ms.
    expect(afterPing?.uplinkBps?.mean).toBeCloseTo((bytesUp * 8000) / 39.5, -2);
    expect(afterPing?.uplinkBps?.n).toBe(1);
    expect(afterPing?.source).toBe('passive');

    // A 10 Mbit/s link from now on: each answer takes rtt + bytes / uplink (+ the fake's 0.5 ms of server time).
    const delayMs = RTT_MS + (bytesUp * 8000) / UPLINK_BPS + 0.5;
    for (let i = 0; i < 12; i++) {
      const before = client.networkEstimate();
      const { telemetry } = await infer(clock, server, client, 10 + i, delayMs);
      expect(telemetry.path).toBe('remote');
      expect(seen.at(-1)).toEqual(before);
      expect(client.networkEstimate()?.uplinkBps?.n).toBe((before?.uplinkBps?.n ?? 0) + 1);
      await clock.advance(100);
    }
    const estimate = client.networkEstimate();
    expect(estimate?.uplinkBps?.mean).toBeGreaterThan(UPLINK_BPS * 0.97);
    expect(estimate?.uplinkBps?.mean).toBeLessThan(UPLINK_BPS * 1.03);
    expect(estimate?.updatedAt).toBe(clock.epochMs() - 100);
  });

  it('leaves out trips that shared the link and fallbacks', async () => {
    const { clock, server, client } = await setup();
    server.pongDelayMs = () => RTT_MS;
    const asked = client.serverContext();
    await clock.advance(RTT_MS);
    await asked;
    await infer(clock, server, client, 1, 80);
    expect(client.networkEstimate()?.uplinkBps?.n).toBe(1);
    server.behaviour = { kind: 'answer', delayMs: 80 };
    const both = [client.infer(inputs(2)), client.infer(inputs(3))];
    await clock.advance(80);
    await Promise.all(both);
    expect(client.networkEstimate()?.uplinkBps?.n).toBe(1);
    server.behaviour = { kind: 'error', code: 'CARBONCP_INTERNAL' };
    const failed = client.infer(inputs(4));
    await clock.advance(10);
    expect((await failed).telemetry.path).toBe('local-fallback');
    expect(client.networkEstimate()?.uplinkBps?.n).toBe(1);
  });

  it('probeNetwork(): a small ping and a padded one, the padded pong an uplink sample labelled probe; then rate-limited', async () => {
    const { clock, server, client } = await setup({ intervalMs: 30_000, bytes: 32_768 });
    const padMs = (32_768 * 8000) / 4e6;
    // The fake server answers the n-th ping; even ones are the padded ones.
    server.pongDelayMs = (n) => (n % 2 === 0 ? RTT_MS + padMs : RTT_MS);
    const probing = client.probeNetwork();
    await clock.advance(RTT_MS + padMs + RTT_MS);
    const outcome = await probing;
    expect(outcome).toMatchObject({ sent: true });
    expect(outcome.sent && outcome.bytes).toBeGreaterThan(32_768);
    expect(server.pings).toHaveLength(2);
    const estimate = client.networkEstimate();
    expect(estimate?.source).toBe('probe');
    expect(estimate?.rttMs.n).toBe(1);
    // The padded frame is a little more than its padding: the estimate is within 1% of 4 Mbit/s.
    expect(estimate?.uplinkBps?.mean).toBeGreaterThan(4e6);
    expect(estimate?.uplinkBps?.mean).toBeLessThan(4e6 * 1.01);

    expect(await client.probeNetwork()).toEqual({ sent: false, reason: 'too-soon' });
    await clock.advance(30_000);
    server.behaviour = { kind: 'answer', delayMs: 50 };
    const busy = client.infer(inputs(1));
    expect(await client.probeNetwork()).toEqual({ sent: false, reason: 'busy' });
    await clock.advance(50);
    await busy;
    expect(server.pings).toHaveLength(2);
    await client.close();
    await expect(client.probeNetwork()).rejects.toMatchObject({ code: 'CARBONCP_SHUTTING_DOWN' });
  });
});
