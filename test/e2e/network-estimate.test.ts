// The device's network estimate against a real server over ws on 127.0.0.1: requests and pongs
// feed it, and the active probe's padded ping (an extra `pad` field in the Ping body) is accepted
// by a server that knows nothing of it, so the probe needs no protocol change.
import { seededInputs } from '@carboncp/core/node';
import { describe, expect, it, vi } from 'vitest';
import { useServedModel } from './split-harness.js';

const harness = useServedModel('ppocr-cls');
const { inputShapes } = harness;
const serve = () => harness.serve();
const connect = (url: string) => harness.connect(url);

describe('network estimate against a real server', () => {
  it('a pong gives the rtt, remote requests the uplink, and a padded probe ping is answered without closing the connection', async () => {
    const server = await serve();
    const client = await connect(server.url);
    await client.ready(10_000);
    // The ping sent on connecting gives the first RTT; a serverContext() ping the second.
    await vi.waitFor(() => expect(client.networkEstimate()?.rttMs.n).toBe(1));
    await client.serverContext({ timeoutMs: 10_000 });
    expect(client.networkEstimate()?.rttMs.n).toBe(2);

    const feeds = seededInputs(client.partition.model, inputShapes, 23);
    for (let i = 0; i < 3; i++) {
      const { telemetry } = await client.infer(feeds, { cut: 'server', timeoutMs: 30_000 });
      expect(telemetry.path).toBe('remote');
      expect(telemetry.bytesUp).toBeGreaterThan(4 * telemetry.bytesDown);
    }
    const passive = client.networkEstimate();
    // Trips that the server's time dominated are left out, so not every request need count (2
    // of 3 on one run here, with rtt 0.6-0.7 ms and about 2 Gbit/s over loopback).
    expect(passive?.uplinkBps?.n).toBeGreaterThanOrEqual(1);
    expect(passive?.uplinkBps?.n).toBeLessThanOrEqual(3);
    expect(passive?.uplinkBps?.mean).toBeGreaterThan(1e6);

    const outcome = await client.probeNetwork();
    expect(outcome).toMatchObject({ sent: true });
    expect(outcome.sent && outcome.bytes).toBeGreaterThan(32_768);
    const probed = client.networkEstimate();
    expect(probed?.source).toBe('probe');
    expect(probed?.uplinkBps?.n).toBe((passive?.uplinkBps?.n ?? 0) + 1);
    expect(probed?.uplinkBps?.mean).toBeGreaterThan(0);
    expect(probed?.rttMs.n).toBe(3);
    expect(client.state).toBe('open');
    expect(client.stats().disconnects).toBe(0);
    expect(await client.probeNetwork()).toEqual({ sent: false, reason: 'too-soon' });
  });
});
