/**
 * The GPU power-cap policy, pure: the server applies it with nvidia-smi (@carboncp/server
 * power-cap.ts) and the simulator models it on published curves (@carboncp/sim power-cap-world.ts);
 * one copy of the rule for both.
 *
 * choosePowerCap: a queue at or past `liftQueueDepth` lifts the cap to the board's default
 * (latency first: a growing queue says the cap is costing throughput); otherwise the cap falls
 * linearly from the default at `lowCarbonGPerKwh` to `lowCapFraction` x default at
 * `highCarbonGPerKwh` and stays there above it; no known intensity means the default. Every cap
 * is clamped to the board's [min, max] and rounded to whole watts. The default fraction 0.6
 * follows MIT Lincoln Laboratory's practice (150 W of a V100's 250 W; see
 * packages/carbon/data/gpu-power-caps.json for what the sources report it saves); the carbon
 * thresholds are policy parameters, not measured optima.
 */
import { CarboncpError, ErrorCode } from '@carboncp/protocol';

export interface PowerCapPolicy {
  /** At or below this intensity (gCO2e/kWh) the cap is the board's default. Default 200. */
  lowCarbonGPerKwh: number;
  /** At or above this intensity the cap is lowCapFraction x default. Default 400. */
  highCarbonGPerKwh: number;
  /** Requests waiting at which the cap is lifted to the default, whatever the carbon. Default 4. */
  liftQueueDepth: number;
  /** The lowest cap as a fraction of the board's default limit (then clamped to its minimum). Default 0.6. */
  lowCapFraction: number;
}

export const DEFAULT_POWER_CAP_POLICY: Readonly<PowerCapPolicy> = Object.freeze({
  lowCarbonGPerKwh: 200,
  highCarbonGPerKwh: 400,
  liftQueueDepth: 4,
  lowCapFraction: 0.6,
});

/** A board's settable power limits (W): what the policy clamps to. */
export interface GpuLimits {
  minW: number;
  maxW: number;
  defaultW: number;
}

/** Checks a policy and fills its defaults; CARBONCP_INVALID_ARGUMENT names the bad field. */
export function resolvePowerCapPolicy(options: Partial<PowerCapPolicy> = {}): PowerCapPolicy {
  const policy = { ...DEFAULT_POWER_CAP_POLICY };
  for (const key of Object.keys(DEFAULT_POWER_CAP_POLICY) as (keyof PowerCapPolicy)[]) {
    const value = options[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `powerCap.${key} must be a finite number >= 0, got ${String(value)}`);
    }
    policy[key] = value;
  }
  if (policy.highCarbonGPerKwh <= policy.lowCarbonGPerKwh) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `powerCap.highCarbonGPerKwh (${policy.highCarbonGPerKwh}) must be above powerCap.lowCarbonGPerKwh (${policy.lowCarbonGPerKwh})`);
  }
  if (policy.lowCapFraction <= 0 || policy.lowCapFraction > 1) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `powerCap.lowCapFraction must be in (0, 1], got ${policy.lowCapFraction}`);
  }
  if (!Number.isInteger(policy.liftQueueDepth) || policy.liftQueueDepth < 1) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `powerCap.liftQueueDepth must be an integer >= 1, got ${policy.liftQueueDepth}`);
  }
  return policy;
}

/** A cap in watts clamped to the board's range and rounded to whole watts. */
export function clampPowerCap(watts: number, gpu: GpuLimits): number {
  return Math.min(gpu.maxW, Math.max(gpu.minW, Math.round(watts)));
}

/** The cap the policy chooses for one GPU, and why (the reason goes to pongs and the log). */
export function choosePowerCap(gpu: GpuLimits, input: { intensityGPerKwh: number | undefined; queueDepth: number }, policy: PowerCapPolicy): { watts: number; reason: string } {
  const full = clampPowerCap(gpu.defaultW, gpu);
  if (input.queueDepth >= policy.liftQueueDepth) return { watts: full, reason: `queue ${input.queueDepth} >= ${policy.liftQueueDepth}: default limit` };
  const intensity = input.intensityGPerKwh;
  if (intensity === undefined) return { watts: full, reason: 'no carbon intensity known: default limit' };
  const floor = clampPowerCap(policy.lowCapFraction * gpu.defaultW, gpu);
  const { lowCarbonGPerKwh: low, highCarbonGPerKwh: high } = policy;
  const at = `carbon ${Math.round(intensity)} g/kWh`;
  if (intensity <= low) return { watts: full, reason: `${at} <= ${low}: default limit` };
  if (intensity >= high) return { watts: floor, reason: `${at} >= ${high}: ${policy.lowCapFraction} x default` };
  return { watts: clampPowerCap(full - ((full - floor) * (intensity - low)) / (high - low), gpu), reason: `${at} between ${low} and ${high}: interpolated` };
}
