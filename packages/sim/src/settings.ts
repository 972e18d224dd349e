import { checkCandidates, type DecisionCandidate, type DecisionContext } from '@carboncp/calibrator';
import {
  DEFAULT_FORECAST_METHOD,
  checkPue,
  estimatePowerW,
  radioEnergyJ,
  relativeSpeed,
  type DeviceProfile,
  type ForecastMethod,
  type RadioKind,
} from '@carboncp/carbon';
import type { LatencyDistribution } from '@carboncp/core';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { CarbonView, SimulationOptions } from './options.js';
import { BUDGET_POLICIES, POLICY_NAMES, VARIANT_POLICIES, isPolicyName, type PolicyName } from './policy-names.js';
import { checkUtilisation } from './world.js';
import { SITE_POLICIES } from './site-policies.js';
import { POWER_CAP_POLICIES } from './power-cap-world.js';

const HOUR_MS = 3_600_000;

/** The settings a run used, defaults filled in (echoed in the result, for the report). */
export interface ResolvedSettings {
  start: number;
  end: number;
  hours: number;
  perMinute: number;
  arrivals: 'poisson' | 'fixed';
  seed: number;
  sloMs: number;
  alpha: number;
  maxOutputError: number | null;
  minQuality: number | null;
  policies: PolicyName[];
  carbonView: CarbonView;
  forecastMethod: ForecastMethod;
  forecastWarmupDays: number;
  deviceZone: string;
  serverZone: string;
  uplink: string;
  downlink: string;
  networkOffsetMs: number;
  rttMs: number;
  rttCv: number;
  probeMs: number;
  estimateWeight: number;
  device: string;
  radio: RadioKind | null;
  devicePowerW: number;
  headScale: number;
  headScaleKnown: boolean;
  tailScale: number;
  serverPowerW: number;
  serverPue: number;
  serviceMs: number;
  candidates: string[];
}

function invalid(message: string): CarboncpError {
  return new CarboncpError(ErrorCode.INVALID_ARGUMENT, message);
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw invalid(`${name} must be a finite number > 0, got ${value}`);
  return value;
}

/**
 * How much slower `device` runs a head than `reference` (the machine that profiled the model):
 * 1 / relativeSpeed(device, reference) from their profiles' measured latency on the same model.
 */
export function headScaleOf(device: DeviceProfile, reference: DeviceProfile): number {
  return 1 / relativeSpeed(device, reference);
}

/** The candidates with every head latency figure multiplied by `scale` (what a profile on the device itself would say). */
export function scaledHeads(candidates: readonly DecisionCandidate[], scale: number): DecisionCandidate[] {
  const times = (d: LatencyDistribution): LatencyDistribution => ({ ...d, medianMs: d.medianMs * scale, p10Ms: d.p10Ms * scale, p90Ms: d.p90Ms * scale, meanMs: d.meanMs * scale, sdMs: d.sdMs * scale });
  return candidates.map((c) => ({ ...c, head: times(c.head) }));
}

/** The radio used: the option, else LTE, Wi-Fi or the profile's first; null when the profile has none. */
function radioOf(device: DeviceProfile, wanted: RadioKind | undefined): RadioKind | null {
  if (wanted) {
    if (!device.radios[wanted]) throw invalid(`device profile '${device.id}' has no ${wanted} radio (it has: ${Object.keys(device.radios).join(', ') || 'none'})`);
    return wanted;
  }
  if (device.radios.lte) return 'lte';
  if (device.radios.wifi) return 'wifi';
  return (Object.keys(device.radios)[0] as RadioKind | undefined) ?? null;
}

/** The decision context's radio, from the carbon package's radio model: J per byte each way, and a burst's tail and promotion. */
export function radioContext(device: DeviceProfile, radio: RadioKind | null): DecisionContext['radio'] {
  if (!radio) return { upJPerByte: 0, downJPerByte: 0, burstJ: 0 };
  const marginal = { tail: false, promotion: false };
  return {
    upJPerByte: radioEnergyJ(device, radio, 1, 0, marginal),
    downJPerByte: radioEnergyJ(device, radio, 0, 1, marginal),
    burstJ: radioEnergyJ(device, radio, 0, 0),
  };
}

export function resolveSettings(o: SimulationOptions): ResolvedSettings {
  checkCandidates(o.candidates);
  const hours = positive('hours', o.hours);
  const perMinute = positive('rate.perMinute', o.rate?.perMinute ?? 1);
  const arrivals = o.rate?.arrivals ?? 'poisson';
  if (arrivals !== 'poisson' && arrivals !== 'fixed') throw invalid(`rate.arrivals must be 'poisson' or 'fixed', got ${JSON.stringify(arrivals)}`);
  const sloMs = positive('sloMs', o.sloMs);
  const alpha = o.alpha ?? 0.1;
  if (!(alpha > 0 && alpha < 1)) throw invalid(`alpha must be in (0, 1), got ${alpha}`);
  if (o.maxOutputError !== undefined && !(o.maxOutputError >= 0)) throw invalid(`maxOutputError must be >= 0, got ${o.maxOutputError}`);
  if (o.minQuality !== undefined && !Number.isFinite(o.minQuality)) throw invalid(`minQuality must be a finite number, got ${o.minQuality}`);
  const withVariants = o.candidates.every((c) => c.variant !== undefined);
  const withBudget = o.budget !== undefined;
  if (o.budget && !(o.budget.grams >= 0 && Number.isFinite(o.budget.grams) && o.budget.periodHours > 0 && Number.isFinite(o.budget.periodHours))) {
    throw invalid(`budget needs grams >= 0 and periodHours > 0, got ${JSON.stringify(o.budget)}`);
  }
  const withPowerCap = o.powerCap !== undefined;
  const defaults = o.sites
    ? ['device', 'oracle', ...SITE_POLICIES]
    : POLICY_NAMES.filter(
        (p) => (withVariants || !VARIANT_POLICIES.includes(p)) && !SITE_POLICIES.includes(p) && (withBudget || !BUDGET_POLICIES.includes(p)) && (withPowerCap || !POWER_CAP_POLICIES.includes(p)),
      );
  const policies = [...(o.policies ?? defaults)] as PolicyName[];
  const needsSites = policies.find((p) => SITE_POLICIES.includes(p));
  if (needsSites && !o.sites) throw invalid(`policy '${needsSites}' needs sites (SimulationOptions.sites)`);
  const unknown = policies.find((p) => !isPolicyName(p));
  if (unknown !== undefined) throw invalid(`unknown policy '${unknown}' (known: ${POLICY_NAMES.join(', ')})`);
  const needsVariants = policies.find((p) => VARIANT_POLICIES.includes(p));
  const needsBudget = policies.find((p) => BUDGET_POLICIES.includes(p));
  const needsPowerCap = policies.find((p) => POWER_CAP_POLICIES.includes(p));
  if (needsPowerCap && !withPowerCap) throw invalid(`policy '${needsPowerCap}' needs a power cap (options.powerCap: a published curve)`);
  if (needsBudget && !withBudget) throw invalid(`policy '${needsBudget}' needs a carbon budget (options.budget)`);
  if (needsVariants && !withVariants) throw invalid(`policy '${needsVariants}' needs candidates of model variants (candidatesFromFamily); some candidates carry no variant`);
  if (policies.length === 0 || new Set(policies).size !== policies.length) throw invalid(`policies must be a non-empty list without repeats, got ${JSON.stringify(policies)}`);
  const carbonView = o.carbonView ?? 'forecast';
  if (!['forecast', 'last-known', 'true'].includes(carbonView)) throw invalid(`carbonView must be 'forecast', 'last-known' or 'true', got ${JSON.stringify(carbonView)}`);
  const start = o.start ?? o.deviceCarbon.startMs;
  if (!Number.isFinite(start)) throw invalid(`start must be epoch ms, got ${start}`);
  const radio = radioOf(o.device, o.radio);
  if (!radio && o.candidates.some((c) => c.bytesUp + c.bytesDown > 0)) throw invalid(`device profile '${o.device.id}' has no radio, and some candidates send bytes`);
  const headScale = positive('headScale', o.headScale ?? 1);
  const tailScale = positive('server.tailScale', o.server.tailScale ?? 1);
  const serverPue = o.server.pue ?? 1;
  checkPue(serverPue);
  checkUtilisation(o.server.utilisation ?? 0.3);
  const serverPlan = o.candidates.find((c) => c.kind === 'server');
  const serviceMs = o.server.serviceMs ?? (serverPlan ? serverPlan.tail.medianMs : Math.max(...o.candidates.map((c) => c.tail.medianMs))) * tailScale;
  if (!(serviceMs >= 0)) throw invalid(`server.serviceMs must be >= 0, got ${serviceMs}`);
  const net = o.network ?? {};
  const estimateWeight = net.estimateWeight ?? 0.3;
  if (!(estimateWeight > 0 && estimateWeight <= 1)) throw invalid(`network.estimateWeight must be in (0, 1], got ${estimateWeight}`);
  const rttMs = net.rttMs ?? 50;
  if (!(Number.isFinite(rttMs) && rttMs >= 0)) throw invalid(`network.rttMs must be a finite number >= 0, got ${rttMs}`);
  const networkOffsetMs = o.networkOffsetMs ?? 0;
  if (!Number.isFinite(networkOffsetMs)) throw invalid(`networkOffsetMs must be a finite number of ms, got ${networkOffsetMs}`);
  const rttCv = net.rttCv ?? 0.2;
  if (!(rttCv >= 0)) throw invalid(`network.rttCv must be >= 0, got ${rttCv}`);
  return {
    start,
    end: start + hours * HOUR_MS,
    hours,
    perMinute,
    arrivals,
    seed: o.seed ?? 1,
    sloMs,
    alpha,
    maxOutputError: o.maxOutputError ?? null,
    minQuality: o.minQuality ?? null,
    policies,
    carbonView,
    forecastMethod: o.forecastMethod ?? DEFAULT_FORECAST_METHOD,
    forecastWarmupDays: o.forecastWarmupDays ?? 14,
    deviceZone: o.deviceCarbon.zone,
    serverZone: (o.serverCarbon ?? o.deviceCarbon).zone,
    uplink: o.uplink.source,
    downlink: (o.downlink ?? o.uplink).source,
    networkOffsetMs,
    rttMs,
    rttCv,
    probeMs: positive('network.probeMs', net.probeMs ?? 1000),
    estimateWeight,
    device: o.device.id,
    radio,
    devicePowerW: estimatePowerW(o.device, 1),
    headScale,
    headScaleKnown: o.headScaleKnown ?? true,
    tailScale,
    serverPowerW: positive('server.powerW', o.server.powerW),
    serverPue,
    serviceMs,
    candidates: o.candidates.map((c) => c.id),
  };
}
