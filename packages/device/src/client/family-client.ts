import type { ModelFamily, ModelVariant } from '@carboncp/core';
import { siteFootprintG, type CoverageStats, type SiteEquity } from '@carboncp/calibrator';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { BudgetTelemetry } from './budget-pacer.js';
import { recordObserved } from './calibrated-policy.js';
import { badOption, checkCompression } from './client-options.js';
import type { Clock } from './clock.js';
import type { FamilyChoice, FamilyCut, FamilyPolicy, FamilyRequestedDecision } from './family-policy.js';
import type { NetworkEstimate } from './network-estimator.js';
import type { SiteState, SiteView } from './site-pool.js';
import type { SplitClient } from './split-client.js';
import type { ClientPlan, ClientStats, InferOptions, InferResult, RuntimeTensor, ServerContext } from './types.js';

/** infer() of a family client: a single client's options, plus the variant's. */
export interface FamilyInferOptions extends InferOptions {
  /** Run this variant (its name in the family); with it, `cut` is that variant's plan (or 'auto': its client's default policy). */
  variant?: string;
  /** cut 'auto': variants whose declared quality is below this are out (the family's qualityMetric, e.g. top-1 %). */
  minQuality?: number;
  /** cut 'auto': prefer the highest declared quality that keeps every rule (default: true with a budget, else the calibrator's defaults). */
  preferQuality?: boolean;
}

/** One variant of a family client: its entry in the family and the client that runs it (its own connection). */
export interface FamilyMember<T extends RuntimeTensor, P extends ClientPlan> {
  variant: ModelVariant;
  /** The name the server serves its model by (its hello names it). */
  modelName: string;
  client: SplitClient<T, P>;
}

/**
 * A device client over a model family (issue #11, section 1): one SplitClient per variant (each
 * its own model, plans, digests checked against the server in its hello, and connection), and one
 * decision over all of them. infer() with cut 'auto' asks the FamilyPolicy for variant x cut x
 * compression (with a budget, under its cap), runs that variant's client with the chosen plan, and
 * writes into the telemetry the variant (name, model, declared quality), the decision and the
 * budget's state; a fixed `{ variant, cut }` runs as asked. Every finished request teaches the
 * policy and is booked against the budget. With `servers` every variant's client connects to
 * every site and the decision is variant x site x cut (a site is up for the family while every
 * variant's connection to it is); with `equity`, one SiteEquity over all the variants' requests.
 */
export class FamilyClient<T extends RuntimeTensor, P extends ClientPlan = ClientPlan> {
  readonly family: ModelFamily;
  readonly members: readonly FamilyMember<T, P>[];
  /** The decision over the variants (undefined without a calibrator). */
  readonly policy: FamilyPolicy<P> | undefined;
  private readonly clock: Clock;
  private readonly equity: { equity: SiteEquity; waterWeight: number } | undefined;

  constructor(family: ModelFamily, members: readonly FamilyMember<T, P>[], options: { clock: Clock; policy?: FamilyPolicy<P>; equity?: { equity: SiteEquity; waterWeight: number } }) {
    if (members.length === 0) throw badOption(`family '${family.name}' has no servable variant: give a model for at least one of ${family.variants.map((v) => v.name).join(', ')}`);
    this.family = family;
    this.members = members;
    this.clock = options.clock;
    this.policy = options.policy;
    this.equity = options.equity;
  }

  /** The client of one variant (its name in the family). */
  variant(name: string): SplitClient<T, P> {
    return this.member(name).client;
  }

  /** Resolves when every variant's client is connected (CARBONCP_NOT_READY after timeoutMs). */
  async ready(timeoutMs?: number): Promise<void> {
    await Promise.all(this.members.map((m) => m.client.ready(timeoutMs)));
  }

  /** Per variant, whether a plan's tail can run on the server (with `servers`: at the named site, default the first) now (see SplitClient.remoteStatus). */
  remoteStatus(variant: string, planId: string, site?: string): ReturnType<SplitClient<T, P>['remoteStatus']> {
    return this.member(variant).client.remoteStatus(planId, site);
  }

  /**
   * Every site (one, 'server', for a family given one `server`): its connection (open while every
   * variant's is), grid, water and RTT now, and what all the variants' requests carried there
   * (requests, carbon, water, footprint, share; the equity's multiplier with `equity`).
   */
  sites(): SiteState[] {
    const lists = this.members.map((m) => m.client.sites());
    const waterWeight = this.equity?.waterWeight ?? 0;
    const lambda = this.equity?.equity.penalties();
    const merged = lists[0]!.map((first) => {
      const all = lists.map((list) => list.find((s) => s.name === first.name)!);
      const sum = (key: 'requests' | 'unmeasured' | 'carbonG' | 'waterL') => all.reduce((total, s) => total + s[key], 0);
      const carbonG = sum('carbonG');
      const waterL = sum('waterL');
      const state: SiteState = {
        ...first,
        state: all.every((s) => s.state === 'open') ? 'open' : all.every((s) => s.state === 'closed') ? 'closed' : 'connecting',
        up: all.every((s) => s.up),
        requests: sum('requests'),
        unmeasured: sum('unmeasured'),
        carbonG,
        waterL,
        footprintG: siteFootprintG(carbonG, waterL, waterWeight),
        share: 0,
      };
      delete state.lambda;
      if (lambda) state.lambda = lambda[first.name] ?? 0;
      const error = all.find((s) => s.lastError)?.lastError;
      if (error) state.lastError = error;
      else delete state.lastError;
      return state;
    });
    const total = merged.reduce((sum, s) => sum + s.footprintG, 0);
    for (const s of merged) s.share = total > 0 ? s.footprintG / total : 0;
    return merged;
  }

  /** The budget's state now (undefined without a budget). */
  budgetState(): BudgetTelemetry | undefined {
    return this.policy?.budget?.state(this.clock.epochMs());
  }

  /** Every variant's stats, and their sum. */
  stats(): { total: ClientStats; byVariant: Record<string, ClientStats> } {
    const byVariant: Record<string, ClientStats> = {};
    const total: ClientStats = { requests: 0, split: 0, remote: 0, local: 0, localFallback: 0, timeouts: 0, lateResponses: 0, connects: 0, disconnects: 0, errors: {} };
    for (const m of this.members) {
      const s = m.client.stats();
      byVariant[m.variant.name] = s;
      for (const key of ['requests', 'split', 'remote', 'local', 'localFallback', 'timeouts', 'lateResponses', 'connects', 'disconnects'] as const) total[key] += s[key];
      for (const [code, n] of Object.entries(s.errors)) total.errors[code] = (total.errors[code] ?? 0) + n;
    }
    return { total, byVariant };
  }

  coverage(): Record<string, Record<string, CoverageStats>> | undefined {
    return this.policy?.inner.coverage();
  }

  /** The decider's learnt state over the family's candidates (pass back as calibrator.state). */
  calibratorState(): unknown {
    return this.policy?.inner.state();
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => m.client.close()));
  }

  async infer(inputs: Record<string, T>, options: FamilyInferOptions = {}): Promise<InferResult<T>> {
    const { variant, minQuality, preferQuality, ...single } = options;
    if (minQuality !== undefined) this.checkMinQuality(minQuality);
    const auto = single.cut === undefined || single.cut === 'auto';
    if (variant !== undefined) {
      const member = this.member(variant);
      if (minQuality !== undefined && member.variant.quality.value < minQuality) {
        throw badOption(`variant '${variant}' declares quality ${member.variant.quality.value}, below minQuality ${minQuality}`);
      }
      return this.finish(member, await member.client.infer(inputs, single), { chosenBy: 'caller' });
    }
    if (!auto) throw badOption(`cut '${String(single.cut)}' names a plan of one variant: give the variant too ({ variant, cut }), or cut 'auto'`);
    if (!this.policy) {
      // No calibrator: the best declared quality that keeps the floor, at its client's default cut.
      const member = [...this.members].sort((a, b) => b.variant.quality.value - a.variant.quality.value).find((m) => minQuality === undefined || m.variant.quality.value >= minQuality)!;
      return this.finish(member, await member.client.infer(inputs, single), { chosenBy: 'caller' });
    }
    const decide: FamilyRequestedDecision = {};
    for (const key of ['sloMs', 'alpha', 'mode', 'objective', 'maxOutputError'] as const) if (single[key] !== undefined) (decide as Record<string, unknown>)[key] = single[key];
    if (minQuality !== undefined) decide.minQuality = minQuality;
    if (preferQuality !== undefined) decide.preferQuality = preferQuality;
    const requested = single.compression === undefined ? undefined : checkCompression(single.compression);
    const choice = this.policy.choose(
      this.members.map((m) => ({
        name: m.variant.name,
        plans: m.client.plans,
        remoteUsable: (planId: string, site?: string) => (site !== undefined ? [site] : m.client.sites().map((s) => s.name)).some((name) => m.client.remoteStatus(planId, name).usable),
      })),
      { ...this.latestState(), ...this.siteState(), epochMs: this.clock.epochMs() },
      { compression: requested, decide },
    );
    const member = this.member(choice.variant);
    const result = await member.client.infer(inputs, {
      cut: choice.plan.id,
      compression: choice.compression,
      ...(choice.site !== undefined ? { site: choice.site } : {}),
      ...(single.timeoutMs !== undefined ? { timeoutMs: single.timeoutMs } : {}),
    });
    return this.finish(member, result, { chosenBy: 'policy', choice });
  }

  /** Adds the variant, the decision and the budget to a finished request's telemetry, and teaches the policy. */
  private finish(member: FamilyMember<T, P>, result: InferResult<T>, how: { chosenBy: 'caller' | 'policy'; choice?: FamilyChoice<P> }): InferResult<T> {
    const { telemetry } = result;
    const { variant } = member;
    telemetry.variant = { name: variant.name, model: member.modelName, quality: variant.quality.value, qualitySource: variant.quality.source };
    telemetry.cutChosenBy = how.chosenBy;
    const choice = how.choice;
    if (choice?.decision) {
      telemetry.decision = structuredClone(choice.decision);
      recordObserved(telemetry);
    }
    const site = telemetry.site;
    if (this.equity && site && (telemetry.path === 'split' || telemetry.path === 'remote')) {
      // As one model's SitePool records it: no reported server energy counts 0.
      this.equity.equity.record(site.name, siteFootprintG(site.carbonG ?? 0, site.waterL ?? 0, this.equity.waterWeight));
    }
    const epochMs = this.clock.epochMs();
    const policy = this.policy;
    const budget = policy?.budget;
    // A caller's fixed { variant, cut } is booked at the carbon predicted for it now.
    const predict = () => policy!.inner.predictedCarbonG(telemetry, variant.name, policy!.context({ ...this.latestState(), ...this.siteState(), epochMs }));
    if (budget) telemetry.budget = budget.bookTelemetry(telemetry, epochMs, choice?.budget, predict);
    const plan = member.client.plans.find((p) => p.id === telemetry.planId)!;
    this.policy?.observe({
      candidate: { ...(choice ?? {}), plan, compression: telemetry.compression, variant: variant.name },
      chosenBy: how.chosenBy,
      telemetry: { ...telemetry },
      cut: { ...this.latestState(), ...this.siteState() },
      epochMs,
    });
    return result;
  }

  /** The freshest network estimate and server context over the variants' clients (they share one server), as the policy sees them. */
  private latestState(): { network: NetworkEstimate | undefined; serverContext: ServerContext | undefined } {
    let network: NetworkEstimate | undefined;
    let serverContext: ServerContext | undefined;
    for (const m of this.members) {
      const n = m.client.networkEstimate();
      if (n && (!network || n.updatedAt > network.updatedAt)) network = n;
      const c = m.client.lastServerContext;
      if (c && (!serverContext || c.receivedAt > serverContext.receivedAt)) serverContext = c;
    }
    // Its recent tail times are keyed by plan id, which the variants share: left out (see FamilyPolicy).
    return { network, serverContext: serverContext && { ...serverContext, tailMs: {} } };
  }

  /**
   * With `servers`: the sites as the decision sees them, merged over the variants' clients (up
   * while every variant's connection is; RTT and grid from the first that measured them), and the
   * equity's multipliers.
   */
  private siteState(): Pick<FamilyCut<P>, 'sites' | 'sitePenalties'> {
    let merged: Record<string, SiteView> | undefined;
    for (const m of this.members) {
      const sites = m.client.siteContext().sites;
      if (!sites) continue;
      if (!merged) {
        merged = Object.fromEntries(Object.entries(sites).map(([name, view]) => [name, { ...view }]));
        continue;
      }
      for (const [name, view] of Object.entries(sites)) {
        const into = merged[name];
        if (!into) continue;
        into.up &&= view.up;
        if (into.rttMs === undefined && view.rttMs !== undefined) into.rttMs = view.rttMs;
        if (into.intensityGPerKwh === undefined && view.intensityGPerKwh !== undefined) into.intensityGPerKwh = view.intensityGPerKwh;
      }
    }
    if (!merged) return {};
    return { sites: merged, ...(this.equity ? { sitePenalties: this.equity.equity.penalties() } : {}) };
  }

  private member(name: string): FamilyMember<T, P> {
    const member = this.members.find((m) => m.variant.name === name);
    if (!member) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `family '${this.family.name}' has no variant '${String(name)}' in this client (variants: ${this.members.map((m) => m.variant.name).join(', ')})`);
    }
    return member;
  }

  private checkMinQuality(minQuality: number): void {
    if (!(typeof minQuality === 'number' && Number.isFinite(minQuality))) throw badOption(`minQuality must be a finite number, got ${String(minQuality)}`);
    const best = Math.max(...this.members.map((m) => m.variant.quality.value));
    if (best < minQuality) {
      throw badOption(`no variant of family '${this.family.name}' meets minQuality ${minQuality}: the best declared is ${best} (${this.family.qualityMetric})`);
    }
  }
}
