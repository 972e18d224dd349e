/** createClient with `servers`: what it refuses before it reads the model, and a client of two sites that are down. */
import { ocrModelPath } from '@carboncp/core/node';
import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { SiteOptions } from '../index.js';
import { createClient, type CarboncpClient } from './create-client.js';

const OFFLINE = { reconnect: { initialMs: 60_000, maxMs: 60_000 }, keepaliveMs: 0, inputShapes: { x: [1, 3, 48, 192] } };
const SITES: SiteOptions[] = [
  { name: 'eu', url: 'ws://127.0.0.1:9', carbon: 50, wue: 0.5 },
  { name: 'us', url: 'ws://127.0.0.1:19', carbon: 400 },
];
const open: CarboncpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

describe('createClient({ servers })', () => {
  it('refuses server with servers, equity without a calibrator, and a bad site, naming the option', async () => {
    const model = 'no-such-file.onnx'; // refused before the model is read
    await expect(createClient({ model, server: 'ws://x', servers: SITES })).rejects.toThrow(/server and servers exclude each other/);
    await expect(createClient({ model, servers: SITES, equity: { maxShare: 0.6 } })).rejects.toThrow(/equity .* needs a calibrator/);
    await expect(createClient({ model, servers: [{ name: 'eu', url: 'ws://x', carbon: -1 }] })).rejects.toThrow(/servers\[0\] \('eu'\): carbon/);
    await expect(createClient({ model })).rejects.toThrow(/server must be a ws:\/\/ or wss:\/\/ URL/);
  });

  it('with every site down a request runs locally and sites() lists both as down', async () => {
    const client = await createClient({ model: ocrModelPath('ch_ppocr_mobile_v2.0_cls_infer.onnx'), servers: SITES, ...OFFLINE });
    open.push(client);
    const { telemetry } = await client.infer({ x: new ort.Tensor('float32', new Float32Array(3 * 48 * 192).fill(0.5), [1, 3, 48, 192]) }, { cut: 'server' });
    expect(telemetry.path).toBe('local-fallback');
    expect(telemetry.error?.code).toBe('CARBONCP_NOT_READY');
    expect(telemetry.site).toMatchObject({ name: 'eu', intensityGPerKwh: 50, waterLPerKwh: 0.5 });
    expect(telemetry.failover).toBeUndefined();
    expect(client.sites().map((s) => [s.name, s.up, s.state, s.requests])).toEqual([
      ['eu', false, 'connecting', 0],
      ['us', false, 'connecting', 0],
    ]);
    expect(client.state).toBe('connecting');
  });
});
