/** The server's energy and carbon, as its response reports them, reach the request's telemetry. */
import { afterEach, describe, expect, it } from 'vitest';
import { FakeRuntime, FakeServer, fakeModel, seededFloats, type FakeTensor } from './fake-platform.test-support.js';
import { serverEnergyOf } from './remote-call.js';
import { SplitClient } from './split-client.js';

const open: SplitClient<FakeTensor>[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function setup() {
  const model = fakeModel();
  const server = new FakeServer(model);
  const client = await SplitClient.open({ model, runtime: new FakeRuntime(), transport: server, server: 'ws://fake', timeoutMs: 2_000 });
  open.push(client);
  return { server, client };
}

const x = (): FakeTensor => ({ type: 'float32', dims: [2, 4], data: seededFloats(5, 8) });

describe('server energy in telemetry', () => {
  it('copies energy_j, energy_kind, energy_source, carbon_g and carbon_intensity of a response', async () => {
    const { server, client } = await setup();
    server.behaviour = {
      kind: 'answer',
      parameters: { energy_j: 0.9, energy_kind: 'estimated', energy_source: 'serverPowerW 300 W x tail time', carbon_g: 1e-4, carbon_intensity: { value_g_per_kwh: 400, source: 'static GB' } },
    };
    const { telemetry } = await client.infer({ x: x() }, { cut: 'split-1' });
    expect(telemetry.path).toBe('split');
    expect(telemetry.serverEnergy).toEqual({
      energyJ: 0.9,
      kind: 'estimated',
      source: 'serverPowerW 300 W x tail time',
      carbonG: 1e-4,
      intensity: { valueGPerKwh: 400, source: 'static GB' },
    });
  });

  it('is absent when the server reports none, or the request ran on the device', async () => {
    const { server, client } = await setup();
    server.behaviour = { kind: 'answer' };
    expect((await client.infer({ x: x() }, { cut: 'split-1' })).telemetry.serverEnergy).toBeUndefined();
    expect((await client.infer({ x: x() }, { cut: 'device' })).telemetry.serverEnergy).toBeUndefined();
  });

  it('serverEnergyOf: energy without carbon, a measured kind, and a missing source', () => {
    const base = { server_ms: 1, queue_ms: 0, batch_size: 1, execution_provider: 'cpu' };
    expect(serverEnergyOf({ ...base, energy_j: 2, energy_kind: 'measured' })).toEqual({ energyJ: 2, kind: 'measured', source: 'server (no source given)' });
    expect(serverEnergyOf(base)).toBeUndefined();
    expect(serverEnergyOf(undefined)).toBeUndefined();
  });
});

describe('device energy in telemetry (powerSampler)', () => {
  type Window = { joules: number; kind: 'measured' | 'estimated'; method: 'counter' | 'integrated' | 'model'; source: string; extrapolatedMs: number };
  /** A meter that records the windows asked for and answers from a script, in order. */
  function meter(answers: (Window | undefined)[]) {
    const windows: [number, number][] = [];
    return {
      windows,
      energy(t0: number, t1: number) {
        windows.push([t0, t1]);
        return answers[windows.length - 1];
      },
    };
  }
  const rapl: Window = { joules: 1.5, kind: 'measured', method: 'counter', source: 'rapl:package-0', extrapolatedMs: 2 };
  const model: Window = { joules: 0.25, kind: 'estimated', method: 'model', source: 'model:cpu', extrapolatedMs: 0 };

  async function withMeter(m: ReturnType<typeof meter>) {
    const fake = fakeModel();
    const server = new FakeServer(fake);
    const client = await SplitClient.open({ model: fake, runtime: new FakeRuntime(), transport: server, server: 'ws://fake', timeoutMs: 2_000, powerSampler: m });
    open.push(client);
    return { server, client };
  }

  it('one run on the device: its window energy, kind and source', async () => {
    const m = meter([rapl]);
    const { client } = await withMeter(m);
    const { telemetry } = await client.infer({ x: x() }, { cut: 'device' });
    expect(telemetry.deviceEnergy).toEqual({ energyJ: 1.5, kind: 'measured', source: 'rapl:package-0', extrapolatedMs: 2 });
    expect(m.windows).toHaveLength(1);
    const [t0, t1] = m.windows[0];
    expect(t1 - t0).toBeCloseTo(telemetry.headMs, 9);
  });

  it('head and local tail after a fallback: joules add, estimated if one part is, sources joined', async () => {
    const m = meter([rapl, model]);
    const { server, client } = await withMeter(m);
    server.behaviour = { kind: 'error', code: 'CARBONCP_INTERNAL' };
    const { telemetry } = await client.infer({ x: x() }, { cut: 'split-1' });
    expect(telemetry.path).toBe('local-fallback');
    expect(telemetry.deviceEnergy).toEqual({ energyJ: 1.75, kind: 'estimated', source: 'rapl:package-0 + model:cpu', extrapolatedMs: 2 });
    expect(m.windows).toHaveLength(2);
  });

  it('nothing run on the device is 0 J measured; an uncovered window leaves deviceEnergy out', async () => {
    const none = meter([]);
    const { client } = await withMeter(none);
    const remote = client.plans.find((p) => p.kind === 'server')!;
    expect((await client.infer({ x: x() }, { cut: remote.id })).telemetry.deviceEnergy).toEqual({
      energyJ: 0,
      kind: 'measured',
      source: 'no head or local tail ran on the device',
      extrapolatedMs: 0,
    });
    const uncovered = meter([undefined]);
    const { client: second } = await withMeter(uncovered);
    expect((await second.infer({ x: x() }, { cut: 'device' })).telemetry.deviceEnergy).toBeUndefined();
  });

  it('refuses a powerSampler without energy()', async () => {
    const fake = fakeModel();
    await expect(
      SplitClient.open({ model: fake, runtime: new FakeRuntime(), transport: new FakeServer(fake), server: 'ws://fake', powerSampler: {} as never }),
    ).rejects.toThrow(/powerSampler must have an energy/);
  });
});
