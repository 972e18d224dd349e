import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isCarboncpError } from '@carboncp/protocol';
import { parseTraceCsv, parseUtcTime, splitCsvLine } from './trace-csv.js';
import { TraceProvider } from './trace.js';
import { StaticProvider } from './static.js';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
const EM = fixture('electricitymaps-fr-gb-2022-01-24.csv');
const DE = fixture('DE.csv');
const HOUR = 3_600_000;
const t = (iso: string): number => Date.parse(iso);

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toSatisfy((e: unknown) => isCarboncpError(e, code));
}
function throwsWith(f: () => unknown, code: string): void {
  expect(f).toThrow(expect.objectContaining({ code }));
}

describe('parseUtcTime', () => {
  it('reads the traces\' layouts as UTC and honours offsets', () => {
    expect(parseUtcTime('2022-01-01 00:00:00')).toBe(Date.UTC(2022, 0, 1));
    expect(parseUtcTime('2022-01-01T00:30Z')).toBe(Date.UTC(2022, 0, 1, 0, 30));
    expect(parseUtcTime('2022-01-01T01:00:00+01:00')).toBe(Date.UTC(2022, 0, 1));
    expect(parseUtcTime('2022-01-01T00:00:00-0530')).toBe(Date.UTC(2022, 0, 1, 5, 30));
    expect(parseUtcTime('2022-06-01 12:00:00.250')).toBe(Date.UTC(2022, 5, 1, 12, 0, 0, 250));
    for (const bad of ['', 'yesterday', '2022-02-30 00:00', '2022-13-01', '2022-01-01 24:00', '1640995200']) expect(parseUtcTime(bad), bad).toBeNaN();
  });

  it('splits quoted CSV fields', () => {
    expect(splitCsvLine('a,"b,c","d ""e"""')).toEqual(['a', 'b,c', 'd "e"']);
  });
});

describe('parseTraceCsv', () => {
  it('reads the Electricity Maps export: zones, hourly step, estimated rows', () => {
    const trace = parseTraceCsv(EM);
    expect([...trace.series.keys()]).toEqual(['FR', 'GB']);
    expect(trace.columns).toEqual({ time: 'datetime_utc', value: 'ci_direct_gco2eq_per_kwh', zone: 'zone_id', estimated: 'data_estimated' });
    const gb = trace.series.get('GB')!;
    expect(gb.stepMinutes).toBe(60);
    expect(gb.startMs).toBe(t('2022-01-24T00:00Z'));
    expect(gb.values.length).toBe(14 * 24);
    // Row "GB,2022-01-24 00:00:00,..." of the real file.
    const row = EM.split('\n').find((l) => l.startsWith('GB,2022-01-24 00:00:00'))!.split(',');
    expect(gb.values[0]).toBe(Number(row[2]));
    const fr = trace.series.get('FR')!;
    const estimatedRows = EM.split('\n').filter((l) => l.startsWith('FR,') && l.trim().endsWith(',true'));
    expect(estimatedRows.length).toBeGreaterThan(0);
    expect(fr.estimated.reduce((a, b) => a + b, 0)).toBe(estimatedRows.length);
  });

  it('chooses columns and a zone by name', () => {
    const trace = parseTraceCsv(EM, { zone: 'FR', valueColumn: 'CI_LCA_GCO2EQ_PER_KWH' });
    expect([...trace.series.keys()]).toEqual(['FR']);
    const row = EM.split('\n').find((l) => l.startsWith('FR,2022-01-24 05:00:00'))!.split(',');
    expect(trace.series.get('FR')!.values[5]).toBe(Number(row[3]));
    throwsWith(() => parseTraceCsv(EM, { zone: 'XX' }), ErrorCode.UNKNOWN_ZONE);
    throwsWith(() => parseTraceCsv(EM, { valueColumn: 'nope' }), ErrorCode.BAD_TRACE);
    throwsWith(() => parseTraceCsv(EM, { stepMinutes: 7 }), ErrorCode.INVALID_ARGUMENT);
  });

  it('reads a plain Time,Carbon Intensity file', () => {
    const trace = parseTraceCsv(DE, { defaultZone: 'DE' });
    const de = trace.series.get('DE')!;
    expect(trace.columns).toEqual({ time: 'Time', value: 'Carbon Intensity' });
    expect(de.values.length).toBe(72);
    expect(de.values[0]).toBe(543.24);
  });

  it.each([5, 15, 30, 60])('detects a %i-minute step, with a gap, and refuses other spacings', (step) => {
    const rows = ['Time,Carbon Intensity'];
    for (let i = 0; i < 10; i++) if (i !== 4) rows.push(`${new Date(Date.UTC(2024, 0, 1) + i * step * 60_000).toISOString()},${100 + i}`);
    const s = parseTraceCsv(rows.join('\n')).series.get('unknown')!;
    expect(s.stepMinutes).toBe(step);
    expect(s.values.length).toBe(10);
    expect(s.values[4]).toBeNaN();
    expect(s.values[9]).toBe(109);
    // The step given must fit the points.
    if (step > 5) expect(parseTraceCsv(rows.join('\n'), { stepMinutes: 5 }).series.get('unknown')!.values.length).toBe(1 + (9 * step) / 5);
  });

  it('refuses malformed traces with the line', () => {
    const bad: Array<[string, RegExp]> = [
      ['', /empty/],
      ['Time,Carbon Intensity\n2024-01-01 00:00,1\n2024-01-01 00:07,2\n2024-01-01 00:14,3', /7 minutes apart/],
      ['Time,Carbon Intensity\n2024-01-01 00:00,1\nnot a time,2', /line 3/],
      ['Time,Carbon Intensity\n2024-01-01 00:00,1\n2024-01-01 01:00,-5', /line 3.*non-negative/],
      ['Time,Carbon Intensity\n2024-01-01 00:00,1\n2024-01-01 01:00,1\n2024-01-01 01:00,2', /two rows/],
      ['Time,Carbon Intensity\n2024-01-01 00:00,1\n2024-01-01 01:00,1\n2024-01-01 01:30,2\n2024-01-01 03:00,1', /grid/],
      ['Time,Carbon Intensity\n2024-01-01 00:00,1', /one point/],
      ['When,What\n2024-01-01 00:00,1', /no time column/],
      ['Time,Carbon Intensity\n2024-01-01 00:00', /fields/],
    ];
    for (const [text, message] of bad) {
      expect(() => parseTraceCsv(text), text).toThrow(message);
      throwsWith(() => parseTraceCsv(text), ErrorCode.BAD_TRACE);
    }
  });
});

describe('TraceProvider', () => {
  const provider = TraceProvider.fromCsv(EM, { source: 'csv:em.csv', signal: 'average' });

  it('answers the point whose interval contains the instant', async () => {
    const gb = provider.trace.series.get('GB')!;
    for (const [iso, index] of [['2022-01-24T00:00:00Z', 0], ['2022-01-24T00:59:59.999Z', 0], ['2022-01-24T01:00:00Z', 1], ['2022-02-06T23:30:00Z', 14 * 24 - 1]] as const) {
      const p = await provider.current({ zone: 'GB', at: t(iso) });
      expect(p, iso).toEqual({
        time: new Date(gb.startMs + index * HOUR).toISOString(),
        durationMinutes: 60,
        gPerKwh: gb.values[index],
        zone: 'GB',
        source: 'csv:em.csv',
        kind: 'measured',
        signal: 'average',
      });
    }
    const est = await provider.current({ zone: 'FR', at: t('2022-01-31T11:20Z') });
    expect(est.kind).toBe('estimated');
  });

  it('refuses instants outside the trace, unknown zones, and a zone-less query with several zones', async () => {
    await rejectsWith(provider.current({ zone: 'GB', at: t('2022-01-23T23:59:59Z') }), ErrorCode.OUT_OF_TRACE);
    await rejectsWith(provider.current({ zone: 'GB', at: t('2022-02-07T00:00Z') }), ErrorCode.OUT_OF_TRACE);
    await rejectsWith(provider.forecast(6, { zone: 'GB', at: t('2023-01-01T00:00Z') }), ErrorCode.OUT_OF_TRACE);
    await rejectsWith(provider.current({ zone: 'DE', at: t('2022-01-25T00:00Z') }), ErrorCode.UNKNOWN_ZONE);
    await rejectsWith(provider.current({ at: t('2022-01-25T00:00Z') }), ErrorCode.UNKNOWN_ZONE);
    const gap = TraceProvider.fromCsv('Time,Carbon Intensity\n2024-01-01 00:00,1\n2024-01-01 01:00,2\n2024-01-01 03:00,3');
    await rejectsWith(gap.current({ at: t('2024-01-01T02:10Z') }), ErrorCode.OUT_OF_TRACE);
    expect((await gap.current({ at: t('2024-01-01T03:10Z') })).gPerKwh).toBe(3);
  });

  it('replays by week (same weekday and hour) and by year (same date and hour)', async () => {
    const week = TraceProvider.fromCsv(EM, { zone: 'GB', wrap: 'week' });
    // 2022-01-24 is a Monday, 2026-11-30 too; the trace holds two whole weeks.
    const p = await week.current({ at: t('2026-11-30T05:30Z') });
    const offset = (t('2026-11-30T05:00Z') - t('2022-01-24T00:00Z')) % (14 * 24 * HOUR);
    expect(p.time).toBe('2026-11-30T05:00:00.000Z');
    expect(p.gPerKwh).toBe(week.trace.series.get('GB')!.values[offset / HOUR]);
    expect(new Date(t('2022-01-24T00:00Z') + offset).getUTCDay()).toBe(1);
    const before = await week.current({ at: t('2021-01-04T00:00Z') }); // a Monday before the trace
    expect(new Date(before.time).getUTCDay()).toBe(1);

    const year = TraceProvider.fromCsv(EM, { zone: 'GB', wrap: 'year' });
    const y = await year.current({ at: t('2030-01-25T07:15Z') });
    expect(y.time).toBe('2030-01-25T07:00:00.000Z');
    expect(y.gPerKwh).toBe((await provider.current({ zone: 'GB', at: t('2022-01-25T07:15Z') })).gPerKwh);
    await rejectsWith(year.current({ at: t('2030-06-01T00:00Z') }), ErrorCode.OUT_OF_TRACE); // June is not in the slice
  });

  it('forecasts from the simulated now without peeking at the recorded future', async () => {
    const now = t('2022-02-03T10:20Z');
    const points = await provider.forecast(24, { zone: 'GB', at: now });
    expect(points).toHaveLength(25); // the hour in force, then 24 forecast hours
    expect(points[0]).toMatchObject({ time: '2022-02-03T10:00:00.000Z', kind: 'measured' });
    expect(points.slice(1).every((p) => p.kind === 'forecast' && p.zone === 'GB' && p.durationMinutes === 60)).toBe(true);
    expect(points.map((p) => Date.parse(p.time))).toEqual(points.map((_, i) => t('2022-02-03T10:00Z') + i * HOUR));
    // The same forecast from a trace cut at now: identical, so nothing after now was used.
    const cut = EM.split('\n').filter((l) => !/^(FR|GB),/.test(l) || l.split(',')[1] <= '2022-02-03 10:00:00').join('\n');
    const blind = await TraceProvider.fromCsv(cut).forecast(24, { zone: 'GB', at: now });
    expect(blind.map((p) => p.gPerKwh)).toEqual(points.map((p) => p.gPerKwh));
    // Still usable past the trace's end once the simulated now is its last hour: [23:00, 02:00).
    const end = await provider.forecast(3, { zone: 'GB', at: t('2022-02-06T23:00Z') });
    expect(end.map((p) => p.time)).toEqual(['2022-02-06T23:00:00.000Z', '2022-02-07T00:00:00.000Z', '2022-02-07T01:00:00.000Z']);
    expect(end.slice(1).every((p) => Number.isFinite(p.gPerKwh) && p.gPerKwh >= 0)).toBe(true);
    // Going back in time starts the forecaster over and gives the same answer as a fresh provider.
    const again = await provider.forecast(24, { zone: 'GB', at: now });
    expect(again).toEqual(points);
  });

  it('forecasts over half an hour cover the interval in force', async () => {
    const points = await provider.forecast(0.5, { zone: 'FR', at: t('2022-02-03T10:45Z') });
    expect(points.map((p) => p.time)).toEqual(['2022-02-03T10:00:00.000Z', '2022-02-03T11:00:00.000Z']);
    await rejectsWith(provider.forecast(0, { zone: 'FR', at: t('2022-02-03T10:45Z') }), ErrorCode.INVALID_ARGUMENT);
  });
});

describe('StaticProvider', () => {
  it('is one assumed value: estimated, never measured', async () => {
    const s = new StaticProvider(300, { zone: 'EU' });
    expect(await s.current({ at: t('2024-05-01T10:20Z') })).toEqual({ time: '2024-05-01T10:00:00.000Z', durationMinutes: 60, gPerKwh: 300, zone: 'EU', source: 'static', kind: 'estimated' });
    const f = await s.forecast(3, { at: t('2024-05-01T10:20Z'), zone: 'FR' });
    expect(f.map((p) => [p.time, p.gPerKwh, p.zone, p.kind])).toEqual([
      ['2024-05-01T10:00:00.000Z', 300, 'FR', 'estimated'],
      ['2024-05-01T11:00:00.000Z', 300, 'FR', 'estimated'],
      ['2024-05-01T12:00:00.000Z', 300, 'FR', 'estimated'],
      ['2024-05-01T13:00:00.000Z', 300, 'FR', 'estimated'],
    ]);
    throwsWith(() => new StaticProvider(-1), ErrorCode.INVALID_ARGUMENT);
    throwsWith(() => new StaticProvider(Number.NaN), ErrorCode.INVALID_ARGUMENT);
  });
});
