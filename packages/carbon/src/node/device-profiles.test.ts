import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '@carboncp/core';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  estimatePowerW,
  parseDeviceProfile,
  radioEnergyJ,
  REFERENCE_DEVICE_PROFILE_ID,
  relativeSpeed,
  type DeviceProfile,
} from '../device-profile.js';
import { loadDeviceProfile, loadDeviceProfiles, SHIPPED_DEVICE_PROFILES_DIR } from './device-profiles.js';
import { SchemaValidator } from './json-schema-subset.test-support.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const DEVICES = join(REPO, 'devices');
const SHARED_DEVICES = join(REPO, '..', 'shared', 'data', 'devices');

let profiles: DeviceProfile[];
let raw: Map<string, unknown>;
let schema: SchemaValidator;

beforeAll(async () => {
  profiles = await loadDeviceProfiles(DEVICES);
  raw = new Map();
  for (const p of profiles) raw.set(p.id, JSON.parse(await readFile(join(DEVICES, `${p.id}.json`), 'utf8')));
  schema = new SchemaValidator(JSON.parse(await readFile(join(DEVICES, 'schema.json'), 'utf8')));
});

const byId = (id: string) => {
  const found = profiles.find((p) => p.id === id);
  if (!found) throw new Error(`no profile ${id}`);
  return found;
};

describe('devices/', () => {
  it('holds the required device classes: Pi 4, Pi 5, a Jetson, a phone, a laptop, this machine', () => {
    const ids = profiles.map((p) => p.id);
    for (const id of ['raspberry-pi-4', 'raspberry-pi-5', 'jetson-orin-nano', 'pixel-4', 'macbook-air-m1', 'dev-machine']) {
      expect(ids).toContain(id);
    }
    expect(new Set(profiles.map((p) => p.class))).toEqual(new Set(['single-board', 'embedded-gpu', 'phone', 'laptop', 'server']));
  });

  it('every profile passes both the JSON Schema and parseDeviceProfile', () => {
    for (const [id, json] of raw) {
      expect(schema.validate(json), id).toBeNull();
      expect(() => parseDeviceProfile(json)).not.toThrow();
    }
  });

  it('has active power >= idle power wherever both are known (a rule JSON Schema cannot state)', () => {
    for (const p of profiles) {
      const { idleW, activeW } = p.power;
      if (idleW.value !== null && activeW.value !== null) expect(activeW.value, p.id).toBeGreaterThanOrEqual(idleW.value);
    }
  });

  it('the reference machine has a measured speed, and relative speeds follow from the latencies', () => {
    const reference = byId(REFERENCE_DEVICE_PROFILE_ID);
    expect(reference.speed?.latencyMs.kind).toBe('measured');
    expect(relativeSpeed(reference, reference)).toBe(1);
    const phone = byId('pixel-4');
    // 34.41 ms (dev machine, onnxruntime, 1 thread) / 122.48 ms (Pixel 4, TFLite, 1 large core).
    expect(relativeSpeed(phone, reference)).toBeCloseTo(34.41 / 122.48, 12);
  });

  it('the power and radio models run on the shipped numbers (LTE burst of a ResNet-18 input, by hand)', () => {
    // Pixel 4 LTE: 602,112 B x 3.50712e-6 + 2,048 B x 4.1576e-7 + tail 10.7272 + promotion 0.3146
    //   = 2.11167903744 + 0.00085147648 + 10.7272 + 0.3146 = 13.15433051392 J
    expect(radioEnergyJ(byId('pixel-4'), 'lte', 602_112, 2048)).toBeCloseTo(13.15433051392, 9);
    // vessim Pi: 1.3678 + (2.86927 - 1.3678) x 0.5 = 2.118535 W
    expect(estimatePowerW(byId('raspberry-pi-vessim-dvfs'), 0.5)).toBeCloseTo(2.118535, 12);
    // Raspberry Pi 5: 2.8 + (9.7 - 2.8) x 0.5 = 6.25 W
    expect(estimatePowerW(byId('raspberry-pi-5'), 0.5)).toBeCloseTo(6.25, 12);
    // The MacBook Air's idle power is unknown: refused, not guessed.
    for (const id of ['macbook-air-m1']) {
      expect(() => estimatePowerW(byId(id), 0.5)).toThrow(expect.objectContaining({ code: ErrorCode.DEVICE_PROFILE_INCOMPLETE }));
    }
  });
});

describe('the schema and the validator agree on seeded mutations', () => {
  type Json = unknown;
  const MUTANTS: Json[] = [null, '', '   ', 'x', 'mW', 'unknown', 'estimated', 'derived', 'measured', 0, -1, 1.5, 2, 1e-9, true, [], {}, { value: 1 }];

  function paths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
    const out: (string | number)[][] = [prefix];
    if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
    else if (typeof value === 'object' && value !== null) {
      for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
    }
    return out;
  }

  function mutate(json: Json, next: () => number): Json {
    const copy = structuredClone(json) as Record<string, unknown>;
    const all = paths(copy).slice(1);
    const path = all[Math.floor(next() * all.length)];
    const parent = path.slice(0, -1).reduce<any>((node, key) => node[key], copy);
    const key = path[path.length - 1];
    const action = next();
    if (action < 0.15) delete parent[key];
    else if (action < 0.25) parent[`extra${Math.floor(next() * 3)}`] = MUTANTS[Math.floor(next() * MUTANTS.length)];
    else if (action < 0.35 && typeof parent[key] === 'number') parent[key] = -parent[key] || 0;
    else parent[key] = structuredClone(MUTANTS[Math.floor(next() * MUTANTS.length)]);
    return copy;
  }

  for (const seed of [1, 2, 3, 4]) {
    it(`seed ${seed}: 600 mutants, both accept or both refuse every one`, () => {
      const next = mulberry32(seed);
      const sources = [...raw.values()];
      let accepted = 0;
      let refused = 0;
      for (let i = 0; i < 600; i++) {
        const mutant = mutate(sources[Math.floor(next() * sources.length)], next);
        const schemaError = schema.validate(mutant);
        let parseError: unknown = null;
        try {
          parseDeviceProfile(mutant);
        } catch (error) {
          parseError = error;
        }
        if (parseError !== null) {
          expect(parseError, JSON.stringify(mutant)).toBeInstanceOf(CarboncpError);
          expect((parseError as CarboncpError).code).toBe(ErrorCode.BAD_DEVICE_PROFILE);
        }
        // Both verdicts, with the mutant, in the message when they differ.
        expect({ schema: schemaError === null, parser: parseError === null, mutant }).toEqual({
          schema: parseError === null,
          parser: parseError === null,
          mutant,
        });
        if (parseError === null) accepted++;
        else refused++;
      }
      // The mutations reach both outcomes, so agreement is not agreement on "always refuse".
      expect(accepted).toBeGreaterThan(20);
      expect(refused).toBeGreaterThan(200);
    });
  }

  it('the schema evaluator refuses keywords it does not implement', () => {
    expect(() => new SchemaValidator({ type: 'object', maxProperties: 3 })).toThrow(/maxProperties/);
  });
});

describe('numbers computed from ../shared/data', () => {
  const stress = join(SHARED_DEVICES, 'vessim_rpi_dvfs_stress_power_1s.csv');
  const mobile = join(SHARED_DEVICES, 'mobilemlbench_tflite_cnn_e2e.csv');
  const median = (values: number[]) => {
    const s = [...values].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };

  it.skipIf(!existsSync(stress))('vessim Pi: idle bound and active are the medians at 600 and 1400 MHz', async () => {
    const rows = (await readFile(stress, 'utf8')).trim().split('\n');
    const header = rows[0].split(',');
    const freq = header.indexOf('cpu_freq_mhz');
    const mw = header.indexOf('power_mW');
    const at = (mhz: string) => rows.slice(1).map((r) => r.split(',')).filter((c) => c[freq] === mhz).map((c) => Number(c[mw]));
    const p = byId('raspberry-pi-vessim-dvfs');
    expect(at('600')).toHaveLength(299);
    expect(median(at('600')) / 1000).toBeCloseTo(p.power.idleW.value as number, 6);
    expect(median(at('1400')) / 1000).toBeCloseTo(p.power.activeW.value as number, 6);
  });

  it.skipIf(!existsSync(mobile))('Pixel 4 ResNet-18 latency is the MobileML benchmark mean (us -> ms)', async () => {
    const rows = (await readFile(mobile, 'utf8')).trim().split('\n');
    const header = rows[0].split(',');
    const row = rows.find((r) => r.startsWith('resnet18,'))?.split(',') ?? [];
    const us = Number(row[header.indexOf('pixel4|1large|float|mean')]);
    expect(us / 1000).toBeCloseTo(byId('pixel-4').speed?.latencyMs.value as number, 9);
  });
});

describe('the shipped copy and the loader', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'carboncp-profiles-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('packages/carbon/profiles/ equals devices/ file for file (the package ships them; devices/ is not a package)', async () => {
    const json = (names: string[]) => names.filter((n) => n.endsWith('.json')).sort();
    const shipped = json(await readdir(SHIPPED_DEVICE_PROFILES_DIR));
    expect(shipped).toEqual(json(await readdir(DEVICES)));
    for (const name of shipped) {
      expect(await readFile(join(SHIPPED_DEVICE_PROFILES_DIR, name), 'utf8'), name).toBe(
        await readFile(join(DEVICES, name), 'utf8'),
      );
    }
    expect((await loadDeviceProfiles()).map((p) => p.id)).toEqual(profiles.map((p) => p.id));
  });

  it('loads one profile by id, and names the ids when it is absent', async () => {
    expect((await loadDeviceProfile('pixel-4', DEVICES)).class).toBe('phone');
    await expect(loadDeviceProfile('nokia-3310', DEVICES)).rejects.toMatchObject({
      code: ErrorCode.NOT_FOUND,
      message: expect.stringContaining('raspberry-pi-4'),
    });
  });

  it('refuses a directory with a bad file, naming the file and the field', async () => {
    const good = raw.get('raspberry-pi-4') as Record<string, any>;
    await writeFile(join(dir, 'raspberry-pi-4.json'), JSON.stringify(good));
    expect((await loadDeviceProfiles(dir)).map((p) => p.id)).toEqual(['raspberry-pi-4']);

    const bad = structuredClone(good);
    bad.id = 'other';
    bad.radios.wifi.tailEnergyJ.unit = 'kJ';
    await writeFile(join(dir, 'other.json'), JSON.stringify(bad));
    await expect(loadDeviceProfiles(dir)).rejects.toMatchObject({
      code: ErrorCode.BAD_DEVICE_PROFILE,
      details: { field: 'radios.wifi.tailEnergyJ.unit', file: join(dir, 'other.json') },
    });

    bad.radios.wifi.tailEnergyJ.unit = 'J';
    await writeFile(join(dir, 'other.json'), JSON.stringify({ ...bad, id: 'elsewhere' }));
    await expect(loadDeviceProfiles(dir)).rejects.toMatchObject({ code: ErrorCode.BAD_DEVICE_PROFILE, details: { field: 'id' } });

    await writeFile(join(dir, 'other.json'), '{ not json');
    await expect(loadDeviceProfiles(dir)).rejects.toMatchObject({ code: ErrorCode.BAD_DEVICE_PROFILE, details: { field: '(json)' } });
  });

  it('says NOT_FOUND for a missing directory', async () => {
    await expect(loadDeviceProfiles(join(dir, 'missing'))).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
  });
});
