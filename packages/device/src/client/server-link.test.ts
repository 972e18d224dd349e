import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { FakeServer, fakeModel } from './fake-platform.test-support.js';
import { ServerLink, type ServerLinkOptions } from './server-link.js';

const open: ServerLink[] = [];
afterEach(() => {
  for (const link of open.splice(0)) link.close();
});

async function connect(server: FakeServer, clock: ManualClock, options: Partial<ServerLinkOptions> = {}): Promise<ServerLink> {
  const opening = ServerLink.open({ server: 'ws://fake', transport: server, clock, keepaliveMs: 0, reconnect: { initialMs: 5, maxMs: 20, seed: 1 }, ...options });
  await clock.advance(0);
  const link = await opening;
  open.push(link);
  return link;
}

describe('ServerLink (fake platform, ManualClock)', () => {
  it('says hello with no model and keeps the server\'s answer', async () => {
    const clock = new ManualClock();
    const server = new FakeServer(fakeModel(), clock);
    server.ackModels = [{ name: 'resnet', digest: 'd'.repeat(64), plans: [{ id: 'server', digest: 'p' }] }];
    const link = await connect(server, clock, { clientName: 'context-test' });
    expect(link.state).toBe('open');
    expect(link.hello).toMatchObject({ server: 'fake', execution_provider: 'cpu', models: [{ name: 'resnet' }], limits: { max_payload: 1 << 20, max_queue: 16 } });
    expect(link.lastError).toBeUndefined();
  });

  it('serverContext(): the pong with every tail latency under the server\'s keys, the rtt into the estimate', async () => {
    const clock = new ManualClock();
    const server = new FakeServer(fakeModel(), clock);
    server.pongContext = () => ({ queue_depth: 3, in_flight: 2, tail_ms: { 'resnet/split-4': 7.5, 'cls/server': 2}, carbon_intensity: { value_g_per_kwh: 250, source: 'static DE' } });
    server.pongDelayMs = (n) => 10 + n;
    const link = await connect(server, clock);
    expect(link.networkEstimate()).toBeUndefined();
    for (let i = 1; i <= 3; i++) {
      const asked = link.serverContext();
      await clock.advance(10 + i);
      const context = await asked;
      expect(context).toMatchObject({ queueDepth: 3, inFlight: 2, rttMs: 10 + i, carbonIntensity: { valueGPerKwh: 250, source: 'static DE' } });
      expect(context.tailMs).toEqual({ 'resnet/split-4': 7.5, 'cls/server': 2 });
      expect(link.lastServerContext).toEqual(context);
    }
    const estimate = link.networkEstimate();
    expect(estimate?.rttMs.n).toBe(3);
    expect(estimate?.rttMs.mean).toBeGreaterThan(11);
    expect(estimate?.rttMs.mean).toBeLessThan(13);
    expect(estimate?.uplinkBps).toBeUndefined();
  });

  it('probeNetwork(): a padded ping gives an uplink sample labelled probe; rate-limited like the client\'s', async () => {
    const clock = new ManualClock();
    const server = new FakeServer(fakeModel(), clock);
    const padMs = (16_384 * 8000) / 2e6;
    server.pongDelayMs = (n) => (n % 2 === 0 ? 20 + padMs : 20);
    const link = await connect(server, clock, { networkProbe: { bytes: 16_384, intervalMs: 60_000 } });
    const probing = link.probeNetwork();
    await clock.advance(20);
    await clock.advance(20 + padMs);
    expect(await probing).toMatchObject({ sent: true });
    const estimate = link.networkEstimate();
    expect(estimate?.source).toBe('probe');
    expect(estimate?.uplinkBps?.mean).toBeGreaterThan(2e6);
    expect(estimate?.uplinkBps?.mean).toBeLessThan(2e6 * 1.01);
    expect(await link.probeNetwork()).toEqual({ sent: false, reason: 'too-soon' });
  });

  it('a server that is down: open() resolves, not open, lastError says why; a refused token rejects', async () => {
    const clock = new ManualClock();
    const server = new FakeServer(fakeModel(), clock);
    server.refuse = 'down';
    const link = await connect(server, clock);
    expect(link.state).toBe('connecting');
    expect(link.lastError).toMatchObject({ code: 'CARBONCP_CONNECTION_LOST' });
    await expect(link.serverContext()).rejects.toMatchObject({ code: 'CARBONCP_CONNECTION_LOST' });
    expect(await link.probeNetwork()).toEqual({ sent: false, reason: 'not-connected' });
    link.close();
    await expect(link.serverContext()).rejects.toMatchObject({ code: 'CARBONCP_SHUTTING_DOWN' });

    const refusing = new FakeServer(fakeModel(), clock);
    refusing.refuse = 'unauthorized';
    const refused = await ServerLink.open({ server: 'ws://fake', transport: refusing, clock, keepaliveMs: 0 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toMatchObject({ code: 'CARBONCP_UNAUTHORIZED' });
  });

  it('refuses bad options by name', async () => {
    await expect(ServerLink.open({ server: 'http://x', transport: new FakeServer(fakeModel()) })).rejects.toThrow(/server must be a ws:\/\/ or wss:\/\/ URL/);
    await expect(ServerLink.open({ server: 'ws://x', transport: new FakeServer(fakeModel()), handshakeTimeoutMs: -1 })).rejects.toThrow(/handshakeTimeoutMs/);
  });
});
