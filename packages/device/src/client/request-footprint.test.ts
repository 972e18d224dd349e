/** Energy and carbon by side in each request's telemetry, computed by hand against the client's figures. */
import { afterEach, describe, expect, it } from 'vitest';
import { loadDeviceProfile } from '@carboncp/carbon/node';
import type { IntensityPoint } from '@carboncp/carbon';
import { FakeRuntime, FakeServer, fakeModel, seededFloats, type FakeTensor } from './fake-platform.test-support.js';
import { SplitClient } from './split-client.js';
import type { FootprintOptions } from './request-footprint.js';

const open: SplitClient<FakeTensor>[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

const profile = await loadDeviceProfile('raspberry-pi-4');
const wifi = profile.radios.wifi!;
const point = (gPerKwh: number, zone: string): IntensityPoint => ({ time: '2026-12-01T00:00:00Z', gPerKwh, zone, source: `static ${zone}`, kind: 'estimated' });
const x = (): FakeTensor => ({ type: 'float32', dims: [2, 4], data: seededFloats(5, 8) });
const headJ = 0.36;
const meter = { energy: () => ({ joules: headJ, kind: 'measured' as const, method: 'counter' as const, source: 'rapl:package-0', extrapolatedMs: 0 }) };

async function client(footprint: FootprintOptions, withMeter = true) {
  const powerSampler = withMeter ? meter : undefined;
  const model = fakeModel();
  const server = new FakeServer(model);
  const c = await SplitClient.open({ model, runtime: new FakeRuntime(), transport: server, server: 'ws://fake', timeoutMs: 2_000, powerSampler, footprint });
  open.push(c);
  return { server, client: c };
}

describe('footprint in telemetry', () => {
  it('a split request: device, network and server carbon by hand', async () => {
    const device = point(200, 'GB');
    const { server, client: c } = await client({ profile, radio: 'wifi', deviceIntensity: () => device });
    server.behaviour = {
      kind: 'answer',
      parameters: { energy_j: 3.6, energy_kind: 'estimated', energy_source: 'serverPowerW 300 W x tail time', carbon_g: 0, carbon_intensity: { value_g_per_kwh: 500, source: 'static DE' } },
    };
    const { telemetry } = await c.infer({ x: x() }, { cut: 'split-1' });
    const f = telemetry.footprint!;
    expect(telemetry.footprintUnavailable).toBeUndefined();
    const networkJ = telemetry.bytesUp * wifi.energyPerByteUpJ.value! + telemetry.bytesDown * wifi.energyPerByteDownJ.value! + wifi.tailEnergyJ.value!;
    expect(f.device.energyJ).toBeCloseTo(headJ, 12);
    expect(f.device.carbonG).toBeCloseTo((headJ / 3.6e6) * 200, 15);
    expect(f.network.energyJ).toBeCloseTo(networkJ, 12);
    expect(f.network.carbonG).toBeCloseTo((networkJ / 3.6e6) * 200, 15);
    expect(f.server.carbonG).toBeCloseTo((3.6 / 3.6e6) * 500, 15); // 0.0005 g at the server's reported 500 g/kWh
    expect(f.totalCarbonG).toBeCloseTo(f.device.carbonG + f.network.carbonG + f.server.carbonG, 15);
    expect(f.kind).toBe('estimated');
    expect(f.server.intensity.source).toBe('static DE');
  });

  it('a local request: no network or server energy; a caller-given server intensity wins', async () => {
    const { client: c } = await client({ profile, radio: 'wifi', deviceIntensity: () => point(100, 'FR'), serverIntensity: () => point(700, 'PL') });
    const { telemetry } = await c.infer({ x: x() }, { cut: 'device' });
    expect(telemetry.footprint!.network.energyJ).toBe(0);
    expect(telemetry.footprint!.server.energyJ).toBe(0);
    expect(telemetry.footprint!.kind).toBe('measured');
    expect(telemetry.footprint!.totalCarbonG).toBeCloseTo((headJ / 3.6e6) * 100, 15);
  });

  it('says why it is absent: no intensity yet, no device energy, no server figure; the request still succeeds', async () => {
    const { client: noIntensity } = await client({ profile, radio: 'wifi', deviceIntensity: () => undefined });
    const a = await noIntensity.infer({ x: x() }, { cut: 'device' });
    expect(a.telemetry.footprint).toBeUndefined();
    expect(a.telemetry.footprintUnavailable).toMatch(/no carbon intensity is known yet/);

    const { client: noMeter } = await client({ profile, radio: 'wifi', deviceIntensity: () => point(100, 'FR') }, false);
    expect((await noMeter.infer({ x: x() }, { cut: 'device' })).telemetry.footprintUnavailable).toMatch(/powerSampler/);

    const { server, client: silent } = await client({ profile, radio: 'wifi', deviceIntensity: () => point(100, 'FR') });
    server.behaviour = { kind: 'answer' };
    const c = await silent.infer({ x: x() }, { cut: 'split-1' });
    expect(c.telemetry.path).toBe('split');
    expect(c.telemetry.footprintUnavailable).toMatch(/serverEnergy/);
  });

  it('refuses footprint options it could never use', async () => {
    const model = fakeModel();
    const bad = (footprint: unknown) =>
      SplitClient.open({ model, runtime: new FakeRuntime(), transport: new FakeServer(model), server: 'ws://fake', footprint: footprint as FootprintOptions });
    await expect(bad({ profile, radio: 'nr5g', deviceIntensity: () => undefined })).rejects.toThrow(/not a radio of device profile/);
    await expect(bad({ profile, radio: 'wifi' })).rejects.toThrow(/deviceIntensity must be a function/);
    await expect(bad({ radio: 'wifi', deviceIntensity: () => undefined })).rejects.toThrow(/footprint.profile/);
  });
});
