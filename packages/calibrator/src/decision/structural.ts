import { JOULES_PER_KWH } from '@carboncp/carbon';
import type { DecisionCandidate } from '../candidates/candidate.js';
import { FEATURE_NAMES, type DecisionContext } from './context.js';
import { rttFor, serverEnergyJ, serverIntensityFor } from './site-conditions.js';

/**
 * What the decision predicts per candidate, in dependency order: each total is built from the
 * corrected predictions of the parts before it.
 */
export const METRICS = ['headMs', 'transferMs', 'serverMs', 'latencyMs', 'deviceEnergyJ', 'carbonG'] as const;
export type Metric = (typeof METRICS)[number];

type FeatureName = (typeof FEATURE_NAMES)[number];

/**
 * The features each metric's correction regresses on: what physically drives the part the
 * structural model may get wrong (the end-to-end latency, which also holds the device's waits,
 * sees them all). Fewer weights per metric: less variance early, and a cheaper update.
 */
export const METRIC_FEATURES: Readonly<Record<Metric, readonly FeatureName[]>> = {
  headMs: ['cpuLoad', 'onBattery', 'batteryDrawn'],
  transferMs: ['logUplinkRel10Mbps', 'uplinkCv', 'rtt100ms', 'rttSd100ms'],
  serverMs: ['queue10'],
  latencyMs: FEATURE_NAMES,
  deviceEnergyJ: ['cpuLoad', 'onBattery', 'batteryDrawn'],
  carbonG: ['queue10', 'deviceIntensityKg', 'serverIntensityKg'],
};

const FEATURE_INDEX: ReadonlyMap<string, number> = new Map(FEATURE_NAMES.map((name, i) => [name, i]));

/** Each metric's feature indices into contextFeatures(). */
export const METRIC_FEATURE_INDICES: Readonly<Record<Metric, readonly number[]>> = Object.fromEntries(
  METRICS.map((m) => [m, METRIC_FEATURES[m].map((name) => FEATURE_INDEX.get(name)!)]),
) as Record<Metric, number[]>;

/** Features per metric, in METRICS order. */
export type MetricFeatures = readonly (readonly number[])[];

/** Each metric's features (METRICS order), picked from the full vector once per context and shared by every candidate. */
export function metricFeatures(all: readonly number[]): number[][] {
  const out: number[][] = [];
  for (const indices of INDICES_IN_ORDER) {
    if (indices === ALL_FEATURES) {
      out.push(all.slice());
      continue;
    }
    // Plain loops, and pushed (a packed array, as map() made): this runs on every decide() and observe().
    const x: number[] = [];
    for (let j = 0; j < indices.length; j += 1) x.push(all[indices[j]!]!);
    out.push(x);
  }
  return out;
}

/** METRIC_FEATURE_INDICES in METRICS order; latency's (every feature) is the whole vector. */
const ALL_FEATURES: readonly number[] = METRIC_FEATURE_INDICES.latencyMs;
const INDICES_IN_ORDER: readonly (readonly number[])[] = METRICS.map((m) => METRIC_FEATURE_INDICES[m]);

/**
 * Values below these are taken as these before a logarithm (the corrections are learnt as log
 * ratios): a microsecond, a nanojoule, a picogram.
 */
export const METRIC_FLOOR: Readonly<Record<Metric, number>> = {
  headMs: 1e-3,
  transferMs: 1e-3,
  serverMs: 1e-3,
  latencyMs: 1e-3,
  deviceEnergyJ: 1e-9,
  carbonG: 1e-12,
};

/**
 * Whether a metric is 0 by the candidate's kind, whatever the context: a 'server' candidate runs
 * no head, a 'device' candidate sends nothing and uses no server. No predictor is kept for these.
 */
export function isStructuralZero(metric: Metric, kind: DecisionCandidate['kind']): boolean {
  if (kind === 'server') return metric === 'headMs';
  if (kind === 'device') return metric === 'transferMs' || metric === 'serverMs';
  return false;
}

/** The server's recent tail time for the candidate's plan (ServerContext.tailMs), else its profile's median. */
export function serverTailMs(c: DecisionCandidate, ctx: DecisionContext): number {
  return ctx.serverTailMs?.[c.planId] ?? c.tail.medianMs;
}

/** Corrected points of the parts a total is built from. */
export interface PartPoints {
  headMs: number;
  transferMs: number;
  serverMs: number;
  deviceEnergyJ: number;
}

/**
 * The structural (physical) model of a metric, before any learnt correction; see the README,
 * "Predictors and the decision":
 *
 *   head     = profile median x (1 + cpuLoad)                     (time-sharing with the load)
 *   transfer = RTT (the site's) + 8000 x (bytesUp / uplinkBps + bytesDown / downlinkBps)   ms
 *   server   = tail x (1 + queue)                                  (tail: server's recent p50, else profile)
 *   latency  = head^ + transfer^ + server^                         (^: the corrected predictions)
 *   energy   = devicePowerW x head^ / 1000 + bytesUp x J/B up + bytesDown x J/B down + burst
 *   carbon   = (energy^ x I_device + serverPowerW x PUE x server^ / (1 + queue) / 1000 x I_server (the site's)) / 3.6e6
 */
export function structural(metric: Metric, c: DecisionCandidate, ctx: DecisionContext, parts: PartPoints): number {
  return STRUCTURAL[metric](c, ctx, parts);
}

// One small function per metric, of plain numbers, so that the per-candidate loop can call (and
// inline) each directly and keep the parts in registers.
export const headStructural = (c: DecisionCandidate, ctx: DecisionContext): number => c.head.medianMs * (1 + (ctx.cpuLoad ?? 0));

export const transferStructural = (c: DecisionCandidate, ctx: DecisionContext): number => {
  const down = ctx.downlinkBps ?? ctx.uplinkBps;
  return rttFor(c, ctx) + 8000 * (c.bytesUp / ctx.uplinkBps.mean + c.bytesDown / down.mean);
};

export const serverStructural = (c: DecisionCandidate, ctx: DecisionContext): number => serverTailMs(c, ctx) * (1 + ctx.serverQueueDepth);

export const latencyStructural = (headMs: number, transferMs: number, serverMs: number): number => headMs + transferMs + serverMs;

export const energyStructural = (c: DecisionCandidate, ctx: DecisionContext, headMs: number): number => {
  const sends = c.bytesUp + c.bytesDown > 0;
  const radio = sends ? c.bytesUp * ctx.radio.upJPerByte + c.bytesDown * ctx.radio.downJPerByte + ctx.radio.burstJ : 0;
  return (ctx.devicePowerW * headMs) / 1000 + radio;
};

/** With a candidate, the server's part is at its site's intensity (site-conditions.ts), else the context's. */
export const carbonStructural = (ctx: DecisionContext, serverMs: number, deviceEnergyJ: number, c?: Pick<DecisionCandidate, 'site'>): number => {
  const serverIntensity = c === undefined ? ctx.serverIntensityGPerKwh : serverIntensityFor(c, ctx);
  return (deviceEnergyJ * ctx.deviceIntensityGPerKwh + serverEnergyJ(ctx, serverMs) * serverIntensity) / JOULES_PER_KWH;
};

const STRUCTURAL: Readonly<Record<Metric, (c: DecisionCandidate, ctx: DecisionContext, parts: PartPoints) => number>> = {
  headMs: headStructural,
  transferMs: transferStructural,
  serverMs: serverStructural,
  latencyMs: (_c, _ctx, parts) => latencyStructural(parts.headMs, parts.transferMs, parts.serverMs),
  deviceEnergyJ: (c, ctx, parts) => energyStructural(c, ctx, parts.headMs),
  carbonG: (c, ctx, parts) => carbonStructural(ctx, parts.serverMs, parts.deviceEnergyJ, c),
};
