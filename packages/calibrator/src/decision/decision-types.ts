import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { DecisionCandidate } from '../candidates/candidate.js';
import type { CandidatePredictions } from './candidate-model.js';
import type { IntervalPrediction } from '../types.js';
import type { Metric } from './structural.js';

/**
 * `mean`: point predictions against the SLO. `robust`: conformal upper bounds (the robust
 * family). `adaptive`: the adaptive family's online bounds (drift). `set`: CarbonCP's
 * formulation: a conformal set of plausibly optimal candidates from point predictions, and
 * within it the fastest that keeps every rule.
 */
export type DecisionMode = 'mean' | 'robust' | 'adaptive' | 'set';
export const DECISION_MODES: readonly DecisionMode[] = ['mean', 'robust', 'adaptive', 'set'];

export type Objective = 'carbon' | 'latency' | 'energy';
export const OBJECTIVES: readonly Objective[] = ['carbon', 'latency', 'energy'];

/** The metric each objective minimises ('energy': the device's, compute and radio: what the battery pays). */
export const OBJECTIVE_METRIC: Readonly<Record<Objective, Metric>> = { carbon: 'carbonG', latency: 'latencyMs', energy: 'deviceEnergyJ' };

/** A rule that can rule a candidate out, in the order they are reported. */
/** 'site': the candidate's site is down (DecisionContext.sites): never relaxed, so a down site gets nothing. */
export type Constraint = 'error' | 'quality' | 'battery' | 'slo' | 'budget' | 'set' | 'site';
export const CONSTRAINTS: readonly Constraint[] = ['error', 'quality', 'battery', 'slo', 'budget', 'set', 'site'];

/**
 * On battery, not charging, at or below `belowPercent`: only candidates whose device energy
 * (bound) is at most `maxDeviceEnergyJ`, or, without it, within (1 + slack) of the least device
 * energy of any candidate, stay in. So a low battery spends (nearly) the least it can, and
 * the objective still chooses among those.
 */
export interface BatteryRule {
  belowPercent: number;
  maxDeviceEnergyJ?: number;
  slack?: number;
}
export const DEFAULT_BATTERY_RULE: Readonly<Required<Omit<BatteryRule, 'maxDeviceEnergyJ'>>> = { belowPercent: 20, slack: 0.1 };

export interface DecideOptions {
  /** Latency objective of the request (ms); default Infinity (no SLO). */
  sloMs?: number;
  /** Miscoverage; one of the decider's alphas (default its first). */
  alpha?: number;
  mode?: DecisionMode;
  objective?: Objective;
  /** Candidates whose maxAbsError exceeds this, or is unknown, are out. */
  maxOutputError?: number;
  /**
   * Candidates whose declared quality (their variant's, e.g. published top-1 %) is below this, or
   * unknown, are out: the quality floor of model variants (issue #11).
   */
  minQuality?: number;
  /**
   * A per-request carbon cap (g), e.g. a CarbonBudget's cap(): candidates whose predicted carbon
   * (point) exceeds it are out ('budget'). When none fits, the least-carbon candidate that keeps
   * the other rules is taken and 'budget' reported relaxed.
   */
  maxCarbonG?: number;
  /**
   * Among the candidates that keep every rule, prefer the highest declared quality (unknown counts
   * lowest), then the objective: what a carbon budget trades quality against (Quality Time). Default false.
   */
  preferQuality?: boolean;
  /** The battery rule; default DEFAULT_BATTERY_RULE; false: none. */
  batteryReserve?: BatteryRule | false;
  /** Whether this request may explore (default true, within the decider's rate). */
  explore?: boolean;
  /**
   * 'robust' and 'adaptive' modes: the share of the latency interval above the point that must
   * fit the SLO, latencyBound = point + sloMargin x (upper - point). 1 (default) the conformal
   * upper bound, 0 the point (as 'mean'). An SloBudget moves it to spend a long-run miss budget.
   */
  sloMargin?: number;
  /**
   * Which candidates get all six metrics' intervals: 'chosen' (default; the others carry what the
   * decision weighed: latency interval, objective, device energy) or 'all' (an evaluation's
   * record; about twice the time).
   */
  predictions?: 'chosen' | 'all';
  /**
   * Carbon objective with several sites: grams CO2e counted per litre of water the tail consumes
   * at its site (DecisionContext.sites waterLPerKwh), so the objective is carbonG + waterWeight x
   * litres. Default 0 (carbon alone). E.g. 10 g/L weighs 1 L of water like 10 g of CO2e.
   */
  waterWeight?: number;
  /** Equity multipliers per site (SiteEquity.penalties()): the carbon objective adds lambda x the site's footprint. */
  sitePenalties?: Readonly<Record<string, number>>;
}

/** decide()'s options with the defaults filled in. */
export interface ResolvedRequest {
  sloMs: number;
  alpha: number;
  alphaIndex: number;
  mode: DecisionMode;
  objective: Objective;
  maxOutputError: number | undefined;
  minQuality: number | undefined;
  maxCarbonG: number | undefined;
  preferQuality: boolean;
  battery: BatteryRule | false;
  explore: boolean;
  sloMargin: number;
  allPredictions: boolean;
  waterWeight: number;
  sitePenalties: Readonly<Record<string, number>> | undefined;
}

/** One candidate as the decision saw it. */
export interface CandidateAssessment {
  candidate: DecisionCandidate;
  /** End-to-end latency: point and interval at the mode's method. */
  latency: IntervalPrediction;
  /** All six metrics: for the chosen candidate always, for every one with `predictions: 'all'`. */
  predictions?: CandidatePredictions;
  /** The objective's point prediction: what is minimised (expected emissions add up; upper bounds do not). */
  objectiveValue: number;
  /** Its carbon point prediction (g): what the budget's cap is held against. */
  carbonG: number;
  /** The latency held to the SLO: the point in 'mean' and 'set', the upper bound otherwise. */
  latencyBound: number;
  /** The device energy the battery rule looks at, likewise. */
  energyBound: number;
  /** Rules that put it out, in CONSTRAINTS order; empty: feasible. */
  excludedBy: Constraint[];
  feasible: boolean;
  /** 'set' mode: its score (regret-like, 0 for the predicted optimum) and whether it is in the set. */
  setScore?: number;
  inSet?: boolean;
}

export interface Decision {
  candidate: DecisionCandidate;
  chosen: CandidateAssessment;
  /** The chosen candidate's six metrics, at the mode's intervals (what telemetry records beside the outcome). */
  predictions: CandidatePredictions;
  mode: DecisionMode;
  objective: Objective;
  alpha: number;
  sloMs: number;
  /** The request's output-error limit, if it set one. */
  maxOutputError?: number;
  /** The request's quality floor, if it set one. */
  minQuality?: number;
  /** The request's carbon cap (g), if it set one (a CarbonBudget's). */
  maxCarbonG?: number;
  /** Whether the request preferred quality before the objective. */
  preferQuality?: boolean;
  /** Every candidate, in the decider's order. */
  assessments: CandidateAssessment[];
  /**
   * The rule that kept the choice from the candidate that is best on the objective alone (with
   * preferQuality: on quality, then the objective) (the
   * first of its exclusions, in CONSTRAINTS order); 'slo' when no candidate met the SLO bound;
   * 'set' when 'set' mode's pick (the fastest member) is not that candidate.
   */
  bound: Constraint | 'none';
  /** No candidate met the SLO bound: the fastest bound was taken (see `relaxed`). */
  sloUnmet: boolean;
  /** Rules dropped to find a candidate at all (the SLO always, when sloUnmet). */
  relaxed: Constraint[];
  /** The choice is an exploration, not the best candidate (see `exploration`). */
  explored: boolean;
  exploration?: { kind: 'refresh' | 'warmup'; instead: string };
  /** The next best three by the objective, feasible or not (each says what excluded it). */
  runnersUp: CandidateAssessment[];
  /** 'set' mode: the candidates in the conformal set and its threshold (Infinity until calibrated). */
  set?: { members: string[]; threshold: number; calibrationScores: number };
  /** contextFeatures(ctx). */
  features: number[];
  /** Decisions before this one (the decider's clock for staleness). */
  index: number;
  /** The choice, its intervals, the runners-up and the binding rule, in words. */
  explanation: string;
}

export function resolveRequest(options: DecideOptions, alphas: readonly number[]): ResolvedRequest {
  const sloMs = options.sloMs ?? Number.POSITIVE_INFINITY;
  if (!(sloMs > 0)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `sloMs must be > 0, got ${sloMs}`);
  const alpha = options.alpha ?? alphas[0]!;
  const alphaIndex = alphas.findIndex((a) => Math.abs(a - alpha) < 1e-12);
  if (alphaIndex < 0) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `alpha ${alpha} is not one the decider calibrates (alphas: ${alphas.join(', ')}); add it to its alphas`);
  }
  const mode = options.mode ?? 'robust';
  if (!DECISION_MODES.includes(mode)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `mode must be one of ${DECISION_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  const objective = options.objective ?? 'carbon';
  if (!OBJECTIVES.includes(objective)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `objective must be one of ${OBJECTIVES.join(', ')}, got ${JSON.stringify(objective)}`);
  const { maxOutputError } = options;
  if (maxOutputError !== undefined && !(maxOutputError >= 0)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `maxOutputError must be >= 0, got ${maxOutputError}`);
  const { minQuality } = options;
  if (minQuality !== undefined && !Number.isFinite(minQuality)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `minQuality must be a finite number, got ${minQuality}`);
  const { maxCarbonG } = options;
  if (maxCarbonG !== undefined && !(maxCarbonG >= 0)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `maxCarbonG must be >= 0, got ${maxCarbonG}`);
  let battery: BatteryRule | false = DEFAULT_BATTERY_RULE;
  if (options.batteryReserve === false) battery = false;
  else if (options.batteryReserve !== undefined) {
    const rule = options.batteryReserve;
    if (!(rule.belowPercent >= 0 && rule.belowPercent <= 100)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `batteryReserve.belowPercent must be in [0, 100], got ${rule.belowPercent}`);
    if (rule.maxDeviceEnergyJ !== undefined && !(rule.maxDeviceEnergyJ >= 0)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `batteryReserve.maxDeviceEnergyJ must be >= 0, got ${rule.maxDeviceEnergyJ}`);
    if (rule.slack !== undefined && !(rule.slack >= 0)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `batteryReserve.slack must be >= 0, got ${rule.slack}`);
    battery = rule;
  }
  const sloMargin = options.sloMargin ?? 1;
  if (!(sloMargin >= 0 && Number.isFinite(sloMargin))) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `sloMargin must be a finite number >= 0, got ${sloMargin}`);
  const detail = options.predictions ?? 'chosen';
  if (detail !== 'chosen' && detail !== 'all') throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `predictions must be 'chosen' or 'all', got ${JSON.stringify(detail)}`);
  const waterWeight = options.waterWeight ?? 0;
  if (!(Number.isFinite(waterWeight) && waterWeight >= 0)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `waterWeight must be a finite number >= 0, got ${waterWeight}`);
  const sitePenalties = options.sitePenalties;
  for (const [site, lambda] of Object.entries(sitePenalties ?? {})) {
    if (!(Number.isFinite(lambda) && lambda >= 0)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `sitePenalties.${site} must be a finite number >= 0, got ${lambda}`);
  }
  return { sloMs, alpha, alphaIndex, mode, objective, maxOutputError, minQuality, maxCarbonG, preferQuality: options.preferQuality === true, battery, explore: options.explore ?? true, sloMargin, allPredictions: detail === 'all', waterWeight, sitePenalties };
}
