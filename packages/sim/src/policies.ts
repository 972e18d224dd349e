import {
  CarbonAwareDecision,
  SloBudget,
  allowedByLimits,
  optimalIndex,
  type BatteryRule,
  type DecideOptions,
  type Decision,
  type DecisionCandidate,
  type DecisionContext,
  type DecisionMode,
  type DeciderOptions,
  type Interval,
  type Objective,
  type ObjectiveLatency,
  type Observation,
} from '@carboncp/calibrator';
import { seedFromString } from '@carboncp/core';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { Outcomes } from './outcomes.js';
import type { PolicyName } from './policy-names.js';

/** One decision of a policy: the candidate's index, and what a learning policy's decider said. */
export interface PolicyChoice {
  index: number;
  /** The latency interval it predicted for its choice (carboncp modes). */
  interval: Interval | null;
  explored: boolean;
  /** The decider found no candidate whose bound met the SLO. */
  sloUnmet: boolean;
}

/** A policy as the simulator drives it: choose from what the device sees, then learn what it would observe. */
export interface SimPolicy {
  readonly name: PolicyName;
  /** Whether its intervals are judged (a learning carboncp mode). */
  readonly calibrated: boolean;
  choose(ctx: DecisionContext, truth: Outcomes): PolicyChoice;
  learn(ctx: DecisionContext, choice: PolicyChoice, truth: Outcomes): void;
}

export interface PolicySettings {
  sloMs: number;
  alpha: number;
  maxOutputError: number | undefined;
  minQuality: number | undefined;
  /** 'best-fixed-variant': the variant it runs (simulate() finds it, a run per variant). */
  fixedVariant?: string;
  batteryReserve: BatteryRule | false | undefined;
  decider: Omit<DeciderOptions, 'alphas' | 'families'>;
  seed: number;
}

const NO_LEARNING = (): void => {};

function plain(index: number): PolicyChoice {
  return { index, interval: null, explored: false, sloUnmet: false };
}

/** The decide() options of the run's hard rules (output error, quality floor), those set. */
export function limitsOf(s: PolicySettings): Pick<DecideOptions, 'maxOutputError' | 'minQuality'> {
  return { ...(s.maxOutputError !== undefined ? { maxOutputError: s.maxOutputError } : {}), ...(s.minQuality !== undefined ? { minQuality: s.minQuality } : {}) };
}

/**
 * Everything on one side: the candidate of that kind without compression (or the first of that
 * kind), preferring those the hard rules allow (with variants: the first allowed variant's).
 */
function fixedPolicy(name: 'device' | 'server', candidates: readonly DecisionCandidate[], s: PolicySettings): SimPolicy {
  const limits = limitsOf(s);
  const find = (keep: (c: DecisionCandidate) => boolean) => candidates.findIndex((c) => c.kind === name && keep(c));
  let index = find((c) => c.compression === 'none' && allowedByLimits(c, limits));
  if (index < 0) index = find((c) => allowedByLimits(c, limits));
  if (index < 0) index = find((c) => c.compression === 'none');
  if (index < 0) index = find(() => true);
  if (index < 0) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `policy '${name}' needs a '${name}' candidate (plan '${name}' in the candidates)`);
  const choice = plain(index);
  return { name, calibrated: false, choose: () => choice, learn: NO_LEARNING };
}

/**
 * A point-estimate baseline: the calibrator's structural predictions from the profile and the
 * context the device sees ('mean' mode of a decider that never learns), minimising `objective`.
 */
function pointPolicy(name: PolicyName, candidates: readonly DecisionCandidate[], objective: Objective, holdSlo: boolean, s: PolicySettings): SimPolicy {
  const decider = new CarbonAwareDecision(candidates, { alphas: [s.alpha], families: ['robust'], exploration: false });
  const byId = indexById(candidates);
  const request: DecideOptions = {
    mode: 'mean',
    objective,
    ...(holdSlo ? { sloMs: s.sloMs } : {}),
    ...limitsOf(s),
    batteryReserve: false,
    explore: false,
  };
  return {
    name,
    calibrated: false,
    choose: (ctx) => plain(byId.get(decider.decide(ctx, request).candidate.id)!),
    learn: NO_LEARNING,
  };
}

/**
 * carboncp in one mode: its own decider (the family the mode reads only, halving observe()'s
 * cost), fed only the outcome of the candidate it ran; 'set' passes its decision so that the
 * set is calibrated from that outcome (pseudo-labels, as on a device). With `fullInformation`
 * it learns every candidate's outcome through observeAll instead. `among` restricts its decider
 * to some of the candidates (indices stay those of the full list); `seedName` names its
 * exploration stream (default its own name).
 */
function carboncpPolicy(
  name: PolicyName,
  candidates: readonly DecisionCandidate[],
  mode: DecisionMode,
  fullInformation: boolean,
  s: PolicySettings,
  budget?: SloBudget,
  among?: { candidates: readonly DecisionCandidate[]; seedName: string },
): SimPolicy {
  const exploration = s.decider.exploration === false ? false : { ...s.decider.exploration, seed: s.decider.exploration?.seed ?? seedFromString(among?.seedName ?? name, s.seed) };
  const decider = new CarbonAwareDecision(among?.candidates ?? candidates, { ...s.decider, alphas: [s.alpha], families: [mode === 'adaptive' ? 'adaptive' : 'robust'], exploration });
  const byId = indexById(candidates);
  const request: DecideOptions = {
    mode,
    objective: 'carbon',
    sloMs: s.sloMs,
    alpha: s.alpha,
    ...limitsOf(s),
    ...(s.batteryReserve !== undefined ? { batteryReserve: s.batteryReserve } : {}),
  };
  let last: Decision | undefined;
  return {
    name,
    calibrated: true,
    choose(ctx) {
      const d = decider.decide(ctx, budget ? { ...request, sloMargin: budget.margin } : request);
      last = d;
      const latency = d.predictions.latencyMs;
      return { index: byId.get(d.candidate.id)!, interval: { lower: latency.lower, upper: latency.upper }, explored: d.explored, sloUnmet: d.sloUnmet };
    },
    learn(ctx, choice, truth) {
      budget?.update(truth.latencyMs[choice.index]! <= s.sloMs);
      if (fullInformation) {
        const all: Record<string, Observation> = {};
        for (let k = 0; k < truth.ids.length; k += 1) all[truth.ids[k]!] = truth.observation(k);
        decider.observeAll(ctx, all, request);
      } else decider.observe(truth.ids[choice.index]!, ctx, truth.observation(choice.index), mode === 'set' ? last : undefined);
    },
  };
}

/**
 * The oracle: every candidate's true outcome in hand, the calibrator's own definition of the
 * optimum (optimalIndex: the least true carbon among candidates within the SLO, else the fastest),
 * among those the output-error limit and the quality floor allow (allowedByLimits, the rule the
 * decision applies).
 */
export class Oracle implements SimPolicy {
  readonly name = 'oracle' as const;
  readonly calibrated = false;
  private readonly values: ObjectiveLatency[];
  private readonly allowed: boolean[];

  constructor(
    candidates: readonly DecisionCandidate[],
    private readonly sloMs: number,
    limits: { maxOutputError?: number | undefined; minQuality?: number | undefined },
  ) {
    this.values = candidates.map(() => ({ objective: 0, latencyMs: 0 }));
    this.allowed = candidates.map((c) => allowedByLimits(c, limits));
    if (!this.allowed.some(Boolean)) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `no candidate meets the output-error limit ${limits.maxOutputError} and the quality floor ${limits.minQuality}`);
    }
  }

  pick(truth: Outcomes): number {
    for (let k = 0; k < this.values.length; k += 1) {
      const v = this.values[k]!;
      v.objective = truth.carbonG[k]!;
      v.latencyMs = truth.latencyMs[k]!;
    }
    return optimalIndex(this.values, this.allowed, this.sloMs);
  }

  choose(_ctx: DecisionContext, truth: Outcomes): PolicyChoice {
    return plain(this.pick(truth));
  }

  learn(): void {}
}

export function indexById(candidates: readonly DecisionCandidate[]): Map<string, number> {
  return new Map(candidates.map((c, i) => [c.id, i]));
}

/** Builds a policy over the candidates it sees (the oracle and the fixed ones need only their order). */
export function createPolicy(name: PolicyName, candidates: readonly DecisionCandidate[], s: PolicySettings): SimPolicy {
  switch (name) {
    case 'device':
    case 'server':
      return fixedPolicy(name, candidates, s);
    case 'neurosurgeon':
      return pointPolicy(name, candidates, 'latency', false, s);
    case 'energy-optimal':
      return pointPolicy(name, candidates, 'energy', false, s);
    case 'carbon-greedy':
      return pointPolicy(name, candidates, 'carbon', true, s);
    case 'carboncp-mean':
      return carboncpPolicy(name, candidates, 'mean', false, s);
    case 'carboncp-robust':
      return carboncpPolicy(name, candidates, 'robust', false, s);
    case 'carboncp-adaptive':
      return carboncpPolicy(name, candidates, 'adaptive', false, s);
    case 'carboncp-set':
      return carboncpPolicy(name, candidates, 'set', false, s);
    case 'carboncp-budget':
      return carboncpPolicy(name, candidates, 'robust', false, s, new SloBudget({ alpha: s.alpha }));
    case 'carboncp-set-full':
      return carboncpPolicy(name, candidates, 'set', true, s);
    case 'oracle':
      return new Oracle(candidates, s.sloMs, s);
    case 'carboncp-variants':
      return carboncpPolicy(name, candidates, 'robust', false, s);
    case 'best-fixed-variant': {
      const variant = s.fixedVariant;
      const among = candidates.filter((c) => c.variant !== undefined && c.variant === variant);
      if (among.length === 0) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `policy 'best-fixed-variant' needs fixedVariant, a variant of the candidates; got ${JSON.stringify(variant)}`);
      // Seeded as carboncp-robust, so that it replays the run per variant that chose it.
      return carboncpPolicy(name, candidates, 'robust', false, s, undefined, { candidates: among, seedName: 'carboncp-robust' });
    }
    default:
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `unknown policy '${String(name)}'`);
  }
}
