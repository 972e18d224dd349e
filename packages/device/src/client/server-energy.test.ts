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
