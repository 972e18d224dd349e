import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { describe, expect, it } from 'vitest';
import {
  carbonGrams,
  footprintFromTelemetry,
  combineKinds,
  JOULES_PER_KWH,
  powerTimeEnergy,
  radioEnergyPart,
  requestFootprint,
  sideFootprint,
  sumEnergy,
  type EnergyPart,
} from './accounting.js';
import { parseDeviceProfile } from './device-profile.js';
import type { IntensityPoint } from './intensity.js';

const point = (gPerKwh: number, zone: string, kind: IntensityPoint['kind'] = 'measured'): IntensityPoint => ({
  time: '2026-12-01T00:00:00Z',
  gPerKwh,
  zone,
  source: 'static',
  kind,
});

function expectCode(fn: () => unknown, code: string): CarboncpError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CarboncpError);
    expect((error as CarboncpError).code).toBe(code);
    return error as CarboncpError;
  }
  throw new Error(`expected ${code}`);
}

describe('carbonGrams', () => {
  it('is joules / 3.6e6 x gPerKwh', () => {
    expect(JOULES_PER_KWH).toBe(3_600_000);
    // 1 kWh at 200 g/kWh is 200 g.
    expect(carbonGrams(3.6e6, 200)).toBe(200);
    // 36 J at 100 g/kWh: 36 / 3.6e6 = 1e-5 kWh, x 100 = 1e-3 g.
    expect(carbonGrams(36, 100)).toBeCloseTo(1e-3, 15);
    expect(carbonGrams(0, 500)).toBe(0);
    expect(carbonGrams(500, 0)).toBe(0);
  });

  it('refuses negative or non-finite inputs', () => {
    for (const [j, g] of [[-1, 100], [NaN, 100], [Infinity, 100], [1, -1], [1, NaN]] as const) {
      expectCode(() => carbonGrams(j, g), ErrorCode.INVALID_ARGUMENT);
    }
  });
});

describe('kind propagation', () => {
  it('a sum is measured only if all its parts are', () => {
    expect(combineKinds(['measured', 'measured'])).toBe('measured');
    expect(combineKinds(['measured', 'estimated'])).toBe('estimated');
    expect(combineKinds(['estimated', 'measured', 'measured'])).toBe('estimated');
    expect(combineKinds([])).toBe('estimated');
  });

  it('sumEnergy adds joules, joins distinct sources and propagates the kind', () => {
    const head: EnergyPart = { energyJ: 1.5, kind: 'measured', source: 'rapl' };
    const localTail: EnergyPart = { energyJ: 0.25, kind: 'measured', source: 'rapl' };
    expect(sumEnergy([head, localTail])).toEqual({ energyJ: 1.75, kind: 'measured', source: 'rapl' });
    const modelled: EnergyPart = { energyJ: 0.5, kind: 'estimated', source: 'power model' };
    expect(sumEnergy([head, modelled])).toEqual({ energyJ: 2, kind: 'estimated', source: 'rapl + power model' });
    expectCode(() => sumEnergy([]), ErrorCode.INVALID_ARGUMENT);
    expectCode(() => sumEnergy([{ energyJ: -1, kind: 'measured', source: 'x' }]), ErrorCode.INVALID_ARGUMENT);
    expectCode(() => sumEnergy([{ energyJ: 1, kind: 'guessed' as never, source: 'x' }]), ErrorCode.INVALID_ARGUMENT);
    expectCode(() => sumEnergy([{ energyJ: 1, kind: 'measured', source: '' }]), ErrorCode.INVALID_ARGUMENT);
  });
});

describe('powerTimeEnergy', () => {
  it('is ms / 1000 x W x PUE', () => {
    // 250 ms of tail at 300 W in a PUE 1.2 hall: 0.25 x 300 x 1.2 = 90 J.
    const e = powerTimeEnergy({ durationMs: 250, powerW: 300, pue: 1.2, kind: 'estimated', source: 'serverPowerW 300 W' });
    expect(e.energyJ).toBeCloseTo(90, 12);
    expect(e.kind).toBe('estimated');
    expect(e.source).toBe('serverPowerW 300 W x PUE 1.2');
    // PUE defaults to 1 and is then not named.
    expect(powerTimeEnergy({ durationMs: 2000, powerW: 5, kind: 'measured', source: 'meter' })).toEqual({ energyJ: 10, kind: 'measured', source: 'meter' });
  });

  it('refuses a PUE under 1, negative time or power', () => {
    expectCode(() => powerTimeEnergy({ durationMs: 1, powerW: 1, pue: 0.9, kind: 'estimated', source: 's' }), ErrorCode.INVALID_ARGUMENT);
    expectCode(() => powerTimeEnergy({ durationMs: -1, powerW: 1, kind: 'estimated', source: 's' }), ErrorCode.INVALID_ARGUMENT);
    expectCode(() => powerTimeEnergy({ durationMs: 1, powerW: NaN, kind: 'estimated', source: 's' }), ErrorCode.INVALID_ARGUMENT);
  });
});

describe('radioEnergyPart', () => {
  const q = (value: number, unit: string) => ({ value, unit, kind: 'measured', source: 'a test fixture' });
  const profile = parseDeviceProfile({
    schemaVersion: 1,
    id: 'test-phone',
    name: 'Test phone',
    class: 'phone',
    cpu: 'two test cores',
    cores: 2,
    power: { idleW: q(2, 'W'), activeW: q(6, 'W') },
    battery: null,
    radios: { wifi: { energyPerByteUpJ: q(1e-6, 'J/B'), energyPerByteDownJ: q(2e-7, 'J/B'), tailEnergyJ: q(0.1, 'J') } },
    speed: null,
  });

  it('is bytes x J/B each way plus the tail, always estimated, naming radio and profile', () => {
    // 100 000 B up x 1e-6 = 0.1 J; 500 000 B down x 2e-7 = 0.1 J; tail 0.1 J: 0.3 J.
    const part = radioEnergyPart(profile, 'wifi', 100_000, 500_000);
    expect(part.energyJ).toBeCloseTo(0.3, 12);
    expect(part.kind).toBe('estimated');
    expect(part.source).toContain("wifi radio model of device profile 'test-phone'");
    expect(radioEnergyPart(profile, 'wifi', 100_000, 0, { tail: false }).energyJ).toBeCloseTo(0.1, 12);
    expectCode(() => radioEnergyPart(profile, 'lte', 1, 1), ErrorCode.INVALID_ARGUMENT);
  });
});

describe('requestFootprint', () => {
  it('values each side at its own intensity, by hand', () => {
    const fp = requestFootprint({
      // 7.2 J on the device at 250 g/kWh: 7.2 / 3.6e6 x 250 = 5e-4 g.
      device: { energyJ: 7.2, kind: 'measured', source: 'rapl' },
      // 0.36 J on the radio, at the device's intensity (the default): 0.36 / 3.6e6 x 250 = 2.5e-5 g.
      network: { energyJ: 0.36, kind: 'estimated', source: 'wifi model' },
      // 90 J on the server at 40 g/kWh: 90 / 3.6e6 x 40 = 1e-3 g.
      server: { energyJ: 90, kind: 'estimated', source: 'serverPowerW' },
      intensity: { device: point(250, 'GB'), server: point(40, 'FR', 'forecast') },
    });
    expect(fp.device.carbonG).toBeCloseTo(5e-4, 15);
    expect(fp.network.carbonG).toBeCloseTo(2.5e-5, 15);
    expect(fp.network.intensity.zone).toBe('GB');
    expect(fp.server.carbonG).toBeCloseTo(1e-3, 15);
    expect(fp.server.intensity.kind).toBe('forecast');
    expect(fp.totalEnergyJ).toBeCloseTo(97.56, 12);
    expect(fp.totalCarbonG).toBeCloseTo(1.525e-3, 15);
    expect(fp.kind).toBe('estimated');
    expect(fp.device).toMatchObject({ energyJ: 7.2, kind: 'measured', source: 'rapl' });
  });

  it('is measured only when all three sides are', () => {
    const m: EnergyPart = { energyJ: 1, kind: 'measured', source: 'meter' };
    const base = { device: m, network: m, server: m, intensity: { device: point(100, 'A'), network: point(300, 'B'), server: point(200, 'C') } };
    const fp = requestFootprint(base);
    expect(fp.kind).toBe('measured');
    // An explicit network intensity is used: 1 J at 300 g/kWh.
    expect(fp.network.carbonG).toBeCloseTo(300 / 3.6e6, 18);
    expect(fp.totalCarbonG).toBeCloseTo(600 / 3.6e6, 18);
    for (const side of ['device', 'network', 'server'] as const) {
      expect(requestFootprint({ ...base, [side]: { ...m, kind: 'estimated' } }).kind).toBe('estimated');
    }
  });

  it('refuses a bad energy or intensity on any side', () => {
    const m: EnergyPart = { energyJ: 1, kind: 'measured', source: 'meter' };
    const intensity = { device: point(100, 'A'), server: point(200, 'C') };
    expectCode(() => requestFootprint({ device: m, network: { ...m, energyJ: NaN }, server: m, intensity }), ErrorCode.INVALID_ARGUMENT);
    expectCode(() => requestFootprint({ device: m, network: m, server: m, intensity: { ...intensity, server: point(-5, 'C') } }), ErrorCode.INVALID_ARGUMENT);
    expectCode(() => sideFootprint(m, point(Infinity, 'Z')), ErrorCode.INVALID_ARGUMENT);
  });
});

describe('footprintFromTelemetry', () => {
  const q = (value: number, unit: string) => ({ value, unit, kind: 'measured', source: 'a test fixture' });
  const profile = parseDeviceProfile({
    schemaVersion: 1,
    id: 'test-phone',
    name: 'Test phone',
    class: 'phone',
    cpu: 'two test cores',
    cores: 2,
    power: { idleW: q(2, 'W'), activeW: q(6, 'W') },
    battery: null,
    radios: { wifi: { energyPerByteUpJ: q(1e-6, 'J/B'), energyPerByteDownJ: q(2e-7, 'J/B'), tailEnergyJ: q(0.1, 'J') } },
    speed: null,
  });
  const device = point(250, 'GB');
  const deviceEnergy: EnergyPart = { energyJ: 7.2, kind: 'measured', source: 'rapl' };

  it('a split request, by hand: device from the sampler, network from the radio model, server as reported', () => {
    const fp = footprintFromTelemetry(
      {
        path: 'split',
        bytesUp: 100_000,
        bytesDown: 500_000,
        deviceEnergy,
        serverEnergy: { energyJ: 90, kind: 'estimated', source: 'serverPowerW', intensity: { valueGPerKwh: 40, source: 'static FR' } },
      },
      { profile, radio: 'wifi', deviceIntensity: device },
    );
    // Device 7.2 J at 250: 5e-4 g. Network 0.3 J (0.1 up + 0.1 down + 0.1 tail) at 250: 2.0833e-5 g. Server 90 J at 40: 1e-3 g.
    expect(fp.device.carbonG).toBeCloseTo(5e-4, 15);
    expect(fp.network.energyJ).toBeCloseTo(0.3, 12);
    expect(fp.network.carbonG).toBeCloseTo((0.3 / 3.6e6) * 250, 15);
    expect(fp.server.carbonG).toBeCloseTo(1e-3, 15);
    expect(fp.server.intensity).toMatchObject({ gPerKwh: 40, source: 'static FR', zone: 'server', kind: 'estimated' });
    expect(fp.kind).toBe('estimated');
    expect(fp.totalEnergyJ).toBeCloseTo(97.5, 12);
  });

  it('a local request: network and server 0 J measured, so the total is measured when the device part is', () => {
    const fp = footprintFromTelemetry({ path: 'local', bytesUp: 0, bytesDown: 0, deviceEnergy }, { profile, radio: 'wifi', deviceIntensity: device });
    expect(fp.network).toMatchObject({ energyJ: 0, carbonG: 0, kind: 'measured' });
    expect(fp.server).toMatchObject({ energyJ: 0, carbonG: 0, kind: 'measured' });
    expect(fp.kind).toBe('measured');
    expect(fp.totalCarbonG).toBeCloseTo(5e-4, 15);
  });

  it('a given server intensity wins over the reported one; missing parts are refused', () => {
    const serverEnergy = { energyJ: 36, kind: 'estimated' as const, source: 's', intensity: { valueGPerKwh: 40, source: 'x' } };
    const fp = footprintFromTelemetry(
      { path: 'remote', bytesUp: 10, bytesDown: 10, deviceEnergy, serverEnergy },
      { profile, radio: 'wifi', deviceIntensity: device, serverIntensity: point(100, 'DE', 'forecast') },
    );
    // 36 J at 100 g/kWh = 1e-3 g.
    expect(fp.server.carbonG).toBeCloseTo(1e-3, 15);
    expect(fp.server.intensity.zone).toBe('DE');
    expectCode(() => footprintFromTelemetry({ path: 'local', bytesUp: 0, bytesDown: 0 }, { profile, radio: 'wifi', deviceIntensity: device }), ErrorCode.INVALID_ARGUMENT);
    expectCode(() => footprintFromTelemetry({ path: 'split', bytesUp: 5, bytesDown: 5, deviceEnergy }, { profile, radio: 'wifi', deviceIntensity: device }), ErrorCode.INVALID_ARGUMENT);
    expectCode(
      () => footprintFromTelemetry({ path: 'split', bytesUp: 5, bytesDown: 5, deviceEnergy, serverEnergy: { energyJ: 1, kind: 'estimated', source: 's' } }, { profile, radio: 'wifi', deviceIntensity: device }),
      ErrorCode.INVALID_ARGUMENT,
    );
    // A fallback with bytes sent and no answer: the server part is 0 J, estimated.
    const fell = footprintFromTelemetry({ path: 'local-fallback', bytesUp: 5, bytesDown: 0, deviceEnergy }, { profile, radio: 'wifi', deviceIntensity: device });
    expect(fell.server).toMatchObject({ energyJ: 0, kind: 'estimated' });
  });
});
