import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { DecisionCandidate } from '../candidates/candidate.js';
import { OnlineRidge } from '../predictors/online-ridge.js';
import type { Features, IntervalPrediction, IntervalPredictor } from '../types.js';
import type { DecisionContext } from './context.js';
import type { ScoreWindow } from '../conformal/score-window.js';
import { METHOD_FAMILIES, type MethodFactory, type MethodFamily, type MethodRestorer } from './method-registry.js';
import { metricMethods } from './metric-methods.js';
import { RidgeView } from './ridge-view.js';
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
  transferStructural,
  type Metric,
  type MetricFeatures,
} from './structural.js';

const FLOORS: readonly number[] = METRICS.map((m) => METRIC_FLOOR[m]);
const DIMENSIONS: readonly number[] = METRICS.map((m) => METRIC_FEATURE_INDICES[m].length);
const LATENCY = METRICS.indexOf('latencyMs');
const ENERGY = METRICS.indexOf('deviceEnergyJ');


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
  /**
   * Each metric's ridge prediction for the features being assessed (figures), in [0, 6), and
   * the views' kept answers, in [6, 12): a decision reads both of every candidate.
   */
  private readonly corrections = new Float64Array(2 * METRICS.length);
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
    pool?: CandidateModel,
  ) {
    this.families = config.families ?? METHOD_FAMILIES;
    if (pool) {
      // Learning pooled with another candidate of the same kind (the same cut at another site):
      // its corrections, windows and buffers are this one's; only the structural model (this
      // candidate's RTT, tail offset and site grid) and the observation counts are its own.
      if (pool.candidate.kind !== candidate.kind) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `candidate '${candidate.id}' (${candidate.kind}) cannot pool with '${pool.candidate.id}' (${pool.candidate.kind})`);
      this.zeros = pool.zeros;
      this.offsets = pool.offsets;
      this.weights = pool.weights;
      this.corrections = pool.corrections;
      this.models = pool.models;
      if (state) {
        this.observations = state.saved.observations;
        this.lastObservedAt = state.saved.lastObservedAt;
      }
      return;
    }
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
        this.corrections,
        METRICS.length + i,
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
    // A loop over the one or two families, not indexOf (a builtin call per candidate per request).
    const families = this.families;
    for (let f = 0; f < families.length; f += 1) if (families[f] === family) return f * this.config.alphas.length + alphaIndex;
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `the ${family} family is not kept (families: ${this.families.join(', ')})`);
  }

  /**
   * Every metric's prediction and interval at the family's method for alphas[alphaIndex].
   * `features` is metricFeatures(contextFeatures(ctx)), shared by all candidates of one context.
   * Written out metric by metric: it runs for every candidate of every request.
   */
  predict(ctx: DecisionContext, features: MetricFeatures, family: MethodFamily, alphaIndex: number): CandidatePredictions {
    const c = this.candidate;
    const m = this.methodIndex(family, alphaIndex);
    const headMs = this.interval(0, headStructural(c, ctx), features[0]!, m, alphaIndex);
    const transferMs = this.interval(1, transferStructural(c, ctx), features[1]!, m, alphaIndex);
    const serverMs = this.interval(2, serverStructural(c, ctx), features[2]!, m, alphaIndex);
    const latencyMs = this.interval(3, latencyStructural(headMs.point, transferMs.point, serverMs.point), features[3]!, m, alphaIndex);
    const deviceEnergyJ = this.interval(4, energyStructural(c, ctx, headMs.point), features[4]!, m, alphaIndex);
    const carbonG = this.interval(5, carbonStructural(ctx, serverMs.point, deviceEnergyJ.point, c), features[5]!, m, alphaIndex);
    return { headMs, transferMs, serverMs, latencyMs, deviceEnergyJ, carbonG };
  }

  /**
   * The figures a decision needs (see DecisionFigures), without the intervals it does not use:
   * the method of a metric is asked only for latency (and device energy, when energyInterval).
   */
  figures(ctx: DecisionContext, features: MetricFeatures, family: MethodFamily, alphaIndex: number, energyInterval: boolean, out: DecisionFigures): DecisionFigures {
    const c = this.candidate;
    const m = this.methodIndex(family, alphaIndex);
    this.correctionsAt(features, energyInterval);
    // Each corrected point written out (structural x e^correction; 0 for a metric 0 by kind), not
    // a helper per metric: with helpers the compiler ran out of inlining budget and boxed each result.
    const k = this.corrections;
    const at = this.offsets;
    const headMs = at[0]! < 0 ? 0 : Math.max(headStructural(c, ctx), FLOORS[0]!) * Math.exp(k[0]!);
    const transferMs = at[1]! < 0 ? 0 : Math.max(transferStructural(c, ctx), FLOORS[1]!) * Math.exp(k[1]!);
    const serverMs = at[2]! < 0 ? 0 : Math.max(serverStructural(c, ctx), FLOORS[2]!) * Math.exp(k[2]!);
    // interval() written out for the latency (never 0 by kind): its view holds k[3] (correctionsAt).
    const latencyBase = Math.max(latencyStructural(headMs, transferMs, serverMs), FLOORS[LATENCY]!);
    const p = this.models[LATENCY]!.methods[m]!.predict(features[LATENCY]!);
    out.latency = { point: latencyBase * Math.exp(k[LATENCY]!), lower: latencyBase * Math.exp(p.lower), upper: latencyBase * Math.exp(p.upper), alpha: p.alpha, method: p.method, n: p.n };
    const energyBase = energyStructural(c, ctx, headMs);
    let deviceEnergyJ: number;
    out.deviceEnergyUpper = Number.NaN;
    if (energyInterval) {
      const energy = this.interval(4, energyBase, features[4]!, m, alphaIndex);
      deviceEnergyJ = energy.point;
      out.deviceEnergyUpper = energy.upper;
    } else deviceEnergyJ = at[4]! < 0 ? 0 : Math.max(energyBase, FLOORS[4]!) * Math.exp(k[4]!);
    out.carbonG = at[5]! < 0 ? 0 : Math.max(carbonStructural(ctx, serverMs, deviceEnergyJ, c), FLOORS[5]!) * Math.exp(k[5]!);
    out.headMs = headMs;
    out.transferMs = transferMs;
    out.serverMs = serverMs;
    out.deviceEnergyJ = deviceEnergyJ;
    return out;
  }

  /**
   * Every metric's ridge prediction for its features, read from the shared buffer (the ridge's
   * predict: the same sum in the same order), into `corrections`; the views of the metrics whose
   * methods a decision asks are given theirs. The ridge refuses features of the wrong length, in
   * metric order, as it would have when asked.
   */
  private correctionsAt(features: MetricFeatures, energyInterval: boolean): void {
    const w = this.weights;
    for (let i = 0; i < DIMENSIONS.length; i += 1) {
      const at = this.offsets[i]!;
      if (at < 0) continue;
      const x = features[i]!;
      if (x.length !== DIMENSIONS[i]) this.models[i]!.view.ridge.predict(x);
      let y = w[at]!;
      for (let j = 0; j < x.length; j += 1) y += w[at + 1 + j]! * x[j]!;
      this.corrections[i] = y;
      if (i === LATENCY || (i === ENERGY && energyInterval)) this.models[i]!.view.prime(x, y);
    }
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
    const c = this.candidate;
    const headMs = this.point(0, headStructural(c, ctx), features[0]!);
    const transferMs = this.point(1, transferStructural(c, ctx), features[1]!);
    const serverMs = this.point(2, serverStructural(c, ctx), features[2]!);
    const latencyMs = this.point(3, latencyStructural(headMs, transferMs, serverMs), features[3]!);
    const deviceEnergyJ = this.point(4, energyStructural(c, ctx, headMs), features[4]!);
    return [headMs, transferMs, serverMs, latencyMs, deviceEnergyJ, this.point(5, carbonStructural(ctx, serverMs, deviceEnergyJ, c), features[5]!)];
  }

  /** One metric's corrected point (0 by kind, or the structural value x e^(the view's correction)). */
  private point(i: number, structuralValue: number, x: Features): number {
    const model = this.models[i];
    return model ? Math.max(structuralValue, FLOORS[i]!) * Math.exp(model.view.predict(x)) : 0;
  }

  /**
   * Learns from one observed request: every metric given (finite, >= 0) and not 0 by kind is
   * scored by each method against the predictors as they were, then the ridge learns it. The
   * structural values are all computed (and every value checked) before any predictor changes,
   * as predict() would have. Written out metric by metric, as predict() is.
   */
  observe(ctx: DecisionContext, features: MetricFeatures, observed: Observation, decisionIndex: number): void {
    const c = this.candidate;
    this.pending = 0;
    const headMs = this.see(0, headStructural(c, ctx), features[0]!, observed.headMs);
    const transferMs = this.see(1, transferStructural(c, ctx), features[1]!, observed.transferMs);
    const serverMs = this.see(2, serverStructural(c, ctx), features[2]!, observed.serverMs);
    this.see(3, latencyStructural(headMs, transferMs, serverMs), features[3]!, observed.latencyMs);
    const deviceEnergyJ = this.see(4, energyStructural(c, ctx, headMs), features[4]!, observed.deviceEnergyJ);
    this.see(5, carbonStructural(ctx, serverMs, deviceEnergyJ, c), features[5]!, observed.carbonG);
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
