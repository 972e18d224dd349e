import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { createProvider, parseUtcTime, type IntensityPoint } from '@carboncp/carbon';
import { nodeProviderContext, nodeProviderFactories } from '@carboncp/carbon/node';
import { EXIT, type Command, type Io } from '../command.js';
import { parseCommon } from './partition.js';

const usage = `Usage: carboncp carbon --provider SPEC [--zone Z] [--at ISO-TIME] [--forecast HOURS] [--json]

Prints the grid carbon intensity (gCO2eq/kWh) in force at a time, and with --forecast the
points over the next HOURS hours, each labelled measured, forecast or estimated with its source.

Providers (SPEC is NAME[:ARGUMENT][,KEY=VALUE]...):
  static:G[,zone=Z]           a constant G gCO2eq/kWh (labelled estimated)
  csv:FILE[,zone=Z][,time=COL][,value=COL][,zone-column=COL|none][,step=5|15|30|60]
          [,wrap=none|year|week][,method=M][,signal=average|marginal]
                              replay of a trace: the point whose interval contains the time.
                              Columns by header name (defaults: datetime_utc/time...,
                              ci_direct_gco2eq_per_kwh/Carbon Intensity..., zone_id/zone...);
                              a file without a zone column is zone 'zone=' or its base name.
                              Outside the trace: exit 3, unless wrap=year (same date and hour
                              in the trace's year) or wrap=week (same weekday and hour).
                              Forecasts (method=seasonal-ewma by default; persistence,
                              seasonal-naive-day, seasonal-naive-week) see only the trace up
                              to the time asked.

Options:
  --provider SPEC     where the intensity comes from (required)
  --zone Z            grid zone (e.g. GB, DE, CA-QC); a trace with one zone needs none
  --at ISO-TIME       the instant (default now), e.g. 2022-06-01T12:00Z; no offset means UTC
  --forecast HOURS    also print the points from that instant over the next HOURS hours
  --json              print { "time", "gPerKwh", "zone", "source", "kind", ... } and with
                      --forecast a "forecast": [points]

Exit codes: 0 ok, 2 bad command line or provider spec, 3 bad input (no such file, a trace that
cannot be read, a time outside the trace, an unknown zone), 4 run-time error.`;

function parseAt(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const at = parseUtcTime(text);
  if (Number.isNaN(at)) throw new CarboncpError(ErrorCode.USAGE, `--at must be an ISO time such as 2022-06-01T12:00Z, got '${text}'`);
  return at;
}

function parseHours(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const h = Number(text);
  if (text.trim() === '' || !Number.isFinite(h) || h <= 0 || h > 8784) throw new CarboncpError(ErrorCode.USAGE, `--forecast must be a number of hours in (0, 8784], got '${text}'`);
  return h;
}

function line(p: IntensityPoint): string {
  const extra = [p.signal, p.stale ? 'stale' : undefined].filter((x) => x !== undefined);
  return `${p.time}  ${p.gPerKwh.toFixed(1).padStart(8)}  ${p.kind}${extra.length ? ` (${extra.join(', ')})` : ''}`;
}

async function run(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommon(
    args,
    { provider: { type: 'string' }, zone: { type: 'string' }, at: { type: 'string' }, forecast: { type: 'string' }, json: { type: 'boolean' } },
    'carbon',
  );
  if (positionals.length > 0) throw new CarboncpError(ErrorCode.USAGE, `carbon: unexpected argument '${positionals[0]}'\n\n${usage}`);
  const spec = values.provider as string | undefined;
  if (spec === undefined || spec.trim() === '') throw new CarboncpError(ErrorCode.USAGE, `carbon: --provider SPEC is required (e.g. static:300, csv:trace.csv)\n\n${usage}`);
  const at = parseAt(values.at as string | undefined) ?? Date.now();
  const hours = parseHours(values.forecast as string | undefined);
  const zone = values.zone as string | undefined;
  const query = { at, ...(zone !== undefined ? { zone } : {}) };

  const provider = await createProvider(spec, nodeProviderFactories, nodeProviderContext());
  const current = await provider.current(query);
  const forecast = hours === undefined ? undefined : await provider.forecast(hours, query);

  if (values.json === true) {
    io.out(JSON.stringify({ ...current, ...(forecast ? { forecast } : {}) }, null, 2));
    return EXIT.OK;
  }
  const out = [
    `${current.zone}  ${current.gPerKwh.toFixed(1)} gCO2eq/kWh  ${current.kind}${current.stale ? ', stale' : ''}  from ${current.time}` +
      `${current.durationMinutes ? ` for ${current.durationMinutes} min` : ''}  (${current.source}${current.signal ? `, ${current.signal}` : ''})`,
  ];
  if (forecast) {
    out.push('', `${'time'.padEnd(24)}  gCO2/kWh  kind`, ...forecast.map(line));
  }
  io.out(out.join('\n'));
  return EXIT.OK;
}

export const command: Command = {
  name: 'carbon',
  summary: 'print the grid carbon intensity at a time and its forecast, from a provider',
  usage,
  run,
};
