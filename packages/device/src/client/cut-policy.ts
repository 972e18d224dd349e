import { CarboncpError, ErrorCode, type Compression } from '@carboncp/protocol';
import { checkCompression, planById } from './client-options.js';
import type { NetworkEstimate } from './network-estimator.js';
import type { CoverageStats } from '@carboncp/calibrator';
import type { TelemetryDecision } from './calibrated-policy.js';
import type { SiteView } from './site-pool.js';
import type { ClientPlan, InferOptions, RequestTelemetry, ServerContext, SplitModel } from './types.js';
import type { BudgetTelemetry } from './budget-pacer.js';

/**
 * One way to run a request: which plan (where the model is cut) and how its crossing tensors
 * are compressed. A decision is always a candidate, never just a cut: a policy that weighs bytes
 * against accuracy picks both together.
 */
export interface Candidate<P extends ClientPlan = ClientPlan> {
  plan: P;
  compression: Compression;
  /** With `servers`: the site whose server runs the tail (a name of CutContext.sites); absent: the first site that can. */
  site?: string;
  /** The model variant (its name in its family) whose plan this is: a family client's candidates only. */
  variant?: string;
  /** A policy's record of why (the calibrated policy's decision); the client copies it into the request's telemetry. */
  decision?: TelemetryDecision;
}

/** What infer() asked of the decision itself (cut 'auto'): see InferOptions. */
export type RequestedDecision = Pick<InferOptions, 'sloMs' | 'alpha' | 'mode' | 'objective' | 'maxOutputError'>;

/** What a cut policy may look at when it chooses; read-only, cheap to build per request. */
export interface CutContext<P extends ClientPlan = ClientPlan> {
  /** Every plan of the model, in partition order ('server', 'split-<k>'..., 'device'). */
  plans: readonly P[];
  /** What infer() asked for: `cut` is undefined or 'auto'; `compression` when it named one. */
  requested: { cut: 'auto' | undefined; compression: Compression | undefined; decide: RequestedDecision };
  /** The client's configured defaults (defaultCut, compression). */
  defaults: { cut: P; compression: Compression };
  /** Shapes of this request's inputs, by input name (the batch size is usually dims[0]). */
  inputDims: Readonly<Record<string, readonly number[]>>;
  /** Whether a plan's tail can run on the server now (connected, same digests), at the named site or (none named) at any; false means a local fallback. */
  remoteUsable(planId: string, site?: string): boolean;
  /** With `servers`: every site now (up, grid, water, RTT), by name; absent for a client with one server. */
  sites?: Readonly<Record<string, SiteView>>;
  /** With `equity`: the multiplier of each site (SiteEquity.penalties()), for DecideOptions.sitePenalties. */
  sitePenalties?: Readonly<Record<string, number>>;
  /** The latest server context (a pong), if any; see SplitClient.lastServerContext. */
  serverContext: ServerContext | undefined;
  /** The client's network estimate (RTT, uplink, downlink), see SplitClient.networkEstimate(); undefined before its first RTT sample. */
  network: NetworkEstimate | undefined;
  /** The client's clock (monotonic ms), e.g. to judge how old serverContext is. */
  now: number;
  /** The client's clock in ms since the epoch (grid intensities are by wall time). */
  epochMs: number;
}

/** A finished request as a policy sees it; `cut` and `epochMs` are the client's state when it finished. */
export interface PolicyOutcome<P extends ClientPlan = ClientPlan> {
  candidate: Candidate<P>;
  chosenBy: 'caller' | 'policy';
  telemetry: RequestTelemetry;
  cut: Pick<CutContext<P>, 'network' | 'serverContext' | 'sites'>;
  epochMs: number;
}

/**
 * Chooses a candidate for a request that names no cut (or names 'auto'). The client checks that
 * the plan is one of its own and the compression valid before it runs anything. `observe`, if
 * given, sees every finished request (the caller's choices too), so a policy that learns (a
 * calibrator) learns from all the traffic.
 */
export interface CutPolicy<P extends ClientPlan = ClientPlan> {
  choose(context: CutContext<P>): Candidate<P>;
  observe?(outcome: PolicyOutcome<P>): void;
  /** Empirical coverage of the policy's predicted intervals, per mode and metric (client.coverage()). */
  coverage?(): Record<string, Record<string, CoverageStats>>;
  /** The policy's learnt state, JSON-safe (client.calibratorState()). */
  state?(): unknown;
  /**
   * Books a finished request against the policy's carbon budget: its `telemetry.budget` (a policy
   * without one: undefined). `cut`: the state when it finished (to price a caller's fixed choice).
   */
  book?(candidate: Candidate<P>, telemetry: RequestTelemetry, epochMs: number, cut?: Pick<CutContext<P>, 'network' | 'serverContext' | 'sites'>): BudgetTelemetry | undefined;
  /** The carbon budget's state at `epochMs` (client.budgetState()). */
  budgetState?(epochMs: number): BudgetTelemetry | undefined;
}

/** Today's behaviour: the client's defaultCut, with the requested compression or the client's default. */
export function defaultCutPolicy<P extends ClientPlan>(): CutPolicy<P> {
  return {
    choose: ({ defaults, requested }) => ({ plan: defaults.cut, compression: requested.compression ?? defaults.compression }),
  };
}

/** A policy's choice, held to the rules of a caller's: one of the client's own plans (by id), a valid compression. */
export function askPolicy<P extends ClientPlan>(policy: CutPolicy<P>, model: Pick<SplitModel<P>, 'name' | 'plans'>, context: CutContext<P>): Candidate<P> {
  const choice = policy.choose(context);
  if (choice === null || typeof choice !== 'object') {
    throw new CarboncpError(ErrorCode.INTERNAL, `the cut policy returned ${String(choice)} instead of a candidate`);
  }
  return { ...choice, plan: planById(model, choice.plan?.id, 'chosen by the cut policy'), compression: checkCompression(choice.compression) };
}

/** Shows a finished request to the policy; a policy that fails to learn must not fail the request it learns from. */
export function tellPolicy<P extends ClientPlan>(policy: CutPolicy<P>, outcome: PolicyOutcome<P>): void {
  if (!policy.observe) return;
  try {
    policy.observe({ ...outcome, telemetry: { ...outcome.telemetry } });
  } catch {
    // Ignored on purpose (see above).
  }
}
