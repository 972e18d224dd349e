import { MessageType } from '@carboncp/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startServer } from './index.js';
import { ServerCarbon, type ServerIntensityPoint } from './server-carbon.js';
import { resolveOptions } from './options.js';
import { CLS_INPUT_SHAPES, CLS_PATH, clsInputs, crossingFor, expectResponse, inferBody, loadClsPartition, middleSplit } from './testing/fixtures.js';
import { TestClient } from './testing/ws-test-client.js';

const base = { carbonIntensity: undefined, carbonProvider: undefined, carbonRefreshMs: 1000, serverPowerW: undefined, pue: 1, log: () => undefined };

describe('ServerCarbon accounting', () => {
  it('is tail ms / batch / 1000 x W x PUE, estimated, and carbon at the intensity, by hand', () => {
    const carbon = new ServerCarbon({ ...base, carbonIntensity: { value_g_per_kwh: 400, source: 'test-grid' }, serverPowerW: 300, pue: 1.2 });
    // 500 ms of tail shared by a batch of 2: 0.25 s x 300 W x 1.2 = 90 J; 90 / 3.6e6 x 400 = 0.01 g.
    const fp = carbon.account(500, 2);
    expect(fp.energy_j).toBeCloseTo(90, 12);
    expect(fp.energy_kind).toBe('estimated');
    expect(fp.energy_source).toBe('serverPowerW 300 W x tail time / batch 2 x PUE 1.2');
    expect(fp.carbon_g).toBeCloseTo(0.01, 15);
    expect(fp.carbon_intensity).toEqual({ value_g_per_kwh: 400, source: 'test-grid' });
  });

  it('gives no energy without serverPowerW and no carbon without an intensity', () => {
    expect(new ServerCarbon({ ...base, carbonIntensity: { value_g_per_kwh: 400, source: 'x' } }).account(10, 1)).toEqual({});
    const fp = new ServerCarbon({ ...base, serverPowerW: 36 }).account(100, 1);
    // 0.1 s x 36 W = 3.6 J.
    expect(fp.energy_j).toBeCloseTo(3.6, 12);
    expect(fp.carbon_g).toBeUndefined();
  });
});

describe('ServerCarbon sampling', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('samples at start and on its timer, never on a read, and keeps the last value stale when the provider fails', async () => {
    vi.useFakeTimers();
    const answers: (ServerIntensityPoint | Error)[] = [
      { gPerKwh: 100, source: 'static', zone: 'T' },
      { gPerKwh: 250, source: 'static', zone: 'T' },
      new Error('unreachable'),
      { gPerKwh: 50, source: 'static', zone: 'T' },
    ];
    let calls = 0;
    const logs: string[] = [];
    const provider = {
      current: async () => {
        const answer = answers[calls++];
        if (answer instanceof Error) throw answer;
        return answer;
      },
    };
    const carbon = new ServerCarbon({ ...base, carbonProvider: provider, carbonRefreshMs: 1000, serverPowerW: 10, log: (l) => logs.push(l) });
    expect(carbon.intensity()).toBeUndefined();
    carbon.start();
    await carbon.whenSampled();
    expect(carbon.intensity()).toEqual({ value_g_per_kwh: 100, source: 'static T' });
    // Reads and accounting do no I/O.
    carbon.intensity();
    carbon.account(10, 1);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(carbon.intensity()).toEqual({ value_g_per_kwh: 250, source: 'static T' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(carbon.intensity()).toEqual({ value_g_per_kwh: 250, source: 'static T (stale)' });
    expect(logs.some((l) => l.includes('unreachable'))).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(carbon.intensity()).toEqual({ value_g_per_kwh: 50, source: 'static T' });
    carbon.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls).toBe(4);
  });
});

describe('ServerCarbon with a provider that throws synchronously', () => {
  it('keeps sampling on later ticks', async () => {
    let calls = 0;
    const provider = {
      current: (): Promise<ServerIntensityPoint> => {
        calls++;
        if (calls === 1) throw new Error('sync failure');
        return Promise.resolve({ gPerKwh: 80, source: 'static' });
      },
    };
    const carbon = new ServerCarbon({ ...base, carbonProvider: provider });
    await carbon.sample();
    expect(carbon.intensity()).toBeUndefined();
    await carbon.sample();
    expect(calls).toBe(2);
    expect(carbon.intensity()).toEqual({ value_g_per_kwh: 80, source: 'static' });
  });
});

describe('server options for energy and carbon', () => {
  it('refuses a PUE under 1, a negative power, and a fixed intensity with a provider', () => {
    const provider = { current: async () => ({ gPerKwh: 1, source: 's' }) };
    expect(() => resolveOptions({ models: [], pue: 0.5 })).toThrow(/pue must be/);
    expect(() => resolveOptions({ models: [], serverPowerW: -1 })).toThrow(/serverPowerW/);
    expect(() => resolveOptions({ models: [], carbonProvider: provider, carbonIntensity: { value_g_per_kwh: 1, source: 'x' } })).toThrow(/exclude each other/);
    expect(resolveOptions({ models: [], carbonProvider: provider })).toMatchObject({ pue: 1, carbonRefreshMs: 300_000, serverPowerW: undefined });
  });
});

describe('a server with a carbon provider and a power figure', () => {
  it('fills pongs from its provider, returns energy_j and carbon_g per response and counts them in /metrics', async () => {
    const partition = await loadClsPartition();
    const split = middleSplit(partition);
    let samples = 0;
    const server = await startServer({
      models: [CLS_PATH],
      inputShapes: CLS_INPUT_SHAPES,
      host: '127.0.0.1',
      port: 0,
      executor: 'main',
      carbonProvider: {
        current: async () => {
          samples++;
          return { gPerKwh: 200, source: 'static', zone: 'TEST' };
        },
      },
      serverPowerW: 100,
      pue: 1.5,
      log: () => undefined,
    });
    try {
      await vi.waitFor(() => expect(samples).toBe(1));
      const client = await TestClient.connect(server.url);
      await client.hello();
      const pong = await client.ping(1);
      expect(pong.type).toBe(MessageType.Pong);
      if (pong.type !== MessageType.Pong) return;
      expect(pong.body.carbon_intensity).toEqual({ value_g_per_kwh: 200, source: 'static TEST' });
      const inputs = await crossingFor(partition, split, clsInputs(partition, 5));
      let energy = 0;
      let grams = 0;
      for (let i = 0; i < 2; i++) {
        const p = expectResponse(await client.infer(inferBody(partition, split, inputs))).body.parameters;
        const tailMs = p.tail_ms as number;
        expect(tailMs).toBeGreaterThan(0);
        // tail s x 100 W x 1.5; g = J / 3.6e6 x 200.
        expect(p.energy_j).toBeCloseTo((tailMs / 1000) * 100 * 1.5, 9);
        expect(p.carbon_g).toBeCloseTo(((p.energy_j as number) / 3.6e6) * 200, 15);
        expect(p.energy_kind).toBe('estimated');
        expect(p.energy_source).toBe('serverPowerW 100 W x tail time x PUE 1.5');
        expect(p.carbon_intensity).toEqual({ value_g_per_kwh: 200, source: 'static TEST' });
        energy += p.energy_j as number;
        grams += p.carbon_g as number;
      }
      // The provider is sampled on its timer, not per request or ping.
      expect(samples).toBe(1);
      client.close();
      const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
      const value = (name: string) => Number(new RegExp(`^${name}\\{side="server"\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
      expect(value('carboncp_energy_joules_total')).toBeCloseTo(energy, 9);
      expect(value('carboncp_carbon_grams_total')).toBeCloseTo(grams, 12);
    } finally {
      await server.close({ drainMs: 1000 });
    }
  });
});
