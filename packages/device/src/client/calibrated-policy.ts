import {
  CarbonAwareDecision,
  CoverageTracker,
  METRICS,
  SloBudget,
  candidateId,
  type CoverageStats,
  type DecideOptions,
  type Decision,
  type DecisionContext,
  type DeciderState,
  type Metric,
  type Observation,
  type SloBudgetOptions,
} from '@carboncp/calibrator';
import { estimatePowerW, radioEnergyJ, type DeviceProfile, type IntensityPoint, type RadioKind } from '@carboncp/carbon';
import { CarboncpError, ErrorCode, type Compression } from '@carboncp/protocol';
import type { BudgetCap, BudgetTelemetry, ClientBudget } from './budget-pacer.js';
import type { Candidate, CutContext, CutPolicy } from './cut-policy.js';
import type { PowerReading } from './power-source.js';
import { siteConditionsOf } from './site-pool.js';
import type { ClientPlan, RequestTelemetry } from './types.js';

/** What the calibrated policy needs to know of the world that the client does not measure itself. */
export interface CalibratedContextOptions {
  /** The device's profile (devices/): active watts while it computes, its radio's energy per byte. */
  deviceProfile: DeviceProfile;
  /** The radio the device's bytes go over. */
  radio: RadioKind;
  /** Grid intensity where the device is, cached (withLastKnown(provider).peek()); undefined while unknown. */
  deviceIntensity?: () => IntensityPoint | undefined;
  /**
   * The intensity (gCO2e/kWh) used where the device's grid, or the server's (before the server
   * reports one), is not known. Required: a decision by carbon on an unknown grid is a guess, and
   * this makes the guess the caller's, stated.
   */
  fallbackIntensityGPerKwh: number;
  /** The server's grid intensity, cached, when its pongs carry none (e.g. a trace of its zone). */
  serverIntensity?: () => IntensityPoint | undefined;
  /** The server's grid intensity when neither its pongs nor serverIntensity give one; default fallbackIntensityGPerKwh. */
  serverIntensityGPerKwh?: number;
  /** The device's latest power reading (PowerSampler.latest): power source and battery; absent: 'unknown'. */
  power?: () => PowerReading | undefined;
  /**
   * The server's power while it runs a tail (W), used until its responses report their energy
   * (from which the policy then learns the server's watts); required, as fallbackIntensityGPerKwh.
   */
  serverPowerW: number;
  /** The server's PUE (>= 1); default 1. */
  serverPue?: number;
  /** Uplink to assume before the network estimator has a sample (bits/s); default 10 Mbit/s. */
  uplinkPriorBps?: number;
  /** RTT to assume before the first ping (ms); default 50. */
  rttPriorMs?: number;
  /** Other work's CPU load on the device, 0..1, if known. */
  cpuLoad?: () => number | undefined;
}

export interface CalibratedPolicyOptions extends CalibratedContextOptions {
  decider: CarbonAwareDecision;
  /** Per-request defaults of decide(): SLO, alpha, mode, objective, error limit, battery rule. */
  defaults?: DecideOptions;
  /**
   * Spend the SLO-miss budget alpha over the long run instead of per request (the calibrator's
   * SloBudget): every request with an SLO moves the margin of the interval held to it. A
   * request's own `sloMargin` overrides it. Off by default.
   */
  sloBudget?: SloBudgetOptions;
  /**
   * A paced carbon budget (createClient's `budget`): each decision is capped in grams
   * (maxCarbonG, the 'budget' rule) and each finished request booked against it (book()).
   */
  carbonBudget?: ClientBudget;
}

/** The decision as a request's telemetry records it: the choice, its intervals and, once known, what was observed. */
export interface TelemetryDecision {
  candidateId: string;
  mode: Decision['mode'];
  objective: Decision['objective'];
  alpha: number;
  sloMs: number;
  bound: Decision['bound'];
  sloUnmet: boolean;
  explored: boolean;
  runnersUp: string[];
  /** Per metric: the prediction at 1 - alpha, and the value observed (absent when the request could not show it). */
  intervals: Partial<Record<Metric, { point: number; lower: number; upper: number; method: string; observed?: number }>>;
  /** The context it was decided in, as the decision saw it. */
  context: Pick<DecisionContext, 'powerSource' | 'batteryPercent' | 'serverQueueDepth' | 'deviceIntensityGPerKwh' | 'serverIntensityGPerKwh'> & {
    rttMs: number;
    uplinkBps: number;
  };
}

/** What the device's telemetry shows of each metric the decision predicts (absent: this request cannot show it). */
export function observationOf(t: RequestTelemetry): Observation {
  const o: Observation = { latencyMs: t.totalMs, headMs: t.headMs };
  // After a fallback the transfer and the server's part are those of a failed attempt, not of the candidate.
  if (t.path === 'split' || t.path === 'remote') {
    o.transferMs = t.transferMs;
    o.serverMs = t.serverMs;
  }
  if (t.footprint) {
    o.deviceEnergyJ = t.footprint.device.energyJ + t.footprint.network.energyJ;
    o.carbonG = t.footprint.totalCarbonG;
  }
  return o;
}

/** Writes the observed values beside the predicted intervals of a request's decision. */
export function recordObserved(t: RequestTelemetry): void {
  if (!t.decision) return;
  const observed = observationOf(t);
  for (const metric of METRICS) {
    const interval = t.decision.intervals[metric];
    const value = observed[metric];
    if (interval && value !== undefined) interval.observed = value;
  }
}

/**
 * The decider's id of what ran: a family's candidate names its variant ('split-2/none/0.5'); with
 * `servers`, a remote plan's candidate is per site ('split-2/none@eu').
 */
const candidateKey = (planId: string, compression: Compression, site: string | undefined, variant: string | undefined) =>
  candidateId({
    planId,
    compression: planId === 'device' ? 'none' : compression,
    ...(variant === undefined ? {} : { variant }),
    ...(site === undefined || planId === 'device' ? {} : { site }),
  });

type Chosen<P extends ClientPlan> = Candidate<P> & { decision?: TelemetryDecision; decided?: { decision: Decision; context: DecisionContext }; budget?: BudgetCap };

/**
 * The cut policy of `cut: 'auto'`: for each request, builds the decision context from the
 * client's cached state (network estimate, server context, power reading, cached intensities),
 * asks the calibrator's CarbonAwareDecision for the candidate that emits least within the SLO
 * bound, and learns from every finished request (the caller's choices too). Reads no sensor and
 * fetches nothing on a request.
 */
export class CalibratedPolicy<P extends ClientPlan = ClientPlan> implements CutPolicy<P> {
  readonly decider: CarbonAwareDecision;
  private readonly options: CalibratedPolicyOptions;
  private readonly coverageTracker = new CoverageTracker();
  private learnedServerW: { sum: number; n: number } = { sum: 0, n: 0 };
  private last: Decision | undefined;
  /** Plans (of a variant, with a family) that have run once: a plan's first request loads its sessions (device and server), a one-off cost not to learn. */
  private readonly warm = new Set<string>();
  /** The profile's figures, read once (a profile without them is refused here, not on a request). */
  private readonly activeW: number;
  private readonly radio: DecisionContext['radio'];
  /** The long-run SLO-miss budget, when `sloBudget` is set. */
  readonly budget: SloBudget | undefined;
  /** The paced carbon budget, when `carbonBudget` is set. */
  readonly carbonBudget: ClientBudget | undefined;

  constructor(options: CalibratedPolicyOptions) {
    checkPolicyOptions(options);
    this.options = options;
    this.decider = options.decider;
    if (options.sloBudget) this.budget = new SloBudget(options.sloBudget);
    this.carbonBudget = options.carbonBudget;
    const { deviceProfile: profile, radio } = options;
    this.activeW = estimatePowerW(profile, 1);
    // The radio model of @carboncp/carbon, taken apart into its marginal and per-burst terms.
    this.radio = {
      upJPerByte: radioEnergyJ(profile, radio, 1, 0, { tail: false, promotion: false }),
      downJPerByte: radioEnergyJ(profile, radio, 0, 1, { tail: false, promotion: false }),
      burstJ: radioEnergyJ(profile, radio, 0, 0),
    };
  }

  /** The decision context now, from what the client knows (see CalibratedContextOptions). */
  context(cut: Pick<CutContext<P>, 'network' | 'serverContext' | 'sites'>, epochMs: number): DecisionContext {
    const o = this.options;
    const reading = o.power?.();
    const device = o.deviceIntensity?.();
    const ctx: DecisionContext = {
      time: epochMs,
      powerSource: reading?.externalPower === true ? 'ac' : reading?.externalPower === false ? 'battery' : 'unknown',
      rttMs: cut.network ? { mean: cut.network.rttMs.mean, sd: cut.network.rttMs.sd } : { mean: o.rttPriorMs ?? 50, sd: 0 },
      uplinkBps: cut.network?.uplinkBps ? { mean: cut.network.uplinkBps.mean, sd: cut.network.uplinkBps.sd } : { mean: o.uplinkPriorBps ?? 10e6, sd: 0 },
      serverQueueDepth: cut.serverContext?.queueDepth ?? 0,
      deviceIntensityGPerKwh: device?.gPerKwh ?? o.fallbackIntensityGPerKwh,
      serverIntensityGPerKwh: cut.serverContext?.carbonIntensity?.valueGPerKwh ?? o.serverIntensity?.()?.gPerKwh ?? o.serverIntensityGPerKwh ?? o.fallbackIntensityGPerKwh,
      devicePowerW: reading?.kind === 'measured' && reading.watts !== undefined ? reading.watts : this.activeW,
      radio: this.radio,
      serverPowerW: this.learnedServerW.n > 0 ? this.learnedServerW.sum / this.learnedServerW.n : o.serverPowerW,
      ...(o.serverPue !== undefined ? { serverPue: o.serverPue } : {}),
    };
    // Several sites: each its own grid (the server's fallback where none is known), water, RTT, up or down.
    if (cut.sites) ctx.sites = siteConditionsOf(cut.sites, o.serverIntensity?.()?.gPerKwh ?? o.serverIntensityGPerKwh ?? o.fallbackIntensityGPerKwh);
    if (cut.network?.downlinkBps) ctx.downlinkBps = { mean: cut.network.downlinkBps.mean, sd: cut.network.downlinkBps.sd };
    if (cut.serverContext?.tailMs) ctx.serverTailMs = cut.serverContext.tailMs;
    if (reading?.batteryPercent !== undefined) ctx.batteryPercent = reading.batteryPercent;
    if (reading?.charging !== undefined) ctx.charging = reading.charging;
    const load = o.cpuLoad?.();
    if (load !== undefined) ctx.cpuLoad = load;
    return ctx;
  }

  choose(cut: CutContext<P>): Chosen<P> {
    const byPlan = new Map(cut.plans.map((p) => [p.id, p]));
    const device = byPlan.get('device');
    // The server is out of reach: every remote candidate would fall back; run on the device.
    if (device && !cut.remoteUsable('server')) return { plan: device, compression: 'none' };
    const context = this.context(cut, cut.epochMs);
    const margin = this.budget ? { sloMargin: this.budget.margin } : {};
    const penalties = cut.sitePenalties ? { sitePenalties: cut.sitePenalties } : {};
    const cap = this.carbonBudget?.cap(cut.epochMs);
    const decision = this.decider.decide(context, { ...this.options.defaults, ...margin, ...penalties, ...cut.requested.decide, ...(cap ? { maxCarbonG: cap.capG } : {}) });
    this.last = decision;
    const plan = byPlan.get(decision.candidate.planId);
    if (!plan) throw new CarboncpError(ErrorCode.INTERNAL, `the decision chose plan '${decision.candidate.planId}', which this client's model does not have`);
    if (cap) this.carbonBudget!.noted(decision, context.deviceIntensityGPerKwh);
    const budget = cap ? { budget: { ...cap, bound: decision.bound === 'budget' || decision.relaxed.includes('budget') } } : {};
    const site = decision.candidate.site !== undefined ? { site: decision.candidate.site } : {};
    return { plan, compression: decision.candidate.compression, ...site, ...budget, decision: telemetryDecision(decision, context), decided: { decision, context } };
  }

  observe(outcome: { candidate: Chosen<P>; chosenBy: 'caller' | 'policy'; telemetry: RequestTelemetry; cut?: Pick<CutContext<P>, 'network' | 'serverContext' | 'sites'>; epochMs?: number }): void {
    const t = outcome.telemetry;
    this.learnServerPower(t);
    const { variant } = outcome.candidate;
    const id = candidateKey(t.planId, t.compression, t.site?.name, variant);
    // Every request the policy decided with an SLO counts against the budget, a plan's first
    // included: its user waited for it all the same.
    const slo = outcome.candidate.decided?.decision.sloMs;
    if (this.budget && slo !== undefined && Number.isFinite(slo)) this.budget.update(t.totalMs <= slo);
    if (!this.decider.candidates.some((c) => c.id === id)) return; // a plan or compression the decider was not given
    // A request that failed over mixes two sites (the wait at the first, the answer of the second): it is neither's outcome.
    if (t.failover) return;
    // A plan's first request (of each variant, at each site) loads the server's session there too.
    const warmKey = `${variant === undefined ? '' : `${variant}/`}${t.planId}${t.site ? `@${t.site.name}` : ''}`;
    if (!this.warm.has(warmKey)) {
      this.warm.add(warmKey);
      return;
    }
    const decided = outcome.candidate.decided;
    const context = decided?.context ?? (outcome.cut && outcome.epochMs !== undefined ? this.context(outcome.cut, outcome.epochMs) : undefined);
    if (!context) return;
    const observed = observationOf(t);
    this.decider.observe(id, context, observed, decided?.decision);
    if (t.decision) {
      for (const metric of METRICS) {
        const interval = t.decision.intervals[metric];
        const value = observed[metric];
        if (interval && value !== undefined) this.coverageTracker.record(t.decision.mode, metric, interval, value);
      }
    }
  }

  /**
   * Books a finished request against the carbon budget: its `telemetry.budget` (undefined without
   * a budget). A caller's fixed choice is booked at the carbon predicted for what ran, in `cut`.
   */
  book(candidate: Candidate<P>, telemetry: RequestTelemetry, epochMs: number, cut?: Pick<CutContext<P>, 'network' | 'serverContext' | 'sites'>): BudgetTelemetry | undefined {
    const budget = this.carbonBudget;
    if (!budget) return undefined;
    const predict = () => (cut ? this.predictedCarbonG(telemetry, (candidate as Chosen<P>).variant, this.context(cut, epochMs)) : undefined);
    return budget.bookTelemetry(telemetry, epochMs, (candidate as Chosen<P>).budget, predict);
  }

  /** The point prediction of the carbon of what a request ran (its plan, compression, site, variant), in `context`; undefined where the decider has no such candidate. */
  predictedCarbonG(telemetry: Pick<RequestTelemetry, 'planId' | 'compression' | 'site'>, variant: string | undefined, context: DecisionContext): number | undefined {
    const id = candidateKey(telemetry.planId, telemetry.compression, telemetry.site?.name, variant);
    if (!this.decider.candidates.some((c) => c.id === id)) return undefined;
    return this.decider.predict(id, context).carbonG.point;
  }

  /** The carbon budget's state at `epochMs` (undefined without a budget). */
  budgetState(epochMs: number): BudgetTelemetry | undefined {
    return this.carbonBudget?.state(epochMs);
  }

  /** The decision behind the newest policy choice (its explanation is written when read). */
  lastDecision(): Decision | undefined {
    return this.last;
  }

  /** Empirical coverage and mean width per mode and metric, over the requests the policy chose. */
  coverage(): Record<string, Record<string, CoverageStats>> {
    return this.coverageTracker.report();
  }

  /** The decider's whole state (JSON-safe): give it back as `state` to start warm. */
  state(): DeciderState {
    return this.decider.toJSON();
  }

  /** The server's watts from its own reports: tail energy over tail time (server_ms - queue_ms). */
  private learnServerPower(t: RequestTelemetry): void {
    const e = t.serverEnergy;
    const runMs = t.serverMs - t.queueMs;
    if (!e || !(runMs > 0) || !(e.energyJ >= 0)) return;
    const watts = e.energyJ / (runMs / 1000) / (this.options.serverPue ?? 1);
    if (!Number.isFinite(watts)) return;
    // A running mean that forgets: the server's draw moves with its load and power cap.
    const n = Math.min(this.learnedServerW.n, 99);
    this.learnedServerW = { sum: (this.learnedServerW.sum / Math.max(1, this.learnedServerW.n)) * n + watts, n: n + 1 };
  }
}

export function telemetryDecision(d: Decision, ctx: DecisionContext): TelemetryDecision {
  const intervals: TelemetryDecision['intervals'] = {};
  const predictions = d.chosen.predictions;
  if (predictions) {
    for (const metric of METRICS) {
      const p = predictions[metric];
      intervals[metric] = { point: p.point, lower: p.lower, upper: p.upper, method: p.method };
    }
  }
  return {
    candidateId: d.candidate.id,
    mode: d.mode,
    objective: d.objective,
    alpha: d.alpha,
    sloMs: d.sloMs,
    bound: d.bound,
    sloUnmet: d.sloUnmet,
    explored: d.explored,
    runnersUp: d.runnersUp.map((a) => a.candidate.id),
    intervals,
    context: {
      powerSource: ctx.powerSource,
      ...(ctx.batteryPercent !== undefined ? { batteryPercent: ctx.batteryPercent } : {}),
      serverQueueDepth: ctx.serverQueueDepth,
      deviceIntensityGPerKwh: ctx.deviceIntensityGPerKwh,
      serverIntensityGPerKwh: ctx.serverIntensityGPerKwh,
      rttMs: ctx.rttMs.mean,
      uplinkBps: ctx.uplinkBps.mean,
    },
  };
}

function checkPolicyOptions(o: CalibratedPolicyOptions): void {
  const bad = (message: string) => new CarboncpError(ErrorCode.INVALID_ARGUMENT, `calibrator: ${message}`);
  if (!(o.decider instanceof CarbonAwareDecision)) throw bad('decider must be a CarbonAwareDecision');
  if (typeof o.deviceProfile?.id !== 'string') throw bad('deviceProfile must be a device profile (loadDeviceProfile of @carboncp/carbon/node)');
  if (!o.deviceProfile.radios?.[o.radio]) throw bad(`radio ${JSON.stringify(o.radio)} is not a radio of device profile '${o.deviceProfile.id}'`);
  if (!(typeof o.fallbackIntensityGPerKwh === 'number' && o.fallbackIntensityGPerKwh >= 0)) throw bad('fallbackIntensityGPerKwh must be a number >= 0 (the intensity assumed where none is known)');
  if (!(typeof o.serverPowerW === 'number' && o.serverPowerW >= 0)) throw bad("serverPowerW must be a number >= 0 (the server's watts until it reports its energy)");
  for (const name of ['deviceIntensity', 'serverIntensity', 'power', 'cpuLoad'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'function') throw bad(`${name} must be a function`);
  }
}
