import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { candidateId, checkCandidates, type DecisionCandidate } from '../candidates/candidate.js';
import { checkAlpha } from '../conformal/score-window.js';
import type { IntervalPrediction } from '../types.js';
import { CandidateModel, type CandidateModelState, type CandidatePredictions, type DecisionFigures, type ModelConfig, type Observation } from './candidate-model.js';
import { checkContext, contextFeatures, type DecisionContext } from './context.js';
import { OBJECTIVE_METRIC, resolveRequest, type CandidateAssessment, type DecideOptions, type Decision, type DecisionMode, type ResolvedRequest } from './decision-types.js';
import { DecisionRecord } from './decision-record.js';
import { Explorer, type ExplorationOptions, type ExplorerState } from './exploration.js';
import { DEFAULT_METHODS, METHOD_FAMILIES, type MethodFactory, type MethodFamily, type MethodRestorer } from './method-registry.js';
import { allowedByLimits, applyRules, batteryLow, choose, runnersUp } from './rules.js';
import { siteObjectiveExtra } from './site-conditions.js';
import { SetCalibration, optimalIndex, setScores, type ObjectiveLatency, type SetCalibrationState } from './set-mode.js';
import { METRICS, metricFeatures, type MetricFeatures } from './structural.js';

export interface DeciderOptions {
  /** Miscoverages the methods are built for; a request names one (default the first). Default [0.1]. */
  alphas?: readonly number[];
  /** Interval method per family; default split conformal (robust) and conformal PID (adaptive). */
  methods?: Partial<Record<MethodFamily, MethodFactory>>;
  /**
   * Method families kept: each is a calibration window per metric and alpha, updated on every
   * observation (half the cost of observe() each). A mode whose family is not kept is refused.
   * Default both.
   */
  families?: readonly MethodFamily[];
  /** The corrections' ridge: prior precision (trust in the structural model) and forgetting. Default 1 and 1. */
  ridge?: { lambda?: number; forgetting?: number };
  /** Bounded exploration; false: none. */
  exploration?: ExplorationOptions | false;
  /** Scores per objective behind 'set' mode's threshold. Default 500. */
  setWindow?: number;
  /**
   * Learning shared across sites: the candidates of one cut (plan, compression, variant) at
   * different sites pool their corrections and conformal windows, so a request at any site
   * teaches all of them; the sites differ only through the structural model (each site's RTT,
   * tail offset, grid and water). Default true; false: each site candidate learns alone.
   */
  poolSites?: boolean;
}

export interface DeciderState {
  version: 1;
  alphas: number[];
  families: MethodFamily[];
  ridge: { lambda: number; forgetting: number };
  /** Absent in states saved before pooling existed: false (each site candidate alone). */
  poolSites?: boolean;
  candidates: DecisionCandidate[];
  models: Record<string, CandidateModelState>;
  explorer: ExplorerState;
  set: SetCalibrationState;
}

const NO_INTERVAL: IntervalPrediction = Object.freeze({ point: Number.NaN, lower: Number.NaN, upper: Number.NaN, alpha: Number.NaN, method: 'none', n: 0 });


/**
 * The carbon-aware decision over a fixed list of candidates: per candidate, structural
 * predictions of latency, energy and carbon corrected online and wrapped in conformal intervals
 * (CandidateModel); per request, the candidate that minimises the objective under the SLO, the
 * battery rule, the output-error limit and the quality floor, with bounded exploration, explained. See the README,
 * "Predictors and the decision".
 */
export class CarbonAwareDecision {
  readonly candidates: readonly DecisionCandidate[];
  readonly alphas: readonly number[];
  readonly families: readonly MethodFamily[];
  private readonly models: CandidateModel[];
  private readonly byId: Map<string, number>;
  private readonly explorer: Explorer;
  private readonly setCalibration: SetCalibration;
  private readonly ridge: { lambda: number; forgetting: number };
  private readonly poolSites: boolean;
  /** What figures() writes per candidate, read at once into its assessment (reused). */
  private readonly scratch: DecisionFigures = { latency: NO_INTERVAL, headMs: 0, transferMs: 0, serverMs: 0, deviceEnergyJ: 0, deviceEnergyUpper: 0, carbonG: 0 };

  constructor(candidates: readonly DecisionCandidate[], options: DeciderOptions = {}, restore?: { state: DeciderState; restorers?: Readonly<Record<string, MethodRestorer>> }) {
    checkCandidates(candidates);
    this.candidates = candidates.map((c) => ({ ...c }));
    const alphas = options.alphas ?? [0.1];
    if (alphas.length === 0) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'alphas must name at least one miscoverage');
    alphas.forEach(checkAlpha);
    this.alphas = [...alphas];
    this.ridge = { lambda: options.ridge?.lambda ?? 1, forgetting: options.ridge?.forgetting ?? 1 };
    const families = options.families ?? METHOD_FAMILIES;
    if (families.length === 0 || !families.every((f) => METHOD_FAMILIES.includes(f))) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `families must be a non-empty list of ${METHOD_FAMILIES.join(', ')}, got ${JSON.stringify(families)}`);
    }
    this.families = [...new Set(families)];
    const config: ModelConfig = { alphas: this.alphas, families: this.families, methods: { ...DEFAULT_METHODS, ...options.methods }, ridge: this.ridge };
    this.poolSites = options.poolSites ?? true;
    const pools = new Map<string, CandidateModel>();
    this.models = this.candidates.map((c) => {
      const saved = restore?.state.models[c.id];
      if (restore && !saved) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `saved state has no model for candidate '${c.id}'`);
      const key = this.poolSites && c.site !== undefined ? candidateId({ planId: c.planId, compression: c.compression, variant: c.variant }) : undefined;
      const pool = key === undefined ? undefined : pools.get(key);
      const model = new CandidateModel(c, config, saved ? { saved, restorers: restore?.restorers } : undefined, pool);
      if (key !== undefined && !pool) pools.set(key, model);
      return model;
    });
    this.byId = new Map(this.candidates.map((c, i) => [c.id, i]));
    const exploration = options.exploration === false ? { rate: 0 } : (options.exploration ?? {});
    this.explorer = new Explorer(exploration, restore?.state.explorer);
    this.setCalibration = restore ? SetCalibration.fromJSON(restore.state.set) : new SetCalibration(options.setWindow ?? 500);
  }

  /** Chooses a candidate for one request (see DecideOptions for the defaults) and says why. */
  decide(ctx: DecisionContext, options: DecideOptions = {}): Decision {
    checkContext(ctx);
    const req = resolveRequest(options, this.alphas);
    const family = this.familyFor(req.mode);
    const index = this.explorer.tick();
    const features = contextFeatures(ctx);
    const perMetric = metricFeatures(features);
    const assessments = this.assess(ctx, perMetric, req, family);
    let set: Decision['set'];
    if (req.mode === 'set') set = this.applySet(assessments, req);
    applyRules(assessments, ctx, req);
    const choice = choose(assessments, req);
    let chosen = choice.chosen;
    let exploration: Decision['exploration'];
    if (req.explore) {
      const pick = this.explorer.consider(assessments, this.models, choice.chosen, req.sloMs);
      if (pick) {
        chosen = assessments[pick.index]!;
        exploration = { kind: pick.kind, instead: choice.chosen.candidate.id };
      }
    }
    chosen.predictions ??= this.models[assessments.indexOf(chosen)]!.predict(ctx, perMetric, family, req.alphaIndex);
    return new DecisionRecord({
      candidate: chosen.candidate,
      chosen,
      predictions: chosen.predictions,
      mode: req.mode,
      objective: req.objective,
      alpha: req.alpha,
      sloMs: req.sloMs,
      maxOutputError: req.maxOutputError,
      minQuality: req.minQuality,
      ...(req.maxCarbonG !== undefined ? { maxCarbonG: req.maxCarbonG } : {}),
      ...(req.preferQuality ? { preferQuality: true } : {}),
      assessments,
      bound: choice.bound,
      sloUnmet: choice.sloUnmet,
      relaxed: choice.relaxed,
      explored: exploration !== undefined,
      exploration,
      runnersUp: runnersUp(assessments, chosen, 3, req.preferQuality),
      set,
      features,
      index,
    });
  }

  /** One candidate's predictions for a context (e.g. for a cut the caller chose), at a mode's intervals. */
  predict(candidateId: string, ctx: DecisionContext, options: { mode?: DecideOptions['mode']; alpha?: number } = {}): CandidatePredictions {
    checkContext(ctx);
    const req = resolveRequest(options, this.alphas);
    return this.models[this.indexOf(candidateId)]!.predict(ctx, metricFeatures(contextFeatures(ctx)), this.familyFor(req.mode), req.alphaIndex);
  }

  /**
   * Learns from one finished request of a candidate (whoever chose it), in the context it was
   * decided in. With the request's decision, also calibrates 'set' mode: the optimum is
   * pseudo-labelled from this observation and the other candidates' predictions (only this one
   * was observed; see the README on the bias this has next to observeAll).
   */
  observe(candidateId: string, ctx: DecisionContext, observed: Observation, decision?: Decision): void {
    const i = this.indexOf(candidateId);
    checkContext(ctx);
    if (!(Number.isFinite(observed?.latencyMs) && observed.latencyMs >= 0)) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `observed latencyMs must be a finite number >= 0, got ${observed?.latencyMs}`);
    }
    if (decision) {
      const metric = OBJECTIVE_METRIC[decision.objective];
      const values = decision.assessments.map((a) => ({ objective: a.objectiveValue, latencyMs: a.latency.point }));
      const observedValue = observed[metric];
      if (observedValue !== undefined) {
        const truth = values.slice();
        truth[i] = { objective: observedValue, latencyMs: observed.latencyMs };
        this.calibrateSet(decision.objective, values, truth, this.allowedByLimits(decision.assessments.map((a) => a.candidate), decision), decision.sloMs);
      }
    }
    this.models[i]!.observe(ctx, metricFeatures(contextFeatures(ctx)), observed, this.explorer.decisions);
  }

  /**
   * Learns from a full-information record (the simulator's: what every candidate would have
   * cost in this context). Calibrates 'set' mode with the true optimum for `request`'s
   * objective, SLO, error limit and quality floor, then lets every observed candidate learn its outcome.
   */
  observeAll(ctx: DecisionContext, outcomes: Readonly<Record<string, Observation>>, request: DecideOptions = {}): void {
    checkContext(ctx);
    const req = resolveRequest(request, this.alphas);
    const features = metricFeatures(contextFeatures(ctx));
    const metric = OBJECTIVE_METRIC[req.objective];
    const objectiveAt = METRICS.indexOf(metric);
    const latencyAt = METRICS.indexOf('latencyMs');
    const predicted: ObjectiveLatency[] = [];
    const truth: ObjectiveLatency[] = [];
    const allowed = this.allowedByLimits(this.candidates, req);
    this.models.forEach((model, i) => {
      const points = model.points(ctx, features);
      predicted.push({ objective: points[objectiveAt]!, latencyMs: points[latencyAt]! });
      const o = outcomes[model.candidate.id];
      const value = o?.[metric];
      // A candidate without an outcome cannot be labelled optimal: its truth is unknown.
      truth.push(o && value !== undefined ? { objective: value, latencyMs: o.latencyMs } : { objective: Number.POSITIVE_INFINITY, latencyMs: Number.POSITIVE_INFINITY });
    });
    this.calibrateSet(req.objective, predicted, truth, allowed, req.sloMs);
    this.models.forEach((model) => {
      const o = outcomes[model.candidate.id];
      if (o) model.observe(ctx, features, o, this.explorer.decisions);
    });
  }

  /** Observations and last-observed decision count per candidate. */
  freshness(): Record<string, { observations: number; lastObservedAt: number | null }> {
    return Object.fromEntries(this.models.map((m) => [m.candidate.id, { observations: m.observations, lastObservedAt: m.lastObservedAt }]));
  }

  /** Decisions made and how many explored. */
  get stats(): { decisions: number; explored: number } {
    return { decisions: this.explorer.decisions, explored: this.explorer.explored };
  }

  toJSON(): DeciderState {
    const models: Record<string, CandidateModelState> = {};
    for (const m of this.models) models[m.candidate.id] = m.toJSON();
    return {
      version: 1,
      alphas: [...this.alphas],
      families: [...this.families],
      ridge: { ...this.ridge },
      poolSites: this.poolSites,
      candidates: this.candidates.map((c) => ({ ...c })),
      models,
      explorer: this.explorer.toJSON(),
      set: this.setCalibration.toJSON(),
    };
  }

  /**
   * Rebuilds a decider from toJSON()'s output (parsed JSON is fine). `methods` builds methods for
   * nothing here (every candidate's are restored) but must match the saved ones' kinds for
   * anything built later; `restorers` adds restore functions for methods not registered.
   */
  static fromJSON(state: DeciderState, options: { methods?: DeciderOptions['methods']; restorers?: Readonly<Record<string, MethodRestorer>> } = {}): CarbonAwareDecision {
    if (state?.version !== 1) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `unknown decider state version ${JSON.stringify(state?.version)}`);
    return new CarbonAwareDecision(
      state.candidates,
      { alphas: state.alphas, families: state.families, ridge: state.ridge, poolSites: state.poolSites ?? false, ...(options.methods ? { methods: options.methods } : {}), setWindow: state.set.window },
      { state, ...(options.restorers ? { restorers: options.restorers } : {}) },
    );
  }

  /** The family whose intervals a mode reads ('mean' and 'set' read only points: any kept family). */
  private familyFor(mode: DecisionMode): MethodFamily {
    const wanted: MethodFamily = mode === 'adaptive' ? 'adaptive' : 'robust';
    if (this.families.includes(wanted)) return wanted;
    if (mode === 'mean' || mode === 'set') return this.families[0]!;
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `mode '${mode}' needs the ${wanted} family, which this decider does not keep (families: ${this.families.join(', ')})`);
  }

  private indexOf(candidateId: string): number {
    const i = this.byId.get(candidateId);
    if (i === undefined) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `unknown candidate '${candidateId}'`);
    return i;
  }

  private assess(ctx: DecisionContext, perMetric: MetricFeatures, req: ResolvedRequest, family: MethodFamily): CandidateAssessment[] {
    // 'set' is CarbonCP's formulation: its uncertainty is the set, over point predictions.
    const points = req.mode === 'mean' || req.mode === 'set';
    const energyInterval = !points && batteryLow(ctx, req);
    const objective = req.objective;
    const scratch = this.scratch;
    const models = this.models;
    // Sized up front (no growing) and filled in a plain loop: this is most of a decision's time.
    const assessments = new Array<CandidateAssessment>(models.length);
    for (let k = 0; k < models.length; k += 1) {
      const model = models[k]!;
      let f: DecisionFigures;
      let predictions: CandidatePredictions | undefined;
      if (req.allPredictions) {
        predictions = model.predict(ctx, perMetric, family, req.alphaIndex);
        f = { latency: predictions.latencyMs, headMs: predictions.headMs.point, transferMs: predictions.transferMs.point, serverMs: predictions.serverMs.point, deviceEnergyJ: predictions.deviceEnergyJ.point, deviceEnergyUpper: predictions.deviceEnergyJ.upper, carbonG: predictions.carbonG.point };
      } else f = model.figures(ctx, perMetric, family, req.alphaIndex, energyInterval, scratch);
      assessments[k] = {
        candidate: model.candidate,
        latency: f.latency,
        predictions,
        objectiveValue: objective === 'carbon' ? f.carbonG + siteObjectiveExtra(model.candidate, ctx, f.serverMs, req.waterWeight, req.sitePenalties) : objective === 'energy' ? f.deviceEnergyJ : f.latency.point,
        carbonG: f.carbonG,
        latencyBound: points ? f.latency.point : marginBound(f.latency, req.sloMargin),
        energyBound: energyInterval ? f.deviceEnergyUpper : f.deviceEnergyJ,
        excludedBy: [],
        feasible: true,
        setScore: undefined,
        inSet: undefined,
      };
    }
    scratch.latency = NO_INTERVAL;
    return assessments;
  }

  private allowedByLimits(candidates: readonly DecisionCandidate[], req: { maxOutputError?: number | undefined; minQuality?: number | undefined }): boolean[] {
    return candidates.map((c) => allowedByLimits(c, req));
  }

  /** Scores every candidate as the optimum from its point predictions and marks the set. */
  private applySet(assessments: CandidateAssessment[], req: ResolvedRequest): NonNullable<Decision['set']> {
    const predicted = assessments.map((a) => ({ objective: a.objectiveValue, latencyMs: a.latency.point }));
    const scores = setScores(predicted, this.allowedByLimits(this.candidates, req), req.sloMs);
    const threshold = this.setCalibration.threshold(req.objective, req.alpha);
    const members: string[] = [];
    assessments.forEach((a, i) => {
      a.setScore = scores[i]!;
      a.inSet = scores[i]! <= threshold;
      if (a.inSet) members.push(a.candidate.id);
      else a.excludedBy.push('set');
    });
    return { members, threshold, calibrationScores: this.setCalibration.size(req.objective) };
  }

  private calibrateSet(objective: Decision['objective'], predicted: readonly ObjectiveLatency[], truth: readonly ObjectiveLatency[], allowed: readonly boolean[], sloMs: number): void {
    const label = optimalIndex(truth, allowed, sloMs);
    if (label < 0 || !Number.isFinite(truth[label]!.objective)) return;
    this.setCalibration.add(objective, setScores(predicted, allowed, sloMs)[label]!);
  }
}

/** point + margin x (upper - point); exactly the upper bound at margin 1 (also when it is infinite), the point at 0. */
function marginBound(latency: { point: number; upper: number }, margin: number): number {
  if (margin === 1) return latency.upper;
  if (margin === 0) return latency.point;
  return latency.upper === Number.POSITIVE_INFINITY ? latency.upper : latency.point + margin * (latency.upper - latency.point);
}
