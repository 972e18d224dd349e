import type { DecideOptions, Decision, DecisionContext } from '@carboncp/calibrator';
import { CarboncpError, ErrorCode, type Compression } from '@carboncp/protocol';
import type { BudgetCap, ClientBudget } from './budget-pacer.js';
import { telemetryDecision, type CalibratedPolicy, type TelemetryDecision } from './calibrated-policy.js';
import type { Candidate, CutContext, PolicyOutcome, RequestedDecision } from './cut-policy.js';
import type { ClientPlan } from './types.js';

/** One variant as the family policy sees it: its plans and whether its server (with `servers`: the named site's) can run a plan's tail now. */
export interface VariantView<P extends ClientPlan> {
  name: string;
  plans: readonly P[];
  remoteUsable(planId: string, site?: string): boolean;
}

/** The state a family decision is made in: the network, the server context and, with `servers`, the sites and the equity's prices. */
export type FamilyCut<P extends ClientPlan> = Pick<CutContext<P>, 'network' | 'serverContext' | 'sites' | 'sitePenalties' | 'epochMs'>;

/** What a family request asks of the decision (cut 'auto'). */
export type FamilyRequestedDecision = RequestedDecision & Pick<DecideOptions, 'minQuality' | 'preferQuality'>;

/** A family policy's choice: a variant's plan and compression, the decision behind it, and the budget's cap. */
export interface FamilyChoice<P extends ClientPlan> extends Candidate<P> {
  variant: string;
  decision?: TelemetryDecision;
  decided?: { decision: Decision; context: DecisionContext };
  budget?: BudgetCap;
}

/**
 * The decision of a family client (cut 'auto'): the calibrator's CarbonAwareDecision over every
 * variant x plan x compression (candidatesFromFamily; with `servers`, x site, priced by the
 * equity's multipliers), with the request's quality floor and, with
 * a budget, its per-request cap (maxCarbonG) and a preference for quality (preferQuality, default
 * true with a budget: what the budget buys; the cap moves the choice to cheaper variants when it
 * is tight). The decision context and the learning are the CalibratedPolicy's (`inner`, built on
 * the family's decider); only the server's recent tail times are left out of the context, as
 * they are keyed by plan id, which the variants share.
 */
export class FamilyPolicy<P extends ClientPlan> {
  constructor(
    readonly inner: CalibratedPolicy<P>,
    private readonly defaults: DecideOptions,
    readonly budget: ClientBudget | undefined,
  ) {}

  private last: Decision | undefined;

  /** The decision behind the newest choice. */
  lastDecision(): Decision | undefined {
    return this.last;
  }

  /** The decision context of a family request: the CalibratedPolicy's, less the server's per-plan tail times (shared plan ids). */
  context(cut: Omit<FamilyCut<P>, 'sitePenalties'>): DecisionContext {
    const context = this.inner.context(cut, cut.epochMs);
    delete context.serverTailMs;
    return context;
  }

  choose(
    variants: readonly VariantView<P>[],
    cut: FamilyCut<P>,
    requested: { compression: Compression | undefined; decide: FamilyRequestedDecision },
  ): FamilyChoice<P> {
    const context = this.context(cut);
    const cap = this.budget?.cap(cut.epochMs);
    const margin = this.inner.budget ? { sloMargin: this.inner.budget.margin } : {};
    const options: DecideOptions = {
      ...(cap ? { preferQuality: true } : {}),
      ...this.defaults,
      ...margin,
      ...(cut.sitePenalties ? { sitePenalties: cut.sitePenalties } : {}),
      ...requested.decide,
      ...(cap ? { maxCarbonG: cap.capG } : {}),
    };
    const decision = this.inner.decider.decide(context, options);
    this.last = decision;
    const variantName = decision.candidate.variant;
    const view = variants.find((v) => v.name === variantName);
    const plan = view?.plans.find((p) => p.id === decision.candidate.planId);
    if (!view || !plan) {
      throw new CarboncpError(ErrorCode.INTERNAL, `the decision chose '${decision.candidate.id}', which is no plan of this client's variants`);
    }
    if (options.minQuality !== undefined && !(decision.candidate.quality !== undefined && decision.candidate.quality >= options.minQuality)) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `no candidate keeps minQuality ${options.minQuality} with the request's other hard rules (maxOutputError)`);
    }
    if (cap) this.budget!.noted(decision, context.deviceIntensityGPerKwh);
    const budget = cap ? { ...cap, bound: decision.bound === 'budget' || decision.relaxed.includes('budget') } : undefined;
    // The variant's server (site) is out of reach: its tail would fall back; run the variant on the device (as CalibratedPolicy does).
    const device = view.plans.find((p) => p.kind === 'device');
    const site = decision.candidate.site;
    if (plan.kind !== 'device' && device && !view.remoteUsable(plan.id, site)) {
      return { variant: view.name, plan: device, compression: 'none', ...(budget ? { budget } : {}) };
    }
    return {
      variant: view.name,
      plan,
      compression: decision.candidate.compression,
      ...(site !== undefined ? { site } : {}),
      decision: telemetryDecision(decision, context),
      decided: { decision, context },
      ...(budget ? { budget } : {}),
    };
  }

  observe(outcome: PolicyOutcome<P>): void {
    this.inner.observe(outcome);
  }
}
