import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../command.js';
import { main } from '../main.js';
import { capture, useTempDir } from '../testing/cli-fixtures.js';

const fixtures = fileURLToPath(new URL('../../../carbon/src/fixtures/', import.meta.url));
const EM = join(fixtures, 'electricitymaps-fr-gb-2022-01-24.csv');
const DE = join(fixtures, 'DE.csv');
const tmp = useTempDir('carboncp-cli-carbon-');

/** The fixture's value for a zone and an hour ('2022-01-25 07:00:00'), read straight from the file. */
function valueOf(zone: string, hour: string, column = 2): number {
  const row = readFileSync(EM, 'utf8').split('\n').find((l) => l.startsWith(`${zone},${hour}`));
  if (!row) throw new Error(`no row ${zone} ${hour}`);
  return Number(row.split(',')[column]);
}

async function json(args: string[]): Promise<Record<string, unknown>> {
  const io = capture();
  const code = await main(['carbon', ...args, '--json'], io);
  expect(code, io.stderr.join('\n')).toBe(EXIT.OK);
  return JSON.parse(io.stdout.join('\n'));
}

describe('carboncp carbon', () => {
  it('prints a static value as JSON, labelled estimated', async () => {
    expect(await json(['--provider', 'static:300', '--zone', 'GB', '--at', '2024-05-01T10:20Z'])).toEqual({
      time: '2024-05-01T10:00:00.000Z',
      durationMinutes: 60,
      gPerKwh: 300,
      zone: 'GB',
      source: 'static',
      kind: 'estimated',
    });
  });

  it('replays the Electricity Maps trace: the point whose hour contains --at, in every zone and column', async () => {
    for (const [zone, at, hour] of [['GB', '2022-01-25T07:59Z', '2022-01-25 07:00:00'], ['FR', '2022-02-01T00:00Z', '2022-02-01 00:00:00']] as const) {
      const r = await json(['--provider', `csv:${EM}`, '--zone', zone, '--at', at]);
      expect(r).toMatchObject({ time: `${hour.replace(' ', 'T')}.000Z`, gPerKwh: valueOf(zone, hour), zone, source: `csv:${EM}`, kind: 'measured', durationMinutes: 60 });
    }
    const lca = await json(['--provider', `csv:${EM},zone=FR,value=ci_lca_gco2eq_per_kwh,signal=average`, '--at', '2022-02-01T00:30Z']);
    expect(lca).toMatchObject({ gPerKwh: valueOf('FR', '2022-02-01 00:00:00', 3), zone: 'FR', signal: 'average' });
    expect(await json(['--provider', `csv:${EM}`, '--zone', 'FR', '--at', '2022-01-31T11:00Z'])).toMatchObject({ kind: 'estimated' });
  });

  it('prints the forecast from --at: the hour in force, then forecast hours', async () => {
    const r = (await json(['--provider', `csv:${EM}`, '--zone', 'GB', '--at', '2022-02-03T10:20Z', '--forecast', '6'])) as { gPerKwh: number; forecast: Array<Record<string, unknown>> };
    expect(r.forecast).toHaveLength(7);
    expect(r.forecast[0]).toMatchObject({ time: '2022-02-03T10:00:00.000Z', kind: 'measured', gPerKwh: r.gPerKwh });
    expect(r.forecast.slice(1).map((p) => p.kind)).toEqual(Array(6).fill('forecast'));
    const text = capture();
    expect(await main(['carbon', '--provider', `csv:${EM}`, '--zone', 'GB', '--at', '2022-02-03T10:20Z', '--forecast', '6'], text)).toBe(EXIT.OK);
    const out = text.stdout.join('\n');
    expect(out).toMatch(/^GB {2}\d+\.\d gCO2eq\/kWh {2}measured {2}from 2022-02-03T10:00:00.000Z for 60 min/);
    expect(out.split('\n').filter((l) => / forecast$/.test(l))).toHaveLength(6);
  });

  it('reads a plain Time,Carbon Intensity file, its zone from the file name, and replays it by week', async () => {
    const r = await json(['--provider', `csv:${DE}`, '--at', '2022-06-02T13:00:00']);
    expect(r).toMatchObject({ zone: 'DE', kind: 'measured', time: '2022-06-02T13:00:00.000Z' });
    const fifteen = join(tmp.path, 'quarter.csv');
    await writeFile(fifteen, 'Time,Carbon Intensity\n2024-03-04 00:00:00,100\n2024-03-04 00:15:00,110\n2024-03-04 00:30:00,120\n2024-03-04 00:45:00,130\n');
    expect(await json(['--provider', `csv:${fifteen},zone=NL`, '--at', '2024-03-04T00:31Z'])).toMatchObject({ gPerKwh: 120, zone: 'NL', durationMinutes: 15, time: '2024-03-04T00:30:00.000Z' });
    // wrap=week: a Monday 05:30 in 2026 replays the fixture's Monday (2022-01-24 or -31) 05:00.
    const w = await json(['--provider', `csv:${EM},zone=GB,wrap=week`, '--at', '2026-11-30T05:30Z']);
    expect(w.time).toBe('2026-11-30T05:00:00.000Z');
    expect([valueOf('GB', '2022-01-24 05:00:00'), valueOf('GB', '2022-01-31 05:00:00')]).toContain(w.gPerKwh);
  });

  it('bad command lines and specs exit 2; missing files, bad traces, times outside and unknown zones exit 3', async () => {
    const bad = join(tmp.path, 'bad.csv');
    await writeFile(bad, 'Time,Carbon Intensity\n2024-01-01 00:00,1\n2024-01-01 00:07,2\n2024-01-01 00:14,3\n');
    const cases: Array<[string[], number, RegExp]> = [
      [[], EXIT.USAGE, /--provider SPEC is required/],
      [['--provider', 'static:300', 'extra'], EXIT.USAGE, /unexpected argument/],
      [['--provider', 'static:300', '--at', 'tomorrow'], EXIT.USAGE, /--at/],
      [['--provider', 'static:300', '--forecast', '0'], EXIT.USAGE, /--forecast/],
      [['--provider', 'static:300', '--bogus'], EXIT.USAGE, /bogus/],
      [['--provider', 'static:-3'], EXIT.USAGE, /non-negative/],
      [['--provider', 'nope:1'], EXIT.USAGE, /unknown carbon provider 'nope' \(known: static, csv, uk, electricitymaps, watttime, carbon-aware-sdk\)/],
      [['--provider', `csv:${EM},colour=red`], EXIT.USAGE, /takes no 'colour'/],
      [['--provider', `csv:${EM},wrap=month`], EXIT.USAGE, /wrap/],
      [['--provider', `csv:${EM},method=magic`], EXIT.USAGE, /method/],
      [['--provider', `csv:${join(tmp.path, 'missing.csv')}`], EXIT.BAD_INPUT, /CARBONCP_NOT_FOUND/],
      [['--provider', `csv:${bad}`, '--at', '2024-01-01T00:00Z'], EXIT.BAD_INPUT, /CARBONCP_BAD_TRACE.*7 minutes/],
      [['--provider', `csv:${EM},value=nope`, '--zone', 'GB'], EXIT.BAD_INPUT, /CARBONCP_BAD_TRACE/],
      [['--provider', `csv:${EM}`, '--zone', 'GB', '--at', '2023-01-01T00:00Z'], EXIT.BAD_INPUT, /CARBONCP_OUT_OF_TRACE.*wrap=year/],
      [['--provider', `csv:${EM}`, '--zone', 'GB'], EXIT.BAD_INPUT, /CARBONCP_OUT_OF_TRACE/], // now is not in 2022
      [['--provider', `csv:${EM}`, '--zone', 'PL', '--at', '2022-01-25T00:00Z'], EXIT.BAD_INPUT, /CARBONCP_UNKNOWN_ZONE.*FR, GB/],
      [['--provider', `csv:${EM},zone=PL`], EXIT.BAD_INPUT, /CARBONCP_UNKNOWN_ZONE/],
      [['--provider', `csv:${EM}`, '--at', '2022-01-25T00:00Z'], EXIT.BAD_INPUT, /several zones/],
    ];
    for (const [args, code, message] of cases) {
      const io = capture();
      expect(await main(['carbon', ...args], io), args.join(' ')).toBe(code);
      expect(io.stderr.join('\n'), args.join(' ')).toMatch(message);
      expect(io.stdout, args.join(' ')).toEqual([]);
    }
  });

  it('is listed in the help', async () => {
    const io = capture();
    expect(await main(['--help'], io)).toBe(EXIT.OK);
    expect(io.stdout.join('\n')).toMatch(/carbon +print the grid carbon intensity/);
    const usage = capture();
    expect(await main(['carbon', '--help'], usage)).toBe(EXIT.OK);
    expect(usage.stdout.join('\n')).toMatch(/csv:FILE\[,zone=Z\]/);
  });
});
