import { checkModelFamily, type ModelFamily, type ModelProfile, type ModelVariant, type Partition, type Plan } from '@carboncp/core';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { checkClientBudget, type ClientBudgetOptions } from './budget-pacer.js';
import type { CalibratedContextOptions } from './calibrated-policy.js';
import { badOption } from './client-options.js';
import { systemClock, type Clock } from './clock.js';
import { FamilyClient, type FamilyMember } from './family-client.js';
import { createFamilyPolicy, type FamilyCalibratorOptions } from './family-setup.js';
import { checkEquityOptions, resolveSites, type SiteEquityClientOptions, type SiteOptions } from './site-options.js';
import { siteEquityOf } from './site-pool.js';
import { siteOptionsForClient } from './site-setup.js';
import type { SplitClient } from './split-client.js';
import type { RuntimeTensor } from './types.js';

/** A variant's client as a platform entry builds it: a SplitClient with the partition it was built from. */
export type VariantClient<T extends RuntimeTensor> = SplitClient<T, Plan> & { readonly partition: Partition };

/** What every platform entry's createClient({ family }) takes beside its own way of opening one variant. */
export interface FamilyBuild<T extends RuntimeTensor, S> {
  family: ModelFamily;
  /** Each variant's model, by variant name, in the platform's form; a variant left out is not offered. */
  models: Record<string, S>;
  /** One server, or several sites (`servers`): each variant's client connects to every site (its own connections). */
  server?: string;
  servers?: SiteOptions[];
  /** With `servers`: cap the worst site's share of the family's footprint (one SiteEquity over every variant's requests). Needs calibrator. */
  equity?: SiteEquityClientOptions;
  calibrator?: FamilyCalibratorOptions;
  budget?: ClientBudgetOptions;
  clock?: Clock;
  log?: (message: string) => void;
  power?: CalibratedContextOptions['power'];
  /** Opens one variant's client (partitioned, connected as far as one attempt goes) to `server` or `servers`, without `equity` (the family prices and records it). */
  open(variant: ModelVariant, source: S): Promise<VariantClient<T>>;
  /** Measures a variant's latency profile on this device, where the platform can. */
  measure?(partition: Partition, variant: ModelVariant): Promise<ModelProfile>;
}

/**
 * The platform-neutral part of createClient({ family }): checks the family, the variants named,
 * the sites, the equity and the budget (before anything loads), opens every variant in the
 * family's order, refuses servers that serve none of them, builds the policy with a calibrator
 * (with `servers`: variant x site x cut), and closes what it opened when any step fails.
 */
export async function buildFamilyClient<T extends RuntimeTensor, S>(b: FamilyBuild<T, S>): Promise<FamilyClient<T, Plan> & { readonly clients: Readonly<Record<string, VariantClient<T>>> }> {
  const family = checkModelFamily(b.family);
  if (b.models === null || typeof b.models !== 'object') throw badOption('models must map variant names to models');
  const names = family.variants.map((v) => v.name).join(', ');
  for (const name of Object.keys(b.models)) if (!family.variants.some((v) => v.name === name)) throw badOption(`family '${family.name}' has no variant '${name}' (variants: ${names})`);
  checkClientBudget(b.budget, b.calibrator);
  // As one model's client takes them: equity needs a calibrator, its water weight the decision's.
  const sites = resolveSites(b.server, b.servers, undefined);
  const equity = checkEquityOptions(siteOptionsForClient(b).equity, sites);
  const siteNames = b.servers !== undefined ? sites.map((s) => s.name) : undefined;
  const chosen = family.variants.filter((v) => Object.hasOwn(b.models, v.name));
  if (chosen.length === 0) throw badOption(`family '${family.name}' has no servable variant: models gives none of ${names}`);
  const clients: Record<string, VariantClient<T>> = {};
  const members: FamilyMember<T, Plan>[] = [];
  try {
    for (const variant of chosen) {
      const client = await b.open(variant, b.models[variant.name]!);
      clients[variant.name] = client;
      members.push({ variant, modelName: client.partition.model.name, client });
    }
    refuseUnservedFamily(family, members);
    const clock = b.clock ?? systemClock;
    const measure = b.measure;
    const policy = b.calibrator
      ? await createFamilyPolicy(
          family,
          members.map((m) => ({ variant: m.variant, modelName: m.modelName, partition: clients[m.variant.name]!.partition, outputs: clients[m.variant.name]!.partition.model.outputs })),
          sites[0]!.url,
          b.calibrator,
          b.budget,
          {
            startMs: clock.epochMs(),
            ...(siteNames ? { sites: siteNames } : {}),
            ...(b.power ? { power: b.power } : {}),
            ...(b.log ? { log: b.log } : {}),
            ...(measure ? { measure: (partition: Partition) => measure(partition, members.find((m) => clients[m.variant.name]!.partition === partition)!.variant) } : {}),
          },
        )
      : undefined;
    const siteEquity = equity ? { equity: siteEquityOf(equity, siteNames!), waterWeight: equity.waterWeight ?? 0 } : undefined;
    return Object.assign(new FamilyClient<T, Plan>(family, members, { clock, ...(policy ? { policy } : {}), ...(siteEquity ? { equity: siteEquity } : {}) }), { clients });
  } catch (error) {
    await Promise.allSettled(Object.values(clients).map((c) => c.close()));
    throw error;
  }
}

/** Connected to servers that serve none of the variants (at any site connected): an error now, not a family that only ever runs locally. */
function refuseUnservedFamily<T extends RuntimeTensor>(family: ModelFamily, members: readonly FamilyMember<T, Plan>[]): void {
  if (!members.every((m) => m.client.state === 'open')) return;
  const reasons = members.flatMap((m) =>
    m.client
      .sites()
      .filter((s) => s.state === 'open')
      .map((s) => ({ m, site: s.name, status: m.client.remoteStatus('server', s.name) })),
  );
  if (reasons.length === 0 || reasons.some((r) => r.status.usable)) return;
  const first = reasons[0]!.status.error!;
  const multi = members[0]!.client.sites().length > 1;
  throw new CarboncpError(
    first.code === ErrorCode.DIGEST_MISMATCH ? ErrorCode.DIGEST_MISMATCH : ErrorCode.UNKNOWN_MODEL,
    `the server${multi ? 's serve' : ' serves'} no variant of family '${family.name}': ${reasons.map((r) => `${r.m.variant.name} (${r.m.modelName})${multi ? ` at ${r.site}` : ''}: ${r.status.error!.message}`).join('; ')}`,
  );
}
