import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { DecisionCandidate } from '../candidates/candidate.js';
import { OnlineRidge } from '../predictors/online-ridge.js';
import type { Features, IntervalPrediction, IntervalPredictor, PointPredictor } from '../types.js';
import type { DecisionContext } from './context.js';
import { METHOD_FAMILIES, restoreIntervalPredictor, type MethodFactory, type MethodFamily, type MethodRestorer } from './method-registry.js';
import { METRICS, METRIC_FEATURE_INDICES, METRIC_FLOOR, isStructuralZero, structural, type Metric, type PartPoints } from './structural.js';

/** What one request of a candidate cost; only latencyMs is required (a fallback has no server part, say). */
export type Observation = { latencyMs: number } & Partial<Record<Exclude<Metric, 'latencyMs'>, number>>;

/** A candidate's predictions, one per metric, in natural units. */
export type CandidatePredictions = Record<Metric, IntervalPrediction>;

export interface ModelConfig {
  alphas: readonly number[];
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

interface MetricModel {
  view: RidgeView;
  /** Index family x alphas.length + alpha index. */
  methods: IntervalPredictor[];
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
  private readonly models: Partial<Record<Metric, MetricModel>> = {};
  private readonly zeros: IntervalPrediction[];

  constructor(
    readonly candidate: DecisionCandidate,
    private readonly config: ModelConfig,
    state?: { saved: CandidateModelState; restorers?: Readonly<Record<string, MethodRestorer>> },
  ) {
    this.zeros = config.alphas.map((alpha) => Object.freeze({ point: 0, lower: 0, upper: 0, alpha, method: 'structural', n: 0 }));
    for (const metric of METRICS) {
      if (isStructuralZero(metric, candidate.kind)) continue;
      const dimensions = METRIC_FEATURE_INDICES[metric].length;
      const saved = state?.saved.metrics[metric];
      if (state && !saved) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `saved state of candidate '${candidate.id}' has no ${metric} model`);
      const view = new RidgeView(saved ? OnlineRidge.fromJSON(saved.ridge) : new OnlineRidge({ dimensions, ...config.ridge }));
      if (view.ridge.dimensions !== dimensions) {
        throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `saved ${metric} model of '${candidate.id}' has ${view.ridge.dimensions} features, expected ${dimensions}`);
      }
      const methods: IntervalPredictor[] = [];
      for (const family of METHOD_FAMILIES) {
        config.alphas.forEach((alpha, a) => {
          const index = methods.length;
          const method = saved
            ? restoreIntervalPredictor(saved.methods[index], view, state?.restorers)
            : config.methods[family](view, { candidateId: candidate.id, metric, family, alpha, dimensions });
          if (Math.abs(method.alpha - alpha) > 1e-12) {
            throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${family} method of '${candidate.id}' ${metric} is for alpha ${method.alpha}, expected ${alpha} (alphas[${a}])`);
          }
          methods.push(method);
        });
      }
      this.models[metric] = { view, methods };
    }
    if (state) {
      this.observations = state.saved.observations;
      this.lastObservedAt = state.saved.lastObservedAt;
    }
  }

  /**
   * Every metric's prediction and interval at the family's method for alphas[alphaIndex].
   * `features` is metricFeatures(contextFeatures(ctx)), shared by all candidates of one context.
   */
  predict(ctx: DecisionContext, features: Readonly<Record<Metric, Features>>, family: MethodFamily, alphaIndex: number): CandidatePredictions {
    const parts: PartPoints = { headMs: 0, transferMs: 0, serverMs: 0, deviceEnergyJ: 0 };
    const out = {} as CandidatePredictions;
    const methodIndex = (family === 'robust' ? 0 : 1) * this.config.alphas.length + alphaIndex;
    for (const metric of METRICS) {
      const model = this.models[metric];
      if (!model) {
        out[metric] = this.zeros[alphaIndex]!;
        continue;
      }
      const x = features[metric];
      const base = Math.max(structural(metric, this.candidate, ctx, parts), METRIC_FLOOR[metric]);
      const point = base * Math.exp(model.view.predict(x));
      const p = model.methods[methodIndex]!.predict(x);
      out[metric] = { point, lower: base * Math.exp(p.lower), upper: base * Math.exp(p.upper), alpha: p.alpha, method: p.method, n: p.n };
      if (metric !== 'latencyMs' && metric !== 'carbonG') parts[metric] = point;
    }
    return out;
  }

  /** Point predictions only (the corrected structural model), without any interval. */
  points(ctx: DecisionContext, features: Readonly<Record<Metric, Features>>): Record<Metric, number> {
    const parts: PartPoints = { headMs: 0, transferMs: 0, serverMs: 0, deviceEnergyJ: 0 };
    const out = {} as Record<Metric, number>;
    for (const metric of METRICS) {
      const model = this.models[metric];
      if (!model) {
        out[metric] = 0;
        continue;
      }
      const base = Math.max(structural(metric, this.candidate, ctx, parts), METRIC_FLOOR[metric]);
      out[metric] = base * Math.exp(model.view.predict(features[metric]));
      if (metric !== 'latencyMs' && metric !== 'carbonG') parts[metric] = out[metric];
    }
    return out;
  }

  /**
   * Learns from one observed request: every metric given (finite, >= 0) and not 0 by kind is
   * scored by each method against the predictors as they were, then the ridge learns it. The
   * structural values are all computed before any predictor changes, as predict() would have.
   */
  observe(ctx: DecisionContext, features: Readonly<Record<Metric, Features>>, observed: Observation, decisionIndex: number): void {
    const parts: PartPoints = { headMs: 0, transferMs: 0, serverMs: 0, deviceEnergyJ: 0 };
    const targets: [MetricModel, Features, number][] = [];
    for (const metric of METRICS) {
      const model = this.models[metric];
      if (!model) continue;
      const x = features[metric];
      const base = Math.max(structural(metric, this.candidate, ctx, parts), METRIC_FLOOR[metric]);
      if (metric !== 'latencyMs' && metric !== 'carbonG') parts[metric] = base * Math.exp(model.view.predict(x));
      const y = observed[metric];
      if (y === undefined) continue;
      if (!(Number.isFinite(y) && y >= 0)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `observed ${metric} must be a finite number >= 0, got ${y}`);
      targets.push([model, x, Math.log(Math.max(y, METRIC_FLOOR[metric]) / base)]);
    }
    for (const [model, x, target] of targets) {
      for (const method of model.methods) method.observe(x, target);
      model.view.train(x, target);
    }
    this.observations += 1;
    this.lastObservedAt = decisionIndex;
  }

  toJSON(): CandidateModelState {
    const metrics: CandidateModelState['metrics'] = {};
    for (const metric of METRICS) {
      const model = this.models[metric];
      if (model) metrics[metric] = { ridge: model.view.ridge.toJSON(), methods: model.methods.map((m) => m.toJSON()) };
    }
    return { observations: this.observations, lastObservedAt: this.lastObservedAt, metrics };
  }
}
