import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSiteTrace, siteIndexAt, siteWaterLPerKwh } from './site-trace.js';

const slice = readFileSync(new URL('./fixtures/sites-slice.csv', import.meta.url), 'utf8');

describe('parseSiteTrace', () => {
  it('reads each site as an hourly series, carbon in g/kWh', () => {
    const sites = parseSiteTrace(slice);
    expect(sites.map((s) => s.site)).toEqual(['Belgium', 'Japan', 'Texas']);
    const japan = sites[1]!;
    expect(japan.startMs).toBe(Date.UTC(2022, 8, 22, 0));
    expect(japan.stepMs).toBe(3_600_000);
    expect(japan.carbonGPerKwh).toHaveLength(4);
    expect(japan.carbonGPerKwh[0]).toBeCloseTo(301.63696844551324, 9);
    expect(japan.wueLPerKwh[3]).toBeCloseTo(2.7675057266603815, 12);
    expect(sites[2]!.priceUsdPerMwh[0]).toBeCloseTo(38.35, 12);
  });

  it('water is WUE alone in this file, plus grid water where a source adds it', () => {
    const texas = parseSiteTrace(slice)[2]!;
    expect(texas.gridWaterLPerKwh).toBeUndefined();
    expect(siteWaterLPerKwh(texas, 1)).toBeCloseTo(6.0503954509735065, 12);
    expect(siteWaterLPerKwh({ ...texas, gridWaterLPerKwh: [1, 2, 3, 4] }, 1)).toBeCloseTo(8.0503954509735065, 12);
  });

  it('indexes a time to its hour, clamped to the ends', () => {
    const s = parseSiteTrace(slice)[0]!;
    expect(siteIndexAt(s, Date.UTC(2022, 8, 22, 2, 59))).toBe(2);
    expect(siteIndexAt(s, Date.UTC(2022, 8, 21))).toBe(0);
    expect(siteIndexAt(s, Date.UTC(2022, 9, 30))).toBe(3);
  });

  it('refuses a gap, a missing column and a bad number', () => {
    const header = 'location,time_utc,wue_L_per_kWh,carbon_kg_per_kWh,price_USD_per_MWh';
    expect(() => parseSiteTrace(`${header}\nA,2022-09-22 00,1,0.1,1\nA,2022-09-22 02,1,0.1,1`)).toThrow(/jumps/);
    expect(() => parseSiteTrace('location,time_utc\nA,2022-09-22 00')).toThrow(/wue_l_per_kwh/);
    expect(() => parseSiteTrace(`${header}\nA,2022-09-22 00,x,0.1,1`)).toThrow(/numbers/);
    expect(() => parseSiteTrace(`${header}\nA,2022-09-22 00,1,0.1,1\nB,2022-09-22 01,1,0.1,1`)).toThrow(/share no hour/);
  });

  it('leaves out rows without water or carbon and cuts every site to the hours all share', () => {
    const header = 'location,time_utc,wue_L_per_kWh,carbon_kg_per_kWh,price_USD_per_MWh';
    const text = `${header}\nA,2022-09-22 00,1,0.1,1\nA,2022-09-22 01,2,0.2,1\nA,2022-09-22 02,,,5\nB,2022-09-21 23,9,0.9,1\nB,2022-09-22 00,3,0.3,1\nB,2022-09-22 01,4,0.4,1`;
    const [a, b] = parseSiteTrace(text);
    expect(a!.startMs).toBe(Date.UTC(2022, 8, 22, 0));
    expect(b!.startMs).toBe(Date.UTC(2022, 8, 22, 0));
    expect(a!.wueLPerKwh).toEqual([1, 2]);
    expect(b!.wueLPerKwh).toEqual([3, 4]);
    expect(b!.carbonGPerKwh[1]).toBeCloseTo(400, 9);
  });
});
