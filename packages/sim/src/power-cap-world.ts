/**
 * GPU power caps on the server, in the simulator (issue #11 §4): modelled from published
 * power/time/energy curves (@carboncp/carbon gpu-power-caps.json, powerCapEffect), never run on
 * a GPU here. 'server-uncapped' and 'carboncp-power-cap' both make carboncp-robust's decision on
 * the device; they differ only in the server they meet: the first at the board's default limit,
 * the second at the cap the server's own policy (choosePowerCap of @carboncp/core, what
 * `carboncp serve --power-cap auto` applies) chooses from the server grid's intensity now and its
 * queue, or at a fixed cap. At a cap with time ratio T and energy ratio E (interpolated between
 * the curve's published points, never extrapolated: the cap is clamped to the published range):
 *
 *   tail' = T x tail     wait' = T x wait (each request ahead runs T times longer)
 *   server J' = E x server J, so the server's carbon is E times as much
 *
 * and the device is told the server's power at the cap (serverPowerW x E / T), as a server says
 * its cap in pongs. Not modelled: a higher utilisation drawing a longer queue (the queue's length
 * is the uncapped draw), and the downlink's drain starting T x tail later.
 */
import type { DecisionCandidate } from '@carboncp/calibrator';
import { powerCapEffect, type PowerCapCurve } from '@carboncp/carbon';
import { choosePowerCap, clampPowerCap, resolvePowerCapPolicy, type GpuLimits, type PowerCapPolicy } from '@carboncp/core';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { Outcomes, type OutcomeSettings } from './outcomes.js';
import { createPolicy, type PolicySettings, type SimPolicy } from './policies.js';
import type { PolicyName } from './policy-names.js';

/** The policies that compare power caps: they need SimulationOptions.powerCap. */
export const POWER_CAP_POLICIES: readonly PolicyName[] = ['server-uncapped', 'carboncp-power-cap'];

export interface SimPowerCap {
  /** The server GPU's published curve (one of parseGpuPowerCapCurves's curves). */
  curve: PowerCapCurve;
  /** 'auto' (default): the server's policy (choosePowerCap); a number: that many watts, clamped to the curve's published range. */
  mode?: 'auto' | number;
  /** The policy's parameters (DEFAULT_POWER_CAP_POLICY where not given). */
  policy?: Partial<PowerCapPolicy>;
}

/** What 'carboncp-power-cap' ran at, over the requests that ran a tail on the server. */
export interface PowerCapResult {
  curve: string;
  mode: 'auto' | number;
  defaultW: number;
  /** Mean cap (W) over the requests of 'carboncp-power-cap' that ran a tail. */
  meanCapW: number;
  /** Share of those requests that ran under a cap below the default. */
  cappedShare: number;
}

export class PowerCapWorld {
  /** The truth 'carboncp-power-cap' meets: the shared draw, at the cap (refilled per request). */
  readonly capped: Outcomes;
  readonly gpu: GpuLimits;
  readonly policy: PowerCapPolicy;
  readonly mode: 'auto' | number;
  /** The cap now, its ratios, and the server power the device is told. */
  capW = 0;
  timeRatio = 1;
  energyRatio = 1;
  reportedPowerW = 0;
  private capSum = 0;
  private cappedRuns = 0;
  private runs = 0;

  constructor(
    private readonly options: SimPowerCap,
    candidates: readonly DecisionCandidate[],
    private readonly settings: OutcomeSettings,
  ) {
    const points = options.curve.points.map((p) => p.capW.value as number);
    const defaultW = options.curve.defaultLimitW.value as number;
    this.gpu = { defaultW, maxW: defaultW, minW: points[points.length - 1]! };
    this.policy = resolvePowerCapPolicy(options.policy);
    const mode = options.mode ?? 'auto';
    if (mode !== 'auto' && !(typeof mode === 'number' && Number.isFinite(mode) && mode > 0)) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `powerCap.mode must be 'auto' or a number of watts > 0, got ${JSON.stringify(mode)}`);
    }
    this.mode = mode;
    this.capped = new Outcomes(candidates, settings);
  }

  /** Chooses the cap for this request (the server's grid now, its queue) and fills `capped` from the shared truth. */
  apply(truth: Outcomes, serverIntensity: number, queueDepth: number): void {
    this.capW = this.mode === 'auto' ? choosePowerCap(this.gpu, { intensityGPerKwh: serverIntensity, queueDepth }, this.policy).watts : clampPowerCap(this.mode, this.gpu);
    const effect = powerCapEffect(this.options.curve, this.capW);
    this.timeRatio = effect.timeRatio;
    this.energyRatio = effect.energyRatio;
    this.reportedPowerW = (this.settings.serverPowerW * effect.energyRatio) / effect.timeRatio;
    const c = this.capped;
    const wattsPerMs = (this.settings.serverPowerW * this.settings.serverPue) / 1000;
    for (let k = 0; k < truth.ids.length; k += 1) {
      const serverJ = truth.serverJ[k]!;
      const tail = serverJ / wattsPerMs;
      const wait = truth.serverMs[k]! - tail;
      const server = serverJ > 0 ? (wait + tail) * effect.timeRatio : truth.serverMs[k]!;
      c.headMs[k] = truth.headMs[k]!;
      c.transferMs[k] = truth.transferMs[k]!;
      c.serverMs[k] = server;
      c.latencyMs[k] = truth.latencyMs[k]! + (server - truth.serverMs[k]!);
      c.computeJ[k] = truth.computeJ[k]!;
      c.radioJ[k] = truth.radioJ[k]!;
      c.deviceJ[k] = truth.deviceJ[k]!;
      c.serverJ[k] = serverJ * effect.energyRatio;
      c.carbonDeviceG[k] = truth.carbonDeviceG[k]!;
      c.carbonNetworkG[k] = truth.carbonNetworkG[k]!;
      c.carbonServerG[k] = truth.carbonServerG[k]! * effect.energyRatio;
      c.carbonG[k] = c.carbonDeviceG[k]! + c.carbonNetworkG[k]! + c.carbonServerG[k]!;
    }
  }

  /** Counts the cap of a request of 'carboncp-power-cap' that ran candidate k. */
  count(k: number): void {
    if (!(this.capped.serverJ[k]! > 0)) return;
    this.runs += 1;
    this.capSum += this.capW;
    if (this.capW < this.gpu.defaultW) this.cappedRuns += 1;
  }

  result(): PowerCapResult {
    return {
      curve: this.options.curve.id,
      mode: this.mode,
      defaultW: this.gpu.defaultW,
      meanCapW: this.runs > 0 ? this.capSum / this.runs : this.gpu.defaultW,
      cappedShare: this.runs > 0 ? this.cappedRuns / this.runs : 0,
    };
  }
}

/** 'server-uncapped' and 'carboncp-power-cap': carboncp-robust's decision (and its seed), under the policy's own name. */
export function createPowerCapPolicy(name: PolicyName, candidates: readonly DecisionCandidate[], s: PolicySettings): SimPolicy {
  if (!POWER_CAP_POLICIES.includes(name)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `'${name}' is not a power-cap policy`);
  return { ...createPolicy('carboncp-robust', candidates, s), name };
}
