/**
 * Link capacity over time from real traces (Mahimahi cellular capacity, Pensieve/HSDPA
 * throughput logs): parsed from CSV with columns found by name, replayed in a loop. Platform
 * neutral, so that a shaping transport (device SDK), the simulator and tests share one reader and
 * one drain computation.
 */
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { splitCsvLine } from './providers/trace-csv.js';

/** Piecewise-constant capacity: step i holds `bps[i]` from `startsMs[i]` to the next start (the last to `periodMs`); the trace loops. */
export interface CapacityTrace {
  startsMs: readonly number[];
  bps: readonly number[];
  periodMs: number;
  /** File, trace name and direction, for logs and telemetry. */
  source: string;
}

export interface NetworkTraceOptions {
  /** The trace to take where the file holds several (a `trace` column); default the first. */
  trace?: string;
  /** 'up' or 'down' where the file has a direction column; default 'up' (offloading sends up). */
  direction?: 'up' | 'down';
  /** Column names, found case-insensitively when not given. */
  timeColumn?: string;
  valueColumn?: string;
  traceColumn?: string;
  directionColumn?: string;
  /** Name used in `source` (e.g. the file name). */
  name?: string;
}

const TIME_NAMES = ['t_start_s', 'time_s', 'timestamp_s', 'time', 't'];
const VALUE_NAMES = ['capacity_mbps', 'throughput_mbps', 'bandwidth_mbps', 'mbps'];

function invalid(message: string): CarboncpError {
  return new CarboncpError(ErrorCode.INVALID_ARGUMENT, message);
}

/**
 * Reads one trace from CSV: a time column in seconds and a capacity or throughput column in
 * Mbit/s (found by name: t_start_s/time_s/..., capacity_mbps/throughput_mbps/...), optionally
 * filtered by a trace-name column and a direction column. Lines starting with '#' are comments.
 * The period is the last time plus the median step, so a looped trace keeps its rhythm.
 */
export function parseNetworkTrace(text: string, options: NetworkTraceOptions = {}): CapacityTrace {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#'));
  if (lines.length < 2) throw invalid('a network trace needs a header line and at least one row');
  const header = splitCsvLine(lines[0]!.replace(/^\uFEFF/, '')).map((h) => h.trim());
  const find = (given: string | undefined, names: readonly string[], what: string, required: boolean): number => {
    const lower = header.map((h) => h.toLowerCase());
    if (given !== undefined) {
      const i = lower.indexOf(given.toLowerCase());
      if (i < 0) throw invalid(`the network trace has no ${what} column '${given}' (columns: ${header.join(', ')})`);
      return i;
    }
    const i = lower.findIndex((h) => names.includes(h));
    if (i < 0 && required) throw invalid(`no ${what} column in the network trace (looked for ${names.join(', ')}; columns: ${header.join(', ')}); name it with an option`);
    return i;
  };
  const timeAt = find(options.timeColumn, TIME_NAMES, 'time', true);
  const valueAt = find(options.valueColumn, VALUE_NAMES, 'capacity', true);
  const traceAt = find(options.traceColumn, ['trace', 'trace_name', 'name'], 'trace', false);
  const directionAt = find(options.directionColumn, ['direction', 'dir'], 'direction', false);
  const rows = lines.slice(1).map(splitCsvLine);
  let trace = options.trace;
  if (traceAt >= 0 && trace === undefined) trace = rows[0]?.[traceAt]?.trim();
  const direction = options.direction ?? 'up';
  const startsMs: number[] = [];
  const bps: number[] = [];
  for (const row of rows) {
    if (traceAt >= 0 && row[traceAt]?.trim() !== trace) continue;
    if (directionAt >= 0 && row[directionAt]?.trim().toLowerCase() !== direction) continue;
    const t = Number(row[timeAt]);
    const v = Number(row[valueAt]);
    if (!Number.isFinite(t) || !Number.isFinite(v) || v < 0) throw invalid(`a network trace row has a bad time or capacity: ${row.join(',')}`);
    if (startsMs.length > 0 && t * 1000 <= startsMs[startsMs.length - 1]!) throw invalid(`network trace times must increase (at ${t} s)`);
    startsMs.push(t * 1000);
    bps.push(v * 1e6);
  }
  const label = [options.name, trace, directionAt >= 0 ? direction : undefined].filter(Boolean).join(' ');
  if (startsMs.length === 0) throw invalid(`no rows for ${traceAt >= 0 ? `trace '${trace}'` : 'the trace'}${directionAt >= 0 ? ` direction '${direction}'` : ''}`);
  const steps = startsMs.slice(1).map((t, i) => t - startsMs[i]!).sort((a, b) => a - b);
  const step = steps.length ? steps[Math.floor(steps.length / 2)]! : 1000;
  const shifted = startsMs.map((t) => t - startsMs[0]!);
  return checkCapacityTrace({ startsMs: shifted, bps, periodMs: shifted[shifted.length - 1]! + step, source: label || 'network trace' });
}

/** CARBONCP_INVALID_ARGUMENT unless the trace starts at 0, increases, fits its period and has some capacity. */
export function checkCapacityTrace(trace: CapacityTrace): CapacityTrace {
  const { startsMs, bps, periodMs } = trace;
  const ok =
    startsMs.length > 0 &&
    startsMs.length === bps.length &&
    startsMs[0] === 0 &&
    startsMs.every((t, i) => i === 0 || t > startsMs[i - 1]!) &&
    periodMs > startsMs[startsMs.length - 1]! &&
    bps.every((b) => Number.isFinite(b) && b >= 0) &&
    bps.some((b) => b > 0);
  if (!ok) throw invalid(`a capacity trace needs steps from 0, increasing, within its period, with finite capacities >= 0, not all 0 (${trace.source})`);
  return trace;
}

/** Index of the step in force at trace time t (ms, looped), and t's time within the loop. */
function stepAt(trace: CapacityTrace, tMs: number): { index: number; local: number } {
  const { startsMs, periodMs } = trace;
  let loops = Math.floor(tMs / periodMs);
  let local = tMs - loops * periodMs;
  // Rounding can put a time a hair before a loop's end into the previous loop at local = period.
  if (local >= periodMs) {
    loops += 1;
    local -= periodMs;
  }
  let lo = 0;
  let hi = startsMs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (startsMs[mid]! <= local) lo = mid;
    else hi = mid - 1;
  }
  return { index: lo, local };
}

/** Capacity (bits/s) at trace time t (ms), the trace looping. */
export function capacityAt(trace: CapacityTrace, tMs: number): number {
  return trace.bps[stepAt(trace, tMs).index]!;
}

/** Milliseconds for `bits` to drain from trace time t (ms), at each step's capacity in turn (steps of 0 pass with nothing sent). */
export function drainMs(trace: CapacityTrace, tMs: number, bits: number): number {
  if (!(bits > 0)) return 0;
  const { startsMs, bps, periodMs } = trace;
  let { index, local: from } = stepAt(trace, tMs);
  // Walk the steps by index in trace-local time: recomputing the step from an absolute time that
  // grows by loops can round back onto the step just left, and never move on.
  let elapsed = 0;
  let left = bits;
  for (;;) {
    const stepEnd = index + 1 < startsMs.length ? startsMs[index + 1]! : periodMs;
    const span = Math.max(0, stepEnd - from);
    const rate = bps[index]! / 1000; // bits per ms
    if (rate * span >= left) return elapsed + left / rate;
    left -= rate * span;
    elapsed += span;
    index = index + 1 < startsMs.length ? index + 1 : 0;
    from = startsMs[index]!;
  }
}

/** Mean capacity (bits/s) over [fromMs, toMs), time-weighted. */
export function meanCapacity(trace: CapacityTrace, fromMs: number, toMs: number): number {
  if (!(toMs > fromMs)) return capacityAt(trace, fromMs);
  const { startsMs, bps, periodMs } = trace;
  let { index, local } = stepAt(trace, fromMs);
  let left = toMs - fromMs;
  let bits = 0;
  // By index in trace-local time, as drainMs.
  while (left > 0) {
    const stepEnd = index + 1 < startsMs.length ? startsMs[index + 1]! : periodMs;
    const span = Math.min(left, Math.max(0, stepEnd - local));
    bits += (bps[index]! / 1000) * span;
    left -= span;
    index = index + 1 < startsMs.length ? index + 1 : 0;
    local = startsMs[index]!;
  }
  return (bits / (toMs - fromMs)) * 1000;
}
