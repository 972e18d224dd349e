import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { DecisionCandidate } from '../candidates/candidate.js';
import { OnlineRidge } from '../predictors/online-ridge.js';
import type { Features, IntervalPrediction, IntervalPredictor, PointPredictor } from '../types.js';
import type { DecisionContext } from './context.js';
import type { ScoreWindow } from '../conformal/score-window.js';
import { METHOD_FAMILIES, type MethodFactory, type MethodFamily, type MethodRestorer } from './method-registry.js';
import { metricMethods } from './metric-methods.js';
import {
  METRICS,
  METRIC_FEATURE_INDICES,
  METRIC_FLOOR,
  carbonStructural,
  energyStructural,
  headStructural,
  isStructuralZero,
  latencyStructural,
  serverStructural,
  structural,
  transferStructural, type Metric, type MetricFeatures, type PartPoints } from './structural.js';

const FLOORS: readonly number[] = METRICS.map((m) => METRIC_FLOOR[m]);
const DIMENSIONS: readonly number[] = METRICS.map((m) => METRIC_FEATURE_INDICES[m].length);


/** What one request of a candidate cost; only latencyMs is required (a fallback has no server part, say). */
export type Observation = { latencyMs: number } & Partial<Record<Exclude<Metric, 'latencyMs'>, number>>;

/** A candidate's predictions, one per metric, in natural units. */
export type CandidatePredictions = Record<Metric, IntervalPrediction>;

/**
 * What a decision needs of every candidate: the corrected points, the latency interval, and the
 * device energy's upper bound where asked for (else NaN).
 */
export interface DecisionFigures {
  latency: IntervalPrediction;
  headMs: number;
  transferMs: number;
  serverMs: number;
  deviceEnergyJ: number;
  deviceEnergyUpper: number;
  carbonG: number;
}

export interface ModelConfig {
  alphas: readonly number[];
  /** Families kept (each is a calibration window per metric and alpha); default both. */
  families?: readonly MethodFamily[];
  methods: Readonly<Record<MethodFamily, MethodFactory>>;
  ridge: { lambda: number; forgetting: number };
}

/**
 * The correction's point predictor as the interval methods see it: the ridge's prediction, with
 * no `update` (the model trains the ridge once, after every method has scored the target), and
 * the last answer kept, since the model and then the method ask for the same features in turn.
 */
class RidgeView implements PointPredictor {
  private lastX: Features | undefined;
  private lastY = 0;

  constructor(readonly ridge: OnlineRidge) {}

  predict(x: Features): number {
    if (x !== this.lastX) {
      this.lastY = this.ridge.predict(x);
      this.lastX = x;
    }
    return this.lastY;
  }

  train(x: Features, y: number): void {
    this.lastX = undefined;
    this.ridge.update(x, y);
  }
}

function setPart(parts: PartPoints, metric: Metric, value: number): void {
  if (metric === 'headMs' || metric === 'transferMs' || metric === 'serverMs' || metric === 'deviceEnergyJ') parts[metric] = value;
}

interface MetricModel {
  view: RidgeView;
  /** Index: family's place in the config's families x alphas.length + alpha index. */
  methods: IntervalPredictor[];
  /** The window the package's own methods share (see metricMethods); the model adds to it. */
  shared: ScoreWindow | undefined;
}

export interface CandidateModelState {
  observations: number;
  /** Decision count when last observed; null: never. */
  lastObservedAt: number | null;
  metrics: Partial<Record<Metric, { ridge: ReturnType<OnlineRidge['toJSON']>; methods: unknown[] }>>;
}

/**
 * The predictors of one candidate: per metric (but those that are 0 by its kind), a ridge
 * regression of the log ratio observed / structural on the metric's features, and around it one
 * interval method per family and alpha. Predictions are structural x e^(correction), intervals
 * structural x e^(method's interval on the log ratio): exp is monotone, so the method's coverage
 * carries over unchanged.
 */
export class CandidateModel {
  observations = 0;
  lastObservedAt: number | null = null;
  /** Indexed like METRICS; undefined where the metric is 0 by the candidate's kind. */
  private readonly models: (MetricModel | undefined)[] = [];
  /**
   * Every metric's ridge weights (intercept first) in one buffer, the ridges' own storage: a
   * decision reads all of a candidate's corrections, and one buffer is a few cache lines where
   * six predictors behind three references each are many.
   */
  private readonly weights: Float64Array;
  /** Where each metric's weights start in `weights`; -1 where the metric is 0 by kind. */
  private readonly offsets: Int32Array;
  /** Each metric's ridge prediction for the features being assessed (figures). */
  private readonly corrections = new Float64Array(METRICS.length);
  /** The structural parts of the prediction being computed (reused: predict and figures run per candidate per request). */
  private readonly parts: PartPoints = { headMs: 0, transferMs: 0, serverMs: 0, deviceEnergyJ: 0 };
  private readonly zeros: IntervalPrediction[];
  private readonly families: readonly MethodFamily[];
  /** Targets of the observation being learnt, queued until every value is checked (reused, no allocation). */
  private pending = 0;
  private readonly pendingMetric: number[] = [];
  private readonly pendingFeatures: Features[] = [];
  private readonly pendingTarget: number[] = [];

  constructor(
    readonly candidate: DecisionCandidate,
    private readonly config: ModelConfig,
    state?: { saved: CandidateModelState; restorers?: Readonly<Record<string, MethodRestorer>> },
  ) {
    this.families = config.families ?? METHOD_FAMILIES;
    this.zeros = config.alphas.map((alpha) => Object.freeze({ point: 0, lower: 0, upper: 0, alpha, method: 'structural', n: 0 }));
    this.offsets = new Int32Array(METRICS.length).fill(-1);
    let total = 0;
    METRICS.forEach((metric, i) => {
      if (isStructuralZero(metric, candidate.kind)) return;
      this.offsets[i] = total;
      total += DIMENSIONS[i]! + 1;
    });
    this.weights = new Float64Array(total);
    for (const [i, metric] of METRICS.entries()) {
      if (isStructuralZero(metric, candidate.kind)) {
        this.models.push(undefined);
        continue;
      }
      const dimensions = DIMENSIONS[i]!;
      const saved = state?.saved.metrics[metric];
      if (state && !saved) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `saved state of candidate '${candidate.id}' has no ${metric} model`);
      const weightStorage = this.weights.subarray(this.offsets[i]!, this.offsets[i]! + dimensions + 1);
      // A saved ridge of the wrong size gets storage of its own, and the check below refuses it.
      const view = new RidgeView(
        saved
          ? OnlineRidge.fromJSON(saved.ridge, saved.ridge?.dimensions === dimensions ? weightStorage : undefined)
          : new OnlineRidge({ dimensions, ...config.ridge, weightStorage }),
      );
      if (view.ridge.dimensions !== dimensions) {
        throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `saved ${metric} model of '${candidate.id}' has ${view.ridge.dimensions} features, expected ${dimensions}`);
      }
      const { methods, shared } = metricMethods(view, {
        candidateId: candidate.id,
        metric,
        dimensions,
        families: this.families,
        alphas: config.alphas,
        methods: config.methods,
        ...(saved ? { saved: saved.methods, restorers: state?.restorers } : {}),
      });
      this.models.push({ view, methods, shared });
    }
    if (state) {
      this.observations = state.saved.observations;
      this.lastObservedAt = state.saved.lastObservedAt;
    }
  }

  private methodIndex(family: MethodFamily, alphaIndex: number): number {
    const f = this.families.indexOf(family);
    if (f < 0) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `the ${family} family is not kept (families: ${this.families.join(', ')})`);
    return f * this.config.alphas.length + alphaIndex;
  }

  /**
   * Every metric's prediction and interval at the family's method for alphas[alphaIndex].
   * `features` is metricFeatures(contextFeatures(ctx)), shared by all candidates of one context.
   * Written out metric by metric: it runs for every candidate of every request.
   */
  predict(ctx: DecisionContext, features: MetricFeatures, family: MethodFamily, alphaIndex: number): CandidatePredictions {
    const c = this.candidate;
    const m = this.methodIndex(family, alphaIndex);
    const parts = this.clearedParts();
    const headMs = this.interval(0, headStructural(c, ctx, parts), features[0]!, m, alphaIndex);
    parts.headMs = headMs.point;
    const transferMs = this.interval(1, transferStructural(c, ctx, parts), features[1]!, m, alphaIndex);
    parts.transferMs = transferMs.point;
    const serverMs = this.interval(2, serverStructural(c, ctx, parts), features[2]!, m, alphaIndex);
    parts.serverMs = serverMs.point;
    const latencyMs = this.interval(3, latencyStructural(c, ctx, parts), features[3]!, m, alphaIndex);
    const deviceEnergyJ = this.interval(4, energyStructural(c, ctx, parts), features[4]!, m, alphaIndex);
    parts.deviceEnergyJ = deviceEnergyJ.point;
    const carbonG = this.interval(5, carbonStructural(c, ctx, parts), features[5]!, m, alphaIndex);
    return { headMs, transferMs, serverMs, latencyMs, deviceEnergyJ, carbonG };
  }

  /**
   * The figures a decision needs (see DecisionFigures), without the intervals it does not use:
   * the method of a metric is asked only for latency (and device energy, when energyInterval).
   */
  figures(ctx: DecisionContext, features: MetricFeatures, family: MethodFamily, alphaIndex: number, energyInterval: boolean, out: DecisionFigures): DecisionFigures {
    const c = this.candidate;
    const m = this.methodIndex(family, alphaIndex);
    const parts = this.clearedParts();
    this.correctionsAt(features);
    parts.headMs = this.corrected(0, headStructural(c, ctx, parts));
    parts.transferMs = this.corrected(1, transferStructural(c, ctx, parts));
    parts.serverMs = this.corrected(2, serverStructural(c, ctx, parts));
    out.latency = this.interval(3, latencyStructural(c, ctx, parts), features[3]!, m, alphaIndex);
    out.deviceEnergyUpper = Number.NaN;
    if (energyInterval) {
      const energy = this.interval(4, energyStructural(c, ctx, parts), features[4]!, m, alphaIndex);
      parts.deviceEnergyJ = energy.point;
      out.deviceEnergyUpper = energy.upper;
    } else parts.deviceEnergyJ = this.corrected(4, energyStructural(c, ctx, parts));
    out.carbonG = this.corrected(5, carbonStructural(c, ctx, parts));
    out.headMs = parts.headMs;
    out.transferMs = parts.transferMs;
    out.serverMs = parts.serverMs;
    out.deviceEnergyJ = parts.deviceEnergyJ;
    return out;
  }

  /** The structural value corrected by the metric's ridge (after correctionsAt): 0 for a metric that is 0 by kind. Small, so that it inlines. */
  private corrected(i: number, structuralValue: number): number {
    return this.offsets[i]! < 0 ? 0 : Math.max(structuralValue, FLOORS[i]!) * Math.exp(this.corrections[i]!);
  }

  /**
   * Every metric's ridge prediction for its features, read from the shared buffer (the ridge's
   * predict: the same sum in the same order), into `corrections`. The ridge refuses features of
   * the wrong length, in metric order, as it would have when asked.
   */
  private correctionsAt(features: MetricFeatures): void {
    const w = this.weights;
    for (let i = 0; i < DIMENSIONS.length; i += 1) {
      const at = this.offsets[i]!;
      if (at < 0) continue;
      const x = features[i]!;
      if (x.length !== DIMENSIONS[i]) this.models[i]!.view.ridge.predict(x);
      let y = w[at]!;
      for (let j = 0; j < x.length; j += 1) y += w[at + 1 + j]! * x[j]!;
      this.corrections[i] = y;
    }
  }

  private clearedParts(): PartPoints {
    const parts = this.parts;
    parts.headMs = 0;
    parts.transferMs = 0;
    parts.serverMs = 0;
    parts.deviceEnergyJ = 0;
    return parts;
  }

  private interval(i: number, structuralValue: number, x: Features, methodIndex: number, alphaIndex: number): IntervalPrediction {
    const model = this.models[i];
    if (!model) return this.zeros[alphaIndex]!;
    const base = Math.max(structuralValue, FLOORS[i]!);
    const p = model.methods[methodIndex]!.predict(x);
    return { point: base * Math.exp(model.view.predict(x)), lower: base * Math.exp(p.lower), upper: base * Math.exp(p.upper), alpha: p.alpha, method: p.method, n: p.n };
  }

  /** Point predictions only (the corrected structural model), without any interval, in METRICS order. */
  points(ctx: DecisionContext, features: MetricFeatures): number[] {
    const parts = this.clearedParts();
    return METRICS.map((metric, i) => this.point(i, metric, ctx, features[i]!, parts));
  }

  /** One metric's corrected point; a part's point is recorded in `parts` for the totals after it. */
  private point(i: number, metric: Metric, ctx: DecisionContext, x: Features, parts: PartPoints): number {
    const model = this.models[i];
    const value = model ? Math.max(structural(metric, this.candidate, ctx, parts), FLOORS[i]!) * Math.exp(model.view.predict(x)) : 0;
    setPart(parts, metric, value);
    return value;
  }

  /**
   * Learns from one observed request: every metric given (finite, >= 0) and not 0 by kind is
   * scored by each method against the predictors as they were, then the ridge learns it. The
   * structural values are all computed (and every value checked) before any predictor changes,
   * as predict() would have. Written out metric by metric, as predict() is.
   */
  observe(ctx: DecisionContext, features: MetricFeatures, observed: Observation, decisionIndex: number): void {
    const c = this.candidate;
    const parts = this.clearedParts();
    this.pending = 0;
    parts.headMs = this.see(0, headStructural(c, ctx, parts), features[0]!, observed.headMs);
    parts.transferMs = this.see(1, transferStructural(c, ctx, parts), features[1]!, observed.transferMs);
    parts.serverMs = this.see(2, serverStructural(c, ctx, parts), features[2]!, observed.serverMs);
    this.see(3, latencyStructural(c, ctx, parts), features[3]!, observed.latencyMs);
    parts.deviceEnergyJ = this.see(4, energyStructural(c, ctx, parts), features[4]!, observed.deviceEnergyJ);
    this.see(5, carbonStructural(c, ctx, parts), features[5]!, observed.carbonG);
    for (let k = 0; k < this.pending; k += 1) {
      const model = this.models[this.pendingMetric[k]!]!;
      const x = this.pendingFeatures[k]!;
      const target = this.pendingTarget[k]!;
      for (const method of model.methods) method.observe(x, target);
      // The score each sharing method would have added, against the point it was judged by.
      model.shared?.add(Math.abs(target - model.view.predict(x)));
      model.view.train(x, target);
    }
    this.observations += 1;
    this.lastObservedAt = decisionIndex;
  }

  /** One metric's corrected point; with an observed value, its log-ratio target is queued for learning. */
  private see(i: number, structuralValue: number, x: Features, y: number | undefined): number {
    const model = this.models[i];
    if (!model) return 0;
    const base = Math.max(structuralValue, FLOORS[i]!);
    const point = base * Math.exp(model.view.predict(x));
    if (y !== undefined) {
      if (!(Number.isFinite(y) && y >= 0)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `observed ${METRICS[i]} must be a finite number >= 0, got ${y}`);
      this.pendingMetric[this.pending] = i;
      this.pendingFeatures[this.pending] = x;
      this.pendingTarget[this.pending] = Math.log(Math.max(y, FLOORS[i]!) / base);
      this.pending += 1;
    }
    return point;
  }

  toJSON(): CandidateModelState {
    const metrics: CandidateModelState['metrics'] = {};
    for (const [i, metric] of METRICS.entries()) {
      const model = this.models[i];
      if (model) metrics[metric] = { ridge: model.view.ridge.toJSON(), methods: model.methods.map((m) => m.toJSON()) };
    }
    return { observations: this.observations, lastObservedAt: this.lastObservedAt, metrics };
  }
}
