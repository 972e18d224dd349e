// cut: 'auto' end to end: a real server on 127.0.0.1, a device client whose uplink goes through
// a ShapedTransport (bytes / bandwidth, replayed on the real socket), and the carbon-aware
// decision of @carboncp/calibrator. The cut moves when the device's grid gets cleaner than the
// server's and back, and when the uplink collapses; every request resolves exactly once.
import type { IntensityPoint } from '@carboncp/carbon';
import { seededInputs } from '@carboncp/core/node';
import { NETWORK_DEFAULTS, ShapedTransport, createClient, type CarboncpClient, type RequestTelemetry } from '@carboncp/device/node';
import { ensureModel, getZooModel } from '@carboncp/models';
import { startServer, type CarboncpServer } from '@carboncp/server';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { modelNameOf, offloadingDevice } from './split-harness.js';

const MODEL = 'ppocr-cls';
const constant = (mbps: number) => ({ startsMs: [0], bps: [mbps * 1e6], periodMs: 1000, source: `constant ${mbps} Mbit/s` });


let server: CarboncpServer;
let client: CarboncpClient;
let shaped: ShapedTransport;
let deviceGrid = 900;
const intensity = (): IntensityPoint => ({ time: new Date().toISOString(), gPerKwh: deviceGrid, zone: 'test', source: 'test grid', kind: 'estimated' });

beforeAll(async () => {
  const file = await ensureModel(MODEL);
  const { inputShapes } = getZooModel(MODEL);
  server = await startServer({ models: [file], inputShapes: { [modelNameOf(file)]: inputShapes }, host: '127.0.0.1', port: 0, executionProviders: ['cpu'], log: () => {} });
  client = await createClient({
    model: file,
    server: server.url,
    inputShapes,
    intraOpNumThreads: 1,
    reconnect: { initialMs: 50, maxMs: 500, seed: 7 },
    wrapTransport: (ws) => (shaped = new ShapedTransport(ws, { uplink: constant(200) })),
    calibrator: {
      deviceProfile: await offloadingDevice('test/e2e/split-auto.test.ts'),
      radio: 'wifi',
      deviceIntensity: intensity,
      fallbackIntensityGPerKwh: 300, // the server's grid: it reports none
      serverPowerW: 5,
      uplinkPriorBps: 200e6,
      rttPriorMs: 1,
      profileRuns: 5,
      serverProfile: false,
      planIds: ['server', 'device'],
      decider: { exploration: false },
      defaults: { mode: 'mean', objective: 'carbon', sloMs: 60 },
    },
  });
  await client.ready(10_000);
  // The ping sent on connecting gives the RTT that throughput samples are measured against.
  await vi.waitFor(() => expect(client.networkEstimate()).toBeDefined());
});

afterAll(async () => {
  await client?.close();
  await server?.close();
});

async function phase(requests: number, seed: number): Promise<RequestTelemetry[]> {
  const { inputShapes } = getZooModel(MODEL);
  const out: RequestTelemetry[] = [];
  for (let i = 0; i < requests; i += 1) {
    const { telemetry } = await client.infer(seededInputs(client.partition.model, inputShapes, seed + i), { cut: 'auto' });
    expect(telemetry.error, JSON.stringify(telemetry)).toBeUndefined();
    expect(telemetry.decision!.candidateId.split('/')[0]).toBe(telemetry.planId);
    out.push(telemetry);
  }
  return out;
}
const plansOf = (ts: RequestTelemetry[]) => ts.map((t) => t.planId);

describe("cut: 'auto' over a real server and a shaped uplink", () => {
  it('offloads while the device grid is dirtier, computes locally when it is cleaner, and back', async () => {
    deviceGrid = 900;
    const dirty = await phase(8, 100);
    expect(plansOf(dirty).slice(-4)).toEqual(['server', 'server', 'server', 'server']);
    deviceGrid = 5;
    const clean = await phase(6, 200);
    expect(plansOf(clean)).toEqual(Array(6).fill('device'));
    deviceGrid = 900;
    const again = await phase(6, 300);
    expect(plansOf(again)).toEqual(Array(6).fill('server'));
    for (const t of [...dirty, ...clean, ...again]) {
      expect(t.decision!.objective).toBe('carbon');
      expect(t.decision!.context.deviceIntensityGPerKwh).toBe(t.planId === 'device' && clean.includes(t) ? 5 : 900);
    }
  });

  it('stops offloading when the uplink collapses below what the SLO allows', async () => {
    deviceGrid = 900;
    expect(plansOf(await phase(3, 400))).toEqual(['server', 'server', 'server']);
    const uplinkBefore = client.networkEstimate()!.uplinkBps!.mean;
    shaped.setUplink(constant(1)); // 110 kB now takes ~0.9 s against a 60 ms SLO
    const slow = await phase(8, 500);
    const firstDevice = plansOf(slow).indexOf('device');
    // It has to see slow transfers first (a single slow transfer may be an outlier): the network
    // estimate takes the new level after shiftAfter outliers in a row, the learnt latency
    // correction may move sooner; nothing else shares the link here, so no sample is rejected.
    expect(firstDevice, plansOf(slow).join(',')).toBeGreaterThan(0);
    expect(firstDevice, plansOf(slow).join(',')).toBeLessThanOrEqual(NETWORK_DEFAULTS.shiftAfter);
    // Only the remote requests measure the uplink: after shiftAfter of them it is the new level,
    // before that (the correction may move first on a loaded machine) each has pulled it down.
    const uplinkAfter = client.networkEstimate()!.uplinkBps!.mean;
    if (firstDevice >= NETWORK_DEFAULTS.shiftAfter) expect(uplinkAfter / 1e6).toBeCloseTo(1, 1);
    else expect(uplinkAfter).toBeLessThan(uplinkBefore);
    expect(plansOf(slow).slice(firstDevice)).toEqual(Array(slow.length - firstDevice).fill('device'));
    const stats = client.stats();
    expect(stats.requests).toBe(8 + 6 + 6 + 3 + 8);
    expect(stats.localFallback).toBe(0);
  });
});
