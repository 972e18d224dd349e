/**
 * The server's own latency profile of each model's tails (GET /v2/models/{name}/profile),
 * measured on this machine with the server's execution provider by core's profileModel (one
 * profiled pass of full-model runs, node time attributed to the segments between cuts), and kept
 * fresh from live traffic: where the latency window holds enough recent tail runs of a plan, that
 * plan's tail is the live distribution; the other plans' tails are their profiled ones scaled by
 * how far live runs have drifted from the profile (median ratio over the plans with live data).
 * Measured lazily on the first request for a model (concurrent requests share the run), or at
 * start with profile 'start'; 'off' answers 404.
 */
import { distributionOf, type ModelProfile, type PlanProfile } from '@carboncp/core';
import { profileModel, type ExecutionProvider } from '@carboncp/core/node';
import type { LatencyWindow } from './latency-window.js';
import type { ServedModel } from './model-registry.js';

export type ProfileMode = 'off' | 'lazy' | 'start';

/** Live runs of a plan needed before its tail is served from them. */
export const LIVE_MIN_RUNS = 5;

export interface ServedPlanProfile extends PlanProfile {
  /** Where the served tail comes from: the profile, live tail runs, or the profile scaled by the live drift. */
  tailSource: 'profiled' | 'live' | 'profiled-scaled';
}

export interface ServedProfile extends Omit<ModelProfile, 'plans'> {
  plans: ServedPlanProfile[];
  live: {
    /** What the live numbers are: the server's tail run time (onnxruntime run, batch as it came), recent runs per plan. */
    measures: string;
    minRuns: number;
    /** Median over plans with live data of live median / profiled tail median; 1 without live data. */
    drift: number;
    plansWithLiveData: number;
  };
}

export interface TailProfilesOptions {
  mode: ProfileMode;
  runs: number;
  executionProvider: () => ExecutionProvider;
  latency: LatencyWindow;
  log: (line: string) => void;
  /** For tests: what measures a model (default core's profileModel). */
  measure?: (model: ServedModel, provider: ExecutionProvider, runs: number) => Promise<ModelProfile>;
}

const measureWithCore = (model: ServedModel, provider: ExecutionProvider, runs: number): Promise<ModelProfile> =>
  profileModel(model.partition, {
    inputShapes: model.inputShapes,
    runs,
    warmup: Math.min(3, runs),
    executionProvider: provider,
    plans: [...model.servable.keys()],
    checkCuts: 0,
  });

export class TailProfiles {
  private readonly measured = new Map<string, Promise<ModelProfile>>();

  constructor(private readonly options: TailProfilesOptions) {}

  get enabled(): boolean {
    return this.options.mode !== 'off';
  }

  /** Profiles every model now (mode 'start'); failures are logged and retried on request. */
  async warm(models: Iterable<ServedModel>): Promise<void> {
    for (const model of models) await this.profileOf(model).catch(() => undefined);
  }

  /** The served profile of a model: measured once per execution provider, freshened from live runs on every call. */
  async served(model: ServedModel): Promise<ServedProfile> {
    return freshen(await this.profileOf(model), model.name, this.options.latency);
  }

  private profileOf(model: ServedModel): Promise<ModelProfile> {
    const provider = this.options.executionProvider();
    const key = `${model.name}|${provider}`;
    let pending = this.measured.get(key);
    if (!pending) {
      const started = performance.now();
      pending = (this.options.measure ?? measureWithCore)(model, provider, this.options.runs);
      this.measured.set(key, pending);
      pending.then(
        () => this.options.log(`model ${model.name}: tail profile measured on ${provider} in ${((performance.now() - started) / 1000).toFixed(1)} s`),
        (error: unknown) => {
          this.measured.delete(key);
          this.options.log(`model ${model.name}: tail profile failed: ${(error as Error).message}`);
        },
      );
    }
    return pending;
  }
}

/** The profile with live tail times folded in (see the file comment). */
export function freshen(profile: ModelProfile, modelName: string, latency: Pick<LatencyWindow, 'samples'>): ServedProfile {
  const live = new Map<string, number[]>();
  for (const plan of profile.plans) {
    const samples = latency.samples(`${modelName}/${plan.id}`);
    if (samples.length >= LIVE_MIN_RUNS && plan.tail.n > 0) live.set(plan.id, samples);
  }
  const ratios = profile.plans
    .filter((p) => live.has(p.id) && p.tail.medianMs > 0)
    .map((p) => distributionOf(live.get(p.id)!).medianMs / p.tail.medianMs);
  const drift = ratios.length ? distributionOf(ratios).medianMs : 1;
  const scale = (d: PlanProfile['tail']): PlanProfile['tail'] => ({ ...d, medianMs: d.medianMs * drift, p10Ms: d.p10Ms * drift, p90Ms: d.p90Ms * drift, meanMs: d.meanMs * drift, sdMs: d.sdMs * drift });
  const plans = profile.plans.map((plan): ServedPlanProfile => {
    const samples = live.get(plan.id);
    if (samples) return { ...plan, tail: distributionOf(samples), tailSource: 'live' };
    if (ratios.length && plan.tail.n > 0) return { ...plan, tail: scale(plan.tail), tailSource: 'profiled-scaled' };
    return { ...plan, tailSource: 'profiled' };
  });
  return {
    ...profile,
    plans,
    live: {
      measures: 'server tail run time in ms (onnxruntime run of the tail, as batched), the most recent runs per plan',
      minRuns: LIVE_MIN_RUNS,
      drift,
      plansWithLiveData: ratios.length,
    },
  };
}
