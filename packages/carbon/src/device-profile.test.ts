import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { describe, expect, it } from 'vitest';
import {
  type DeviceProfile,
  estimatePowerW,
  parseDeviceProfile,
  powerModelSource,
  radioEnergyJ,
  relativeSpeed,
} from './device-profile.js';

const SRC = 'a test fixture, not a real device';
const q = (value: number | null, unit: string, kind = 'measured', how?: string) => ({
  value,
  unit,
  kind,
  source: SRC,
  ...(how ? { how } : {}),
});

/** A valid profile with round numbers, so that every expected value below is computed by hand. */
function fixture(): Record<string, unknown> {
  return {
    schemaVersion: 1,
    id: 'test-phone',
    name: 'Test phone',
    class: 'phone',
    cpu: 'two test cores',
    cores: 2,
    power: { idleW: q(2, 'W'), activeW: q(6, 'W') },
    battery: { capacityWh: q(10, 'Wh') },
    radios: {
      wifi: { energyPerByteUpJ: q(1e-6, 'J/B'), energyPerByteDownJ: q(2e-7, 'J/B'), tailEnergyJ: q(0.1, 'J') },
      lte: {
        energyPerByteUpJ: q(4e-6, 'J/B'),
        energyPerByteDownJ: q(5e-7, 'J/B'),
        tailEnergyJ: q(10, 'J', 'derived', '1 W x 10 s of tail, by hand'),
        promotionEnergyJ: q(0.5, 'J'),
      },
    },
    speed: { model: 'resnet18', input: '1x3x224x224 FP32', runtime: 'test runtime', latencyMs: q(100, 'ms') },
  };
}

const parse = (json: unknown) => parseDeviceProfile(json);

function expectCode(fn: () => unknown, code: string, field?: string): CarboncpError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CarboncpError);
    const e = error as CarboncpError;
    expect(e.code).toBe(code);
    if (field !== undefined) {
      expect(e.details?.field).toBe(field);
      expect(e.message).toContain(field);
    }
    return e;
  }
  throw new Error(`expected ${code}`);
}

describe('parseDeviceProfile', () => {
  it('accepts a valid profile and returns it', () => {
    const json = fixture();
    expect(parse(json)).toBe(json);
  });

  it('accepts null battery, null speed, no radios, an unknown value and $schema', () => {
    const json = fixture();
    json.battery = null;
    json.speed = null;
    json.radios = {};
    json.$schema = './schema.json';
    (json.power as Record<string, unknown>).idleW = q(null, 'W', 'unknown');
    expect(parse(json).battery).toBeNull();
  });

  // Each mutation breaks one rule; the error must name that field.
  const cases: Array<[string, (p: any) => void, string]> = [
    ['not an object', (p) => Object.assign(p, { __replace: true }), '(profile)'],
    ['unknown top-level field', (p) => (p.colour = 'red'), 'colour'],
    ['schemaVersion 2', (p) => (p.schemaVersion = 2), 'schemaVersion'],
    ['id with capitals', (p) => (p.id = 'Test-Phone'), 'id'],
    ['empty name', (p) => (p.name = '   '), 'name'],
    ['unknown class', (p) => (p.class = 'toaster'), 'class'],
    ['cores 0', (p) => (p.cores = 0), 'cores'],
    ['cores 1.5', (p) => (p.cores = 1.5), 'cores'],
    ['missing power', (p) => delete p.power, 'power'],
    ['unknown power field', (p) => (p.power.peakW = q(9, 'W')), 'power.peakW'],
    ['idle in mW', (p) => (p.power.idleW.unit = 'mW'), 'power.idleW.unit'],
    ['negative active', (p) => (p.power.activeW.value = -1), 'power.activeW.value'],
    ['string value', (p) => (p.power.activeW.value = '6'), 'power.activeW.value'],
    ['short source', (p) => (p.power.idleW.source = 'trust me'), 'power.idleW.source'],
    ['missing source', (p) => delete p.power.idleW.source, 'power.idleW.source'],
    ['bad kind', (p) => (p.power.idleW.kind = 'guessed'), 'power.idleW.kind'],
    ['estimated without how', (p) => (p.power.idleW.kind = 'estimated'), 'power.idleW.how'],
    ['unknown with a number', (p) => (p.power.idleW.kind = 'unknown'), 'power.idleW.value'],
    ['null value that is not unknown', (p) => (p.power.idleW.value = null), 'power.idleW.value'],
    ['zero battery', (p) => (p.battery.capacityWh.value = 0), 'battery.capacityWh.value'],
    ['battery missing', (p) => delete p.battery, 'battery'],
    ['unknown radio', (p) => (p.radios.bluetooth = p.radios.wifi), 'radios.bluetooth'],
    ['radio without tail', (p) => delete p.radios.lte.tailEnergyJ, 'radios.lte.tailEnergyJ'],
    ['radio per-bit unit', (p) => (p.radios.wifi.energyPerByteUpJ.unit = 'J/bit'), 'radios.wifi.energyPerByteUpJ.unit'],
    ['zero latency', (p) => (p.speed.latencyMs.value = 0), 'speed.latencyMs.value'],
    ['speed without model', (p) => delete p.speed.model, 'speed.model'],
    ['speed missing', (p) => delete p.speed, 'speed'],
    ['empty notes', (p) => (p.notes = ''), 'notes'],
  ];
  for (const [name, mutate, field] of cases) {
    it(`refuses ${name}, naming ${field}`, () => {
      const json: any = fixture();
      mutate(json);
      expectCode(() => parse(json.__replace ? [json] : json), ErrorCode.BAD_DEVICE_PROFILE, field);
    });
  }
});

describe('estimatePowerW (a linear model)', () => {
  const profile = parse(fixture());
  it('interpolates idle 2 W -> active 6 W', () => {
    expect(estimatePowerW(profile, 0)).toBe(2);
    expect(estimatePowerW(profile, 1)).toBe(6);
    expect(estimatePowerW(profile, 0.25)).toBeCloseTo(3, 12); // 2 + (6 - 2) x 0.25
    expect(estimatePowerW(profile, 0.6)).toBeCloseTo(4.4, 12); // 2 + 4 x 0.6
    expect(powerModelSource(profile)).toContain("'test-phone'");
  });
  it('refuses utilisation outside [0, 1] and NaN', () => {
    for (const u of [-0.01, 1.01, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectCode(() => estimatePowerW(profile, u), ErrorCode.INVALID_ARGUMENT);
    }
  });
  it('refuses a profile whose idle power is unknown, naming the field', () => {
    const json: any = fixture();
    json.power.idleW = q(null, 'W', 'unknown');
    expectCode(() => estimatePowerW(parse(json), 0.5), ErrorCode.DEVICE_PROFILE_INCOMPLETE, 'power.idleW');
  });
});

describe('radioEnergyJ (bytes x energy per byte + tail + promotion)', () => {
  const profile = parse(fixture());
  it('adds per-byte energy, the tail and the promotion once per burst', () => {
    // LTE: 1,000 B up x 4e-6 = 0.004 J; 2,000 B down x 5e-7 = 0.001 J; tail 10 J; promotion 0.5 J.
    expect(radioEnergyJ(profile, 'lte', 1000, 2000)).toBeCloseTo(10.505, 12);
    expect(radioEnergyJ(profile, 'lte', 1000, 2000, { tail: false })).toBeCloseTo(0.505, 12);
    expect(radioEnergyJ(profile, 'lte', 1000, 2000, { tail: false, promotion: false })).toBeCloseTo(0.005, 12);
    // Wi-Fi has no promotion: 602,112 B up x 1e-6 = 0.602112 J; 8 B down x 2e-7 = 1.6e-6 J; tail 0.1 J.
    expect(radioEnergyJ(profile, 'wifi', 602_112, 8)).toBeCloseTo(0.7021136, 12);
    expect(radioEnergyJ(profile, 'wifi', 0, 0)).toBeCloseTo(0.1, 12);
  });
  it('refuses a radio the profile lacks and bad byte counts', () => {
    expectCode(() => radioEnergyJ(profile, 'nr5g', 1, 1), ErrorCode.INVALID_ARGUMENT);
    for (const bytes of [-1, 1.5, Number.NaN]) {
      expectCode(() => radioEnergyJ(profile, 'wifi', bytes, 0), ErrorCode.INVALID_ARGUMENT);
      expectCode(() => radioEnergyJ(profile, 'wifi', 0, bytes), ErrorCode.INVALID_ARGUMENT);
    }
  });
  it('refuses an unknown tail only when the tail is asked for', () => {
    const json: any = fixture();
    json.radios.wifi.tailEnergyJ = q(null, 'J', 'unknown');
    const p = parse(json);
    expectCode(() => radioEnergyJ(p, 'wifi', 10, 10), ErrorCode.DEVICE_PROFILE_INCOMPLETE, 'radios.wifi.tailEnergyJ');
    expect(radioEnergyJ(p, 'wifi', 10, 10, { tail: false })).toBeCloseTo(1.2e-5, 15);
  });
});

describe('relativeSpeed', () => {
  const reference = (latency: number, model = 'resnet18'): DeviceProfile => {
    const json: any = fixture();
    json.id = 'reference';
    json.speed.model = model;
    json.speed.latencyMs.value = latency;
    return parse(json);
  };
  it('is reference latency / profile latency on the same model', () => {
    const profile = parse(fixture()); // 100 ms
    expect(relativeSpeed(profile, reference(25))).toBeCloseTo(0.25, 12);
    expect(relativeSpeed(profile, reference(400))).toBeCloseTo(4, 12);
    expect(relativeSpeed(profile, profile)).toBe(1);
  });
  it('refuses different models and a missing speed', () => {
    const profile = parse(fixture());
    expectCode(() => relativeSpeed(profile, reference(25, 'mobilenetv2')), ErrorCode.DEVICE_PROFILE_INCOMPLETE, 'speed.model');
    const json: any = fixture();
    json.speed = null;
    expectCode(() => relativeSpeed(parse(json), reference(25)), ErrorCode.DEVICE_PROFILE_INCOMPLETE, 'speed');
  });
});
