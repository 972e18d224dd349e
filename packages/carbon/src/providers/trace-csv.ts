import { CarboncpError, ErrorCode } from '@carboncp/protocol';

/**
 * Platform-neutral parsing of carbon-intensity traces from CSV text into regular series, one per
 * zone. Reads the Electricity Maps yearly exports (zone_id, datetime_utc, ci_direct_gco2eq_per_kwh,
 * ..., data_estimated) and plain `Time,Carbon Intensity` files (the Let's Wait Awhile layout).
 */

/** Steps a trace may have, in minutes. */
export const TRACE_STEPS_MINUTES: readonly number[] = [5, 15, 30, 60];

const MINUTE_MS = 60_000;

// Column names tried, in order, when none is given (compared without case and surrounding spaces).
const TIME_COLUMNS = ['datetime_utc', 'datetime', 'time', 'timestamp', 'date'];
const VALUE_COLUMNS = ['ci_direct_gco2eq_per_kwh', 'carbon intensity', 'carbon_intensity', 'carbonintensity', 'gco2eq_per_kwh', 'intensity', 'value'];
const ZONE_COLUMNS = ['zone_id', 'zone', 'region', 'location'];
const ESTIMATED_COLUMNS = ['data_estimated', 'estimated', 'is_estimated'];

export interface ParseTraceOptions {
  /** Time column (name as in the header); default the first of datetime_utc, datetime, time, timestamp, date. */
  timeColumn?: string;
  /** Value column in gCO2eq/kWh; default the first of ci_direct_gco2eq_per_kwh, Carbon Intensity, carbon_intensity, intensity, value. */
  valueColumn?: string;
  /** Zone column; default zone_id, zone, region or location where present. `null`: the file has none. */
  zoneColumn?: string | null;
  /** Keep only this zone's rows (with a zone column); names the one series of a file without one. */
  zone?: string;
  /** Name of the one series of a file without a zone column when `zone` is not given; default 'unknown'. */
  defaultZone?: string;
  /** Step in minutes (5, 15, 30, 60); default detected per zone (the most common spacing). */
  stepMinutes?: number;
}

/** One zone's trace on a regular grid: point i holds for [startMs + i*step, startMs + (i+1)*step). */
export interface TraceSeries {
  zone: string;
  stepMinutes: number;
  startMs: number;
  /** gCO2eq/kWh per step; NaN where the file has no row (a gap). */
  values: Float64Array;
  /** 1 where the file marks the row estimated (data_estimated=true), else 0. */
  estimated: Uint8Array;
}

export interface ParsedTrace {
  /** Series by zone, in the order zones first appear in the file. */
  series: Map<string, TraceSeries>;
  columns: { time: string; value: string; zone?: string; estimated?: string };
}

function badTrace(message: string, cause?: unknown): CarboncpError {
  return new CarboncpError(ErrorCode.BAD_TRACE, message, cause === undefined ? {} : { cause });
}

/** Splits one CSV line (RFC 4180 quotes, "" inside quotes). */
export function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields;
}

const TIME_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2}|UTC)?$/i;

/**
 * Milliseconds since the epoch of an ISO-8601-like time ('2022-01-01 00:00:00', '2022-01-01T00:00Z',
 * '2022-01-01T01:00+01:00'). A time without an offset is UTC (the traces are UTC), not local time.
 * Returns NaN for anything else.
 */
export function parseUtcTime(text: string): number {
  const m = TIME_RE.exec(text.trim());
  if (!m) return Number.NaN;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '0', zone] = m;
  const ms = Math.round(Number(`0.${frac}`) * 1000);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return Number.NaN;
  let t = Date.UTC(Number(y), month - 1, day, hour, minute, second, ms);
  if (new Date(t).getUTCDate() !== day) return Number.NaN; // 2022-02-30
  if (zone !== undefined && zone.toUpperCase() !== 'Z' && zone.toUpperCase() !== 'UTC') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * MINUTE_MS;
  }
  return t;
}

function findColumn(header: string[], wanted: string | undefined, defaults: string[], what: string, required: boolean): number {
  const norm = header.map((h) => h.trim().toLowerCase());
  if (wanted !== undefined) {
    const i = norm.indexOf(wanted.trim().toLowerCase());
    if (i < 0) throw badTrace(`no ${what} column '${wanted}' in the header (columns: ${header.join(', ')})`);
    return i;
  }
  for (const name of defaults) {
    const i = norm.indexOf(name);
    if (i >= 0) return i;
  }
  if (required) throw badTrace(`no ${what} column found (tried ${defaults.join(', ')}; columns: ${header.join(', ')}); name it`);
  return -1;
}

/** Blank lines and '#' comment lines (attribution in a fixture) are not rows. */
function isSkipped(line: string): boolean {
  const t = line.trim();
  return t === '' || t.startsWith('#');
}

function parseBool(text: string): boolean {
  const t = text.trim().toLowerCase();
  return t === 'true' || t === '1' || t === 'yes';
}

interface Row {
  t: number;
  v: number;
  est: boolean;
}

/** Parses CSV text into one regular series per zone. Throws CARBONCP_BAD_TRACE with the line number on bad input. */
export function parseTraceCsv(text: string, options: ParseTraceOptions = {}): ParsedTrace {
  if (options.stepMinutes !== undefined && !TRACE_STEPS_MINUTES.includes(options.stepMinutes)) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `step must be one of ${TRACE_STEPS_MINUTES.join(', ')} minutes, got ${options.stepMinutes}`);
  }
  const lines = text.split(/\r?\n/);
  let first = 0;
  while (first < lines.length && isSkipped(lines[first])) first++;
  if (first === lines.length) throw badTrace('the trace is empty');
  const header = splitCsvLine(lines[first].replace(/^\uFEFF/, ''));
  const timeCol = findColumn(header, options.timeColumn, TIME_COLUMNS, 'time', true);
  const valueCol = findColumn(header, options.valueColumn, VALUE_COLUMNS, 'value', true);
  const zoneCol = options.zoneColumn === null ? -1 : findColumn(header, options.zoneColumn, ZONE_COLUMNS, 'zone', false);
  const estCol = findColumn(header, undefined, ESTIMATED_COLUMNS, 'estimated', false);
  const fallbackZone = options.zone ?? options.defaultZone ?? 'unknown';

  const rows = new Map<string, Row[]>();
  for (let li = first + 1; li < lines.length; li++) {
    const line = lines[li];
    if (isSkipped(line)) continue;
    const f = splitCsvLine(line);
    const zone = zoneCol >= 0 ? (f[zoneCol] ?? '').trim() : fallbackZone;
    if (zoneCol >= 0 && options.zone !== undefined && zone !== options.zone) continue;
    const tText = f[timeCol];
    const vText = f[valueCol];
    if (tText === undefined || vText === undefined) throw badTrace(`line ${li + 1}: ${f.length} fields, the header has ${header.length}`);
    const t = parseUtcTime(tText);
    if (Number.isNaN(t)) throw badTrace(`line ${li + 1}: '${tText}' is not a time (expected e.g. 2022-01-01 00:00:00 or 2022-01-01T00:00Z)`);
    const v = vText.trim() === '' ? Number.NaN : Number(vText);
    if (vText.trim() !== '' && (!Number.isFinite(v) || v < 0)) throw badTrace(`line ${li + 1}: '${vText}' is not a non-negative number of gCO2eq/kWh`);
    let list = rows.get(zone);
    if (!list) rows.set(zone, (list = []));
    list.push({ t, v, est: estCol >= 0 && parseBool(f[estCol] ?? '') });
  }
  if (rows.size === 0) {
    throw new CarboncpError(
      options.zone !== undefined && zoneCol >= 0 ? ErrorCode.UNKNOWN_ZONE : ErrorCode.BAD_TRACE,
      options.zone !== undefined && zoneCol >= 0 ? `the trace has no rows of zone '${options.zone}'` : 'the trace has no rows',
    );
  }
  const series = new Map<string, TraceSeries>();
  for (const [zone, list] of rows) series.set(zone, toSeries(zone, list, options.stepMinutes));
  return {
    series,
    columns: {
      time: header[timeCol].trim(),
      value: header[valueCol].trim(),
      ...(zoneCol >= 0 ? { zone: header[zoneCol].trim() } : {}),
      ...(estCol >= 0 ? { estimated: header[estCol].trim() } : {}),
    },
  };
}

function toSeries(zone: string, list: Row[], given: number | undefined): TraceSeries {
  list.sort((a, b) => a.t - b.t);
  let stepMinutes = given;
  if (stepMinutes === undefined) {
    if (list.length < 2) throw badTrace(`zone '${zone}': one point, so no step to detect; give the step (5, 15, 30 or 60 minutes)`);
    // The most common spacing: gaps and a clock change leave it alone.
    const counts = new Map<number, number>();
    for (let i = 1; i < list.length; i++) {
      const d = list[i].t - list[i - 1].t;
      counts.set(d, (counts.get(d) ?? 0) + 1);
    }
    let best = 0;
    let bestCount = -1;
    for (const [d, c] of counts) if (c > bestCount) [best, bestCount] = [d, c];
    stepMinutes = best / MINUTE_MS;
    if (!TRACE_STEPS_MINUTES.includes(stepMinutes)) {
      throw badTrace(`zone '${zone}': the points are ${stepMinutes} minutes apart; a trace has steps of ${TRACE_STEPS_MINUTES.join(', ')} minutes`);
    }
  }
  const stepMs = stepMinutes * MINUTE_MS;
  const startMs = list[0].t;
  const n = Math.round((list[list.length - 1].t - startMs) / stepMs) + 1;
  if (n > 10_000_000) throw badTrace(`zone '${zone}': ${n} steps of ${stepMinutes} minutes is too long a trace`);
  const values = new Float64Array(n).fill(Number.NaN);
  const estimated = new Uint8Array(n);
  for (let k = 0; k < list.length; k++) {
    const { t, v, est } = list[k];
    const offset = t - startMs;
    if (offset % stepMs !== 0) {
      throw badTrace(`zone '${zone}': ${new Date(t).toISOString()} is not on the ${stepMinutes}-minute grid that starts at ${new Date(startMs).toISOString()}`);
    }
    if (k > 0 && list[k - 1].t === t) throw badTrace(`zone '${zone}': two rows for ${new Date(t).toISOString()}`);
    const i = offset / stepMs;
    values[i] = v;
    estimated[i] = est ? 1 : 0;
  }
  return { zone, stepMinutes, startMs, values, estimated };
}
