/**
 * Latency profiles: what each plan's head and tail cost on one machine, with one execution
 * provider, for one model's exact bytes. Platform-neutral (types, statistics, the JSON reader and
 * the model check); measuring lives in @carboncp/core/node (profileModel).
 */
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { jsonFields } from './json-fields.js';

const { bad, object, array, string, boolean, digest } = jsonFields(ErrorCode.BAD_PROFILE, 'profile JSON');

export const PROFILE_SCHEMA_VERSION = 1;

/** A latency distribution over runs, in milliseconds of wall time on the profiling machine. */
export interface LatencyDistribution {
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  meanMs: number;
  /** Sample standard deviation (n - 1); 0 for a single run. */
  sdMs: number;
  /** Runs the distribution is over. */
  n: number;
}

export interface ProfileDevice {
  /** CPU model as the OS names it. */
  cpu: string;
  /** Logical cores the OS reports. */
  cores: number;
  /** e.g. 'linux 6.8.0 x64'. */
  os: string;
  onnxruntime: string;
  /** The execution provider the runs used ('cpu', 'cuda'). */
  executionProvider: string;
  /** onnxruntime intra-op threads; null: onnxruntime's default (one per physical core). */
  threads: number | null;
  /** onnxruntime graph optimisation level of the profiled sessions (and of the checked halves). */
  graphOptimizationLevel: string;
}

export interface PlanProfile {
  id: string;
  digest: string;
  /** The plan's bytes per sample (NaN, written null, when a crossing size is unknown). */
  bytesPerSample: number;
  /** Compute nodes in the head (0 for 'server', all for 'device'). */
  k: number;
  /** Predicted from per-node times (see ModelProfile.method); all zero where the half is empty. */
  head: LatencyDistribution;
  tail: LatencyDistribution;
}

export interface SegmentGap {
  planId: string;
  half: 'head' | 'tail';
  predictedMs: number;
  measuredMs: number;
  /** Full-model median measured in the same rounds as the half (the machine's speed right then). */
  fullModelMs: number;
  /** (predicted x drift - measured) / measured, drift = fullModelMs / the profile's full-model median. */
  gap: number;
  /** (predicted - measured) / measured, without the drift correction. */
  rawGap: number;
}

/** Real heads and tails run at a few cuts, against what the attribution predicted for them. */
export interface SegmentCheck {
  /** Runs per half (medians compared). */
  runs: number;
  gaps: SegmentGap[];
  /** Median of |gap| (drift-corrected) over every half checked. */
  medianAbsGap: number;
  /** Median of |rawGap|. */
  medianAbsRawGap: number;
  maxAbsGap: number;
  /** The goal the check is held to (0.10: within 10%). */
  goal: number;
  met: boolean;
}

export interface ModelProfile {
  schemaVersion: number;
  /** sha256 of the model bytes profiled: a profile is for these bytes only. */
  modelDigest: string;
  modelName: string;
  /** ISO time the profile was measured. */
  measuredAt: string;
  device: ProfileDevice;
  /** Input shapes the runs used. */
  inputShapes: Record<string, number[]>;
  /** How plan latencies were obtained and what was left over. */
  method: {
    /** 'node-profiling': onnxruntime per-node profiling of full-model runs, summed per segment. */
    kind: 'node-profiling';
    runs: number;
    warmup: number;
    /** Full-model wall time per run. */
    fullModel: LatencyDistribution;
    /** Per-node time summed per run (median), attributed to compute-node positions. */
    attributedMs: number;
    /** Node time that no compute node could be named for (median per run), spread pro rata. */
    unattributedMs: number;
    /**
     * Wall time minus node time per run (median). Each non-empty half is charged
     * fixedOverheadMs plus the rest of it in proportion to the bytes the half is fed against
     * the full run's (the whole of it where a crossing size is unknown).
     */
    overheadMs: number;
    /** A run's overhead on a one-element model (median), the part every half pays. */
    fixedOverheadMs: number;
    /** Compute nodes with no kernel of their own (fused into or folded by another): they share the fused kernel's time by FLOPs. */
    fusedPositions: number;
    /** Free for updaters, e.g. 'live tail times (server)'. */
    notes?: string[];
  };
  plans: PlanProfile[];
  segmentCheck?: SegmentCheck;
}

/** The distribution of a list of samples (ms); an empty list gives zeros with n = 0. */
export function distributionOf(samples: readonly number[]): LatencyDistribution {
  const n = samples.length;
  if (n === 0) return { medianMs: 0, p10Ms: 0, p90Ms: 0, meanMs: 0, sdMs: 0, n: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((s, x) => s + x, 0) / n;
  const variance = n > 1 ? sorted.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1) : 0;
  return { medianMs: quantile(sorted, 0.5), p10Ms: quantile(sorted, 0.1), p90Ms: quantile(sorted, 0.9), meanMs: mean, sdMs: Math.sqrt(variance), n };
}

/** Linear-interpolated quantile of sorted values (type 7, as numpy and R default). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

/**
 * Refuses a profile measured for other bytes (CARBONCP_PROFILE_MISMATCH), and, where asked, for
 * another execution provider or CPU: latencies do not carry over.
 */
export function checkProfileFor(profile: ModelProfile, expect: { modelDigest: string; executionProvider?: string; cpu?: string }): void {
  const short = (d: string): string => `${d.slice(0, 12)}…`;
  if (profile.modelDigest !== expect.modelDigest) {
    throw new CarboncpError(
      ErrorCode.PROFILE_MISMATCH,
      `latency profile is for model '${profile.modelName}' (sha256 ${short(profile.modelDigest)}), not for sha256 ${short(expect.modelDigest)}`,
      { details: { expected: expect.modelDigest, got: profile.modelDigest } },
    );
  }
  if (expect.executionProvider !== undefined && profile.device.executionProvider !== expect.executionProvider) {
    throw new CarboncpError(
      ErrorCode.PROFILE_MISMATCH,
      `latency profile was measured with execution provider '${profile.device.executionProvider}', not '${expect.executionProvider}'`,
    );
  }
  if (expect.cpu !== undefined && profile.device.cpu !== expect.cpu) {
    throw new CarboncpError(ErrorCode.PROFILE_MISMATCH, `latency profile was measured on '${profile.device.cpu}', not '${expect.cpu}'`);
  }
}

/** The key a profile is stored and looked up under: model digest, CPU, provider and threads. */
export function profileKey(profile: Pick<ModelProfile, 'modelDigest' | 'device'>): string {
  const d = profile.device;
  return [profile.modelDigest, d.cpu, d.cores, d.os, d.executionProvider, d.threads ?? 'default', d.graphOptimizationLevel].join('|');
}

/**
 * Reads profile JSON (text or parsed), checking every field the type promises; null numbers come
 * back as NaN (JSON has none). With `expect`, also refuses a profile for another model
 * (checkProfileFor). Throws CARBONCP_BAD_PROFILE naming the first field that does not fit.
 */
export function profileFromJson(json: unknown, expect?: Parameters<typeof checkProfileFor>[1]): ModelProfile {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (cause) {
      throw new CarboncpError(ErrorCode.BAD_PROFILE, `profile JSON does not parse: ${(cause as Error).message}`, { cause });
    }
  }
  const root = object(value, '$');
  if (root.schemaVersion !== PROFILE_SCHEMA_VERSION) bad('$.schemaVersion', `must be ${PROFILE_SCHEMA_VERSION}, got ${JSON.stringify(root.schemaVersion)}`);
  const device = object(root.device, '$.device');
  const method = object(root.method, '$.method');
  if (method.kind !== 'node-profiling') bad('$.method.kind', `must be 'node-profiling', got ${JSON.stringify(method.kind)}`);
  const shapes = object(root.inputShapes, '$.inputShapes');
  const profile: ModelProfile = {
    schemaVersion: PROFILE_SCHEMA_VERSION,
    modelDigest: digest(root.modelDigest, '$.modelDigest'),
    modelName: string(root.modelName, '$.modelName'),
    measuredAt: string(root.measuredAt, '$.measuredAt'),
    device: {
      cpu: string(device.cpu, '$.device.cpu'),
      cores: count(device.cores, '$.device.cores'),
      os: string(device.os, '$.device.os'),
      onnxruntime: string(device.onnxruntime, '$.device.onnxruntime'),
      executionProvider: string(device.executionProvider, '$.device.executionProvider'),
      threads: device.threads === null ? null : count(device.threads, '$.device.threads'),
      graphOptimizationLevel: string(device.graphOptimizationLevel, '$.device.graphOptimizationLevel'),
    },
    inputShapes: Object.fromEntries(Object.entries(shapes).map(([name, dims]) => [name, array(dims, `$.inputShapes.${name}`).map((d, i) => count(d, `$.inputShapes.${name}[${i}]`))])),
    method: {
      kind: 'node-profiling',
      runs: count(method.runs, '$.method.runs'),
      warmup: count(method.warmup, '$.method.warmup'),
      fullModel: distribution(method.fullModel, '$.method.fullModel'),
      attributedMs: ms(method.attributedMs, '$.method.attributedMs'),
      unattributedMs: ms(method.unattributedMs, '$.method.unattributedMs'),
      overheadMs: finite(method.overheadMs, '$.method.overheadMs'),
      fixedOverheadMs: ms(method.fixedOverheadMs, '$.method.fixedOverheadMs'),
      fusedPositions: count(method.fusedPositions, '$.method.fusedPositions'),
      ...(method.notes !== undefined ? { notes: array(method.notes, '$.method.notes').map((n, i) => string(n, `$.method.notes[${i}]`)) } : {}),
    },
    plans: array(root.plans, '$.plans').map((p, i) => plan(p, `$.plans[${i}]`)),
  };
  if (profile.plans.length === 0) bad('$.plans', 'holds no plans');
  if (root.segmentCheck !== undefined) profile.segmentCheck = segmentCheck(root.segmentCheck, '$.segmentCheck');
  if (expect) checkProfileFor(profile, expect);
  return profile;
}

function plan(value: unknown, path: string): PlanProfile {
  const p = object(value, path);
  return {
    id: string(p.id, `${path}.id`),
    digest: digest(p.digest, `${path}.digest`),
    bytesPerSample: p.bytesPerSample === null ? NaN : ms(p.bytesPerSample, `${path}.bytesPerSample`),
    k: count(p.k, `${path}.k`),
    head: distribution(p.head, `${path}.head`),
    tail: distribution(p.tail, `${path}.tail`),
  };
}

function segmentCheck(value: unknown, path: string): SegmentCheck {
  const c = object(value, path);
  return {
    runs: count(c.runs, `${path}.runs`),
    gaps: array(c.gaps, `${path}.gaps`).map((g, i) => {
      const gap = object(g, `${path}.gaps[${i}]`);
      const half = gap.half;
      if (half !== 'head' && half !== 'tail') bad(`${path}.gaps[${i}].half`, `must be 'head' or 'tail'`);
      return {
        planId: string(gap.planId, `${path}.gaps[${i}].planId`),
        half: half as 'head' | 'tail',
        predictedMs: ms(gap.predictedMs, `${path}.gaps[${i}].predictedMs`),
        measuredMs: ms(gap.measuredMs, `${path}.gaps[${i}].measuredMs`),
        fullModelMs: ms(gap.fullModelMs, `${path}.gaps[${i}].fullModelMs`),
        gap: finite(gap.gap, `${path}.gaps[${i}].gap`),
        rawGap: finite(gap.rawGap, `${path}.gaps[${i}].rawGap`),
      };
    }),
    medianAbsGap: ms(c.medianAbsGap, `${path}.medianAbsGap`),
    medianAbsRawGap: ms(c.medianAbsRawGap, `${path}.medianAbsRawGap`),
    maxAbsGap: ms(c.maxAbsGap, `${path}.maxAbsGap`),
    goal: ms(c.goal, `${path}.goal`),
    met: boolean(c.met, `${path}.met`),
  };
}

function distribution(value: unknown, path: string): LatencyDistribution {
  const d = object(value, path);
  return {
    medianMs: ms(d.medianMs, `${path}.medianMs`),
    p10Ms: ms(d.p10Ms, `${path}.p10Ms`),
    p90Ms: ms(d.p90Ms, `${path}.p90Ms`),
    meanMs: ms(d.meanMs, `${path}.meanMs`),
    sdMs: ms(d.sdMs, `${path}.sdMs`),
    n: count(d.n, `${path}.n`),
  };
}

function finite(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) bad(path, 'must be a finite number');
  return value as number;
}
function ms(value: unknown, path: string): number {
  const n = finite(value, path);
  if (n < 0) bad(path, 'must not be negative');
  return n;
}
function count(value: unknown, path: string): number {
  const n = ms(value, path);
  if (!Number.isInteger(n)) bad(path, 'must be an integer');
  return n;
}
