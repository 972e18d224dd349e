import { checkPue } from '@carboncp/carbon';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { checkSites, type SiteConditions } from './site-conditions.js';

/** A smoothed estimate: mean and standard deviation (the device's NetworkDistribution fits). */
export interface MeanSd {
  mean: number;
  sd: number;
}

/**
 * Everything the decision weighs about the present, as plain numbers, so that the device SDK,
 * the simulator and a test build it alike (the README shows how the device fills it from its
 * power sampler, network estimate, server context and intensity providers). Units are in the
 * names.
 */
export interface DecisionContext {
  /** ms since the epoch. */
  time: number;
  /** CPU utilisation of the device by other work, 0..1 (default 0). */
  cpuLoad?: number;
  powerSource: 'battery' | 'ac' | 'unknown';
  /** Battery charge, 0..100; absent without a battery reading. */
  batteryPercent?: number;
  charging?: boolean;
  rttMs: MeanSd;
  /** Uplink throughput, bits/s: the estimate, or a configured prior until one is measured. */
  uplinkBps: MeanSd;
  /** Downlink throughput, bits/s; default: the uplink's. */
  downlinkBps?: MeanSd;
  /** Requests waiting in the server's queue. */
  serverQueueDepth: number;
  /** Recent tail compute time on the server by plan id (ServerContext.tailMs); a plan absent here uses its profile. */
  serverTailMs?: Readonly<Record<string, number>>;
  /** Grid intensity where the device is (gCO2e/kWh); the radio's energy counts here too. */
  deviceIntensityGPerKwh: number;
  /** Grid intensity where the server is (gCO2e/kWh). */
  serverIntensityGPerKwh: number;
  /** The device's power while it runs model compute (W): a recent reading during inference, or the profile's active watts. */
  devicePowerW: number;
  /** The device radio: marginal energy per byte each way, and once per request that sends anything, its tail (+ promotion) energy. */
  radio: { upJPerByte: number; downJPerByte: number; burstJ: number };
  /** Server power attributable to a tail run (W); with serverPue, J = W x PUE x tail seconds. */
  serverPowerW: number;
  /** Power usage effectiveness of the server's data centre (>= 1); default 1 (serverPowerW already includes it). */
  serverPue?: number;
  /** Several server sites (issue #11 §3): each site's grid, water, RTT and whether it is up, keyed by the candidates' `site`. */
  sites?: Readonly<Record<string, SiteConditions>>;
}

/**
 * The context's features, in this order. Scaled so that each is of order 1 (the ridge penalty is
 * the same for every weight, so the scales set how strongly each is shrunk towards "the
 * structural model is right"), and 0 in the plain case where a feature can be (idle CPU, mains,
 * empty queue): a feature that never moves from a non-zero value shares the intercept's weight,
 * and would move the prediction when it finally does.
 */
export const FEATURE_NAMES = [
  'cpuLoad',
  'onBattery',
  'batteryDrawn',
  'logUplinkRel10Mbps',
  'uplinkCv',
  'rtt100ms',
  'rttSd100ms',
  'queue10',
  'deviceIntensityKg',
  'serverIntensityKg',
] as const;

export const FEATURE_COUNT = FEATURE_NAMES.length;

const REFERENCE_UPLINK_BPS = 1e7;

/**
 * The context's features (FEATURE_NAMES order): CPU load 0..1; on battery 1/0; the share of the
 * battery drawn, 1 - charge / 100 (0 off battery or unknown); ln(uplink / 10 Mbit/s); uplink
 * coefficient of variation (sd / mean, at most 2); RTT mean and sd in units of 100 ms; server
 * queue / 10; both intensities in kg/kWh.
 */
export function contextFeatures(ctx: DecisionContext): number[] {
  const onBattery = ctx.powerSource === 'battery' ? 1 : 0;
  const drawn = onBattery && ctx.batteryPercent !== undefined ? 1 - ctx.batteryPercent / 100 : 0;
  const up = ctx.uplinkBps;
  return [
    ctx.cpuLoad ?? 0,
    onBattery,
    drawn,
    Math.log(up.mean / REFERENCE_UPLINK_BPS),
    Math.min(2, up.sd / up.mean),
    ctx.rttMs.mean / 100,
    ctx.rttMs.sd / 100,
    ctx.serverQueueDepth / 10,
    ctx.deviceIntensityGPerKwh / 1000,
    ctx.serverIntensityGPerKwh / 1000,
  ];
}

function bad(field: string, value: unknown, rule: string): never {
  throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `decision context: ${field} must be ${rule}, got ${JSON.stringify(value)}`);
}

function nonNegative(field: string, value: unknown): void {
  if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0)) bad(field, value, 'a finite number >= 0');
}

function positive(field: string, value: unknown): void {
  if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) bad(field, value, 'a finite number > 0');
}

/** Refuses a context that would make a prediction meaningless (CARBONCP_INVALID_ARGUMENT naming the field). */
export function checkContext(ctx: DecisionContext): void {
  if (ctx === null || typeof ctx !== 'object') bad('(context)', ctx, 'an object');
  if (!Number.isFinite(ctx.time)) bad('time', ctx.time, 'a finite number of ms');
  if (ctx.cpuLoad !== undefined && !(ctx.cpuLoad >= 0 && ctx.cpuLoad <= 1)) bad('cpuLoad', ctx.cpuLoad, 'in [0, 1]');
  if (ctx.powerSource !== 'battery' && ctx.powerSource !== 'ac' && ctx.powerSource !== 'unknown') bad('powerSource', ctx.powerSource, "'battery', 'ac' or 'unknown'");
  if (ctx.batteryPercent !== undefined && !(ctx.batteryPercent >= 0 && ctx.batteryPercent <= 100)) bad('batteryPercent', ctx.batteryPercent, 'in [0, 100]');
  nonNegative('rttMs.mean', ctx.rttMs?.mean);
  nonNegative('rttMs.sd', ctx.rttMs?.sd);
  positive('uplinkBps.mean', ctx.uplinkBps?.mean);
  nonNegative('uplinkBps.sd', ctx.uplinkBps?.sd);
  if (ctx.downlinkBps !== undefined) positive('downlinkBps.mean', ctx.downlinkBps.mean);
  nonNegative('serverQueueDepth', ctx.serverQueueDepth);
  nonNegative('deviceIntensityGPerKwh', ctx.deviceIntensityGPerKwh);
  nonNegative('serverIntensityGPerKwh', ctx.serverIntensityGPerKwh);
  nonNegative('devicePowerW', ctx.devicePowerW);
  nonNegative('radio.upJPerByte', ctx.radio?.upJPerByte);
  nonNegative('radio.downJPerByte', ctx.radio?.downJPerByte);
  nonNegative('radio.burstJ', ctx.radio?.burstJ);
  nonNegative('serverPowerW', ctx.serverPowerW);
  if (ctx.serverPue !== undefined) checkPue(ctx.serverPue);
  checkSites(ctx.sites);
  const tails = ctx.serverTailMs;
  // for-in over own keys is Object.entries without its arrays (this runs on every decide and observe).
  if (tails) for (const plan in tails) if (Object.hasOwn(tails, plan)) nonNegative(`serverTailMs.${plan}`, tails[plan]);
}
