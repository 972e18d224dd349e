/**
 * Published GPU power/time/energy curves (packages/carbon/data/gpu-power-caps.json), for the
 * simulator to model a server's power cap: at a cap, the run takes timeRatio x and spends
 * energyRatio x what it does at the GPU's default limit. Every number is a Quantity with its
 * kind and source, checked by the device profiles' rules (a fault is CARBONCP_BAD_DEVICE_PROFILE
 * naming the field). Platform-neutral: callers read the file.
 */
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { checkKeys, fail, nonEmptyString, quantity, record, type Quantity } from './device-profile.js';

export const GPU_POWER_CAPS_SCHEMA_VERSION = 1;
const DOC = 'gpu-power-caps';

export interface PowerCapPoint {
  capW: Quantity<'W'>;
  /** Run time at this cap over run time at the default limit. */
  timeRatio: Quantity<'ratio'>;
  /** Energy at this cap over energy at the default limit. */
  energyRatio: Quantity<'ratio'>;
}

export interface PowerCapCurve {
  id: string;
  gpu: string;
  workload: string;
  defaultLimitW: Quantity<'W'>;
  /** Highest cap first; the first is the default limit with both ratios 1. */
  points: PowerCapPoint[];
  notes?: string;
}

export interface PowerCapCurves {
  schemaVersion: number;
  about: string;
  curves: PowerCapCurve[];
}

function curve(value: unknown, field: string): PowerCapCurve {
  const c = record(value, field, DOC);
  checkKeys(c, field, ['id', 'gpu', 'workload', 'defaultLimitW', 'points', 'notes'], DOC);
  nonEmptyString(c.id, `${field}.id`, DOC);
  nonEmptyString(c.gpu, `${field}.gpu`, DOC);
  nonEmptyString(c.workload, `${field}.workload`, DOC);
  if (c.notes !== undefined) nonEmptyString(c.notes, `${field}.notes`, DOC);
  const defaultW = quantity(c.defaultLimitW, `${field}.defaultLimitW`, 'W', DOC, { positive: true }).value;
  if (!Array.isArray(c.points) || c.points.length === 0) fail(`${field}.points`, 'must be a non-empty array', DOC);
  const points = (c.points as unknown[]).map((p, i): PowerCapPoint => {
    const at = `${field}.points[${i}]`;
    const point = record(p, at, DOC);
    checkKeys(point, at, ['capW', 'timeRatio', 'energyRatio'], DOC);
    return {
      capW: quantity(point.capW, `${at}.capW`, 'W', DOC, { positive: true }),
      timeRatio: quantity(point.timeRatio, `${at}.timeRatio`, 'ratio', DOC, { positive: true }),
      energyRatio: quantity(point.energyRatio, `${at}.energyRatio`, 'ratio', DOC, { positive: true }),
    };
  });
  const first = points[0];
  if (first.capW.value !== defaultW || first.timeRatio.value !== 1 || first.energyRatio.value !== 1) {
    fail(`${field}.points[0]`, `must be the baseline: the default limit (${String(defaultW)} W) with both ratios 1`, DOC);
  }
  points.forEach((p, i) => {
    if (i > 0 && !((p.capW.value as number) < (points[i - 1].capW.value as number))) fail(`${field}.points[${i}].capW`, 'must be below the cap before it (highest first)', DOC);
  });
  return c as unknown as PowerCapCurve;
}

/** Checks the curves document (the JSON file parsed); CARBONCP_BAD_DEVICE_PROFILE names the bad field. */
export function parseGpuPowerCapCurves(json: unknown): PowerCapCurves {
  const doc = record(json, '(document)', DOC);
  checkKeys(doc, '', ['schemaVersion', 'about', 'curves'], DOC);
  if (doc.schemaVersion !== GPU_POWER_CAPS_SCHEMA_VERSION) fail('schemaVersion', `must be ${GPU_POWER_CAPS_SCHEMA_VERSION}`, DOC);
  nonEmptyString(doc.about, 'about', DOC);
  if (!Array.isArray(doc.curves) || doc.curves.length === 0) fail('curves', 'must be a non-empty array', DOC);
  const ids = new Set<string>();
  (doc.curves as unknown[]).forEach((c, i) => {
    const parsed = curve(c, `curves[${i}]`);
    if (ids.has(parsed.id)) fail(`curves[${i}].id`, `'${parsed.id}' appears twice`, DOC);
    ids.add(parsed.id);
  });
  return doc as unknown as PowerCapCurves;
}

/**
 * The time and energy ratios at `capW` on a curve: a published point exactly, else linear
 * between the two published caps around it (a model, said in `how`). Outside the published
 * range nothing is extrapolated: CARBONCP_INVALID_ARGUMENT. An unknown ratio:
 * CARBONCP_DEVICE_PROFILE_INCOMPLETE.
 */
export function powerCapEffect(curve: PowerCapCurve, capW: number): { timeRatio: number; energyRatio: number; how: string } {
  const caps = curve.points.map((p) => p.capW.value as number);
  const low = caps[caps.length - 1];
  const high = caps[0];
  if (!Number.isFinite(capW) || capW < low || capW > high) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `curve '${curve.id}' has published points from ${low} to ${high} W; ${capW} W is outside them (no extrapolation)`);
  }
  const value = (q: Quantity, field: string): number => {
    if (q.value === null) throw new CarboncpError(ErrorCode.DEVICE_PROFILE_INCOMPLETE, `curve '${curve.id}': ${field} is unknown (${q.source})`);
    return q.value;
  };
  const j = caps.findIndex((c) => c <= capW);
  const below = curve.points[j];
  if (caps[j] === capW) {
    return { timeRatio: value(below.timeRatio, 'timeRatio'), energyRatio: value(below.energyRatio, 'energyRatio'), how: `published point at ${capW} W` };
  }
  const above = curve.points[j - 1];
  const t = (capW - caps[j]) / (caps[j - 1] - caps[j]);
  const lerp = (a: number, b: number) => a + (b - a) * t;
  return {
    timeRatio: lerp(value(below.timeRatio, 'timeRatio'), value(above.timeRatio, 'timeRatio')),
    energyRatio: lerp(value(below.energyRatio, 'energyRatio'), value(above.energyRatio, 'energyRatio')),
    how: `linear between the published points at ${caps[j]} and ${caps[j - 1]} W (a model)`,
  };
}
