import { CarbonAwareDecision, candidatesForSites, candidatesFromFamily, type VariantCandidateOptions } from '@carboncp/calibrator';
import { profileFromJson, type ModelFamily, type ModelProfile, type ModelVariant, type Partition, type Plan } from '@carboncp/core';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { ClientBudget, type ClientBudgetOptions } from './budget-pacer.js';
import { CalibratedPolicy, type CalibratedContextOptions } from './calibrated-policy.js';
import { fetchServerProfile, outputBytesPerSample, type CalibratorOptions } from './calibrator-setup.js';
import { badOption } from './client-options.js';
import { FamilyPolicy } from './family-policy.js';
import type { ClientTensorInfo } from './types.js';

/** A family client's `calibrator`: CalibratorOptions with a profile per variant instead of one. */
export interface FamilyCalibratorOptions extends Omit<CalibratorOptions, 'profile' | 'serverProfile'> {
  /** This device's latency profile of each variant, by variant name (carboncp profile --json); the platform entry says the default. */
  profiles?: Record<string, ModelProfile | unknown>;
  /** The server's profile of each variant's tails, by variant name: default fetched per served model name; false: none (its pongs teach it). */
  serverProfiles?: Record<string, ModelProfile | unknown> | false;
}

/** What the family policy needs of each variant: its entry, served name, partition and outputs. */
export interface FamilyVariantModel {
  variant: ModelVariant;
  modelName: string;
  partition: Partition;
  outputs: readonly ClientTensorInfo[];
}

/**
 * Builds a family client's policy: each variant's latency profile on this device (given, or
 * measured by `extra.measure` where the platform can) and the server's (given or fetched), the
 * candidates of candidatesFromFamily (variant x plan x compression; with `extra.sites`, each remote
 * one at every site), the decider (fresh or from a saved state, whose every candidate must be a
 * variant's plan at one of the sites), and, with `budget`, the
 * ClientBudget paced from the calibrator's device intensity.
 */
export async function createFamilyPolicy(
  family: ModelFamily,
  variants: readonly FamilyVariantModel[],
  server: string,
  options: FamilyCalibratorOptions,
  budget: ClientBudgetOptions | undefined,
  extra: {
    power?: CalibratedContextOptions['power'];
    measure?: (partition: Partition) => Promise<ModelProfile>;
    log?: (message: string) => void;
    startMs: number;
    /** With `servers`: the sites' names (the server profiles come from `server`, the first site's URL). */
    sites?: readonly string[];
  },
): Promise<FamilyPolicy<Plan>> {
  const log = extra.log ?? (() => {});
  if (options === null || typeof options !== 'object') throw badOption('calibrator must be an options object');
  if (options.deviceProfile === null || typeof options.deviceProfile !== 'object') {
    throw badOption('calibrator.deviceProfile must be a device profile object here (devices/*.json, parsed)');
  }
  const { profiles: givenProfiles, serverProfiles, compressions, planIds, decider: deciderOptions, state, defaults, sloBudget, ...context } = options;
  let decider: CarbonAwareDecision;
  if (state) {
    decider = CarbonAwareDecision.fromJSON(state, deciderOptions?.methods ? { methods: deciderOptions.methods } : {});
    const foreign = decider.candidates.find((c) => !variants.some((v) => v.variant.name === c.variant && v.partition.plans.some((p) => p.id === c.planId)));
    if (foreign) throw badOption(`calibrator.state has candidate '${foreign.id}', which is no plan of this client's variants: a state of another model or family?`);
    const sites = extra.sites;
    const elsewhere = decider.candidates.find((c) => (c.site === undefined ? c.kind !== 'device' && sites !== undefined : !sites?.includes(c.site)));
    if (elsewhere) throw badOption(`calibrator.state has candidate '${elsewhere.id}', which is not at one of this client's sites (${sites ? sites.join(', ') : 'a single server'})`);
  } else {
    const profiles: Record<string, ModelProfile> = {};
    const perVariant: Record<string, VariantCandidateOptions> = {};
    for (const v of variants) {
      const digest = v.partition.model.digest;
      const given = givenProfiles?.[v.variant.name];
      if (given !== undefined) profiles[v.variant.name] = profileFromJson(given, { modelDigest: digest });
      else if (extra.measure) profiles[v.variant.name] = await extra.measure(v.partition);
      else throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `calibrator.profiles['${v.variant.name}'] is required here: this platform cannot measure a model's latency profile`);
      const serverGiven = serverProfiles === false ? undefined : serverProfiles?.[v.variant.name];
      const serverProfile =
        serverProfiles === false ? undefined : serverGiven !== undefined ? profileFromJson(serverGiven, { modelDigest: digest }) : await fetchServerProfile(server, v.modelName, digest, log);
      perVariant[v.variant.name] = {
        plans: v.partition.plans,
        outputBytesPerSample: outputBytesPerSample(v.outputs),
        ...(serverProfile ? { serverProfile } : {}),
        ...(planIds ? { planIds: typeof planIds === 'function' ? planIds(v.partition.plans) : planIds } : {}),
      };
    }
    const candidates = candidatesFromFamily(family, profiles, { compressions: compressions ?? ['none'], variants: variants.map((v) => v.variant.name), perVariant });
    decider = new CarbonAwareDecision(extra.sites ? candidatesForSites(candidates, extra.sites.map((site) => ({ site }))) : candidates, deciderOptions);
  }
  const inner = new CalibratedPolicy<Plan>({ ...context, decider, ...(sloBudget ? { sloBudget } : {}), ...(extra.power ? { power: extra.power } : {}) });
  const clientBudget = budget ? new ClientBudget(budget, extra.startMs, () => context.deviceIntensity?.(), context.fallbackIntensityGPerKwh) : undefined;
  return new FamilyPolicy<Plan>(inner, defaults ?? {}, clientBudget);
}
