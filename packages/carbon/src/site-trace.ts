/**
 * Hourly conditions of several data-centre sites from one CSV (the Li, Yang, Wierman and Ren
 * "Environmentally Equitable AI" file: location, time_utc, wue_L_per_kWh, carbon_kg_per_kWh,
 * price_USD_per_MWh). Platform neutral: the simulator, the device and tests share one reader.
 *
 * What the file has, plainly: one water figure per site and hour, `wue_L_per_kWh`, and no
 * separate column for the grid's (off-site) water per kWh. It is kept as the site's water
 * intensity; `gridWaterLPerKwh` is absent, and a caller who knows it adds it (siteWaterLPerKwh).
 * Rows without a water or carbon figure (in the shared file, the last 24 hours of the European
 * and Asian sites carry a price only) are left out, and every site is cut to the hours all sites
 * share (2022-09-22 00:00 .. 2022-10-11 00:00 UTC there, 457 hours).
 */
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { parseUtcTime, splitCsvLine } from './providers/trace-csv.js';

export const SITE_TRACE_SOURCE = 'Ren-Research/Environmentally-Equitable-AI (Li, Yang, Wierman, Ren), MIT';

/** One site's hourly series, aligned on `startMs + i x stepMs`. */
export interface SiteSeries {
  site: string;
  startMs: number;
  stepMs: number;
  carbonGPerKwh: number[];
  /** Water usage effectiveness on site (L per kWh of IT energy), as the file gives it. */
  wueLPerKwh: number[];
  /** The grid's water per kWh (off-site), when a source gives it; this file does not. */
  gridWaterLPerKwh?: number[];
  priceUsdPerMwh: number[];
}

const HOUR_MS = 3_600_000;
const COLUMNS = ['location', 'time_utc', 'wue_l_per_kwh', 'carbon_kg_per_kwh', 'price_usd_per_mwh'] as const;

function invalid(message: string): CarboncpError {
  return new CarboncpError(ErrorCode.INVALID_ARGUMENT, `site trace: ${message}`);
}

/** '2022-09-22 05' (the file's hour) or any time parseUtcTime reads. */
function hourTime(text: string): number {
  const t = text.trim();
  return parseUtcTime(/^\d{4}-\d{2}-\d{2}[T ]\d{2}$/.test(t) ? `${t}:00` : t);
}

/**
 * Every site of the file, in order of first appearance, each an hourly series without gaps over
 * the hours all sites share (CARBONCP_INVALID_ARGUMENT for a missing column, a bad number or
 * time, a gap, or sites that share no hour). Carbon is converted from kg/kWh to g/kWh (x1000).
 */
export function parseSiteTrace(text: string): SiteSeries[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#'));
  if (lines.length < 2) throw invalid('needs a header and at least one row');
  const header = splitCsvLine(lines[0]!).map((h) => h.trim().toLowerCase());
  const at = COLUMNS.map((name) => {
    const i = header.indexOf(name);
    if (i < 0) throw invalid(`no '${name}' column (columns: ${header.join(', ')})`);
    return i;
  });
  const bySite = new Map<string, { times: number[]; carbon: number[]; wue: number[]; price: number[] }>();
  for (let n = 1; n < lines.length; n += 1) {
    const cells = splitCsvLine(lines[n]!);
    const site = cells[at[0]!]?.trim() ?? '';
    const time = hourTime(cells[at[1]!] ?? '');
    const [wue, carbonKg, price] = [at[2]!, at[3]!, at[4]!].map((i) => Number(cells[i]));
    if (site === '') throw invalid(`row ${n + 1}: empty location`);
    if ((cells[at[2]!] ?? '').trim() === '' || (cells[at[3]!] ?? '').trim() === '') continue;
    if (!Number.isFinite(time)) throw invalid(`row ${n + 1}: bad time ${JSON.stringify(cells[at[1]!])}`);
    if (!(wue! >= 0) || !(carbonKg! >= 0) || !Number.isFinite(price)) throw invalid(`row ${n + 1}: water, carbon and price must be numbers (water and carbon >= 0)`);
    let s = bySite.get(site);
    if (!s) bySite.set(site, (s = { times: [], carbon: [], wue: [], price: [] }));
    const last = s.times[s.times.length - 1];
    if (last !== undefined && time !== last + HOUR_MS) throw invalid(`row ${n + 1}: ${site} jumps from ${new Date(last).toISOString()} to ${new Date(time).toISOString()} (hourly, no gaps)`);
    s.times.push(time);
    s.carbon.push(carbonKg! * 1000);
    s.wue.push(wue!);
    s.price.push(price!);
  }
  if (bySite.size === 0) throw invalid('no row has both water and carbon');
  // The hours every site has: from the latest first hour to the earliest last hour.
  let from = Number.NEGATIVE_INFINITY;
  let to = Number.POSITIVE_INFINITY;
  for (const s of bySite.values()) {
    from = Math.max(from, s.times[0]!);
    to = Math.min(to, s.times[s.times.length - 1]!);
  }
  if (!(to >= from)) throw invalid('the sites share no hour');
  const out: SiteSeries[] = [];
  for (const [site, s] of bySite) {
    const a = (from - s.times[0]!) / HOUR_MS;
    const b = a + (to - from) / HOUR_MS + 1;
    out.push({ site, startMs: from, stepMs: HOUR_MS, carbonGPerKwh: s.carbon.slice(a, b), wueLPerKwh: s.wue.slice(a, b), priceUsdPerMwh: s.price.slice(a, b) });
  }
  return out;
}

/** Water per kWh at a site and hour: WUE on site plus the grid's water per kWh where known. */
export function siteWaterLPerKwh(s: SiteSeries, index: number): number {
  return s.wueLPerKwh[index]! + (s.gridWaterLPerKwh?.[index] ?? 0);
}

/** The hour of a series at a time (clamped to its ends). */
export function siteIndexAt(s: SiteSeries, timeMs: number): number {
  const i = Math.floor((timeMs - s.startMs) / s.stepMs);
  return Math.min(s.carbonGPerKwh.length - 1, Math.max(0, i));
}
