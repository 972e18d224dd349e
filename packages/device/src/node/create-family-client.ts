import type { ModelFamily, Plan } from '@carboncp/core';
import { checkModelFamily } from '@carboncp/core';
import { profileModel } from '@carboncp/core/node';
import type * as ort from 'onnxruntime-node';
import { checkBudgetOptions, type ClientBudgetOptions } from '../client/budget-pacer.js';
import { badOption } from '../client/client-options.js';
import { FamilyClient, type FamilyMember } from '../client/family-client.js';
import { createFamilyPolicy, type FamilyCalibratorOptions } from '../client/family-setup.js';
import type { PowerReading } from '../client/power-source.js';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { DeviceProfile } from '@carboncp/carbon';
import { systemClock } from '../client/clock.js';
import { resolveDeviceProfile } from './calibrator-setup.js';
import { createClient, type CarboncpClient, type CreateClientOptions } from './create-client.js';

/** One variant's model: a path or bytes, or with its served name, plan JSON and input shapes. */
export type FamilyVariantSource = string | Uint8Array | { model: string | Uint8Array; modelName?: string; plans?: CreateClientOptions['plans']; inputShapes?: Record<string, number[]> };

/** createClient's `calibrator` for a family in Node: a device profile by id or file, each variant's profile measured at start unless given. */
export interface NodeFamilyCalibratorOptions extends Omit<FamilyCalibratorOptions, 'deviceProfile'> {
  deviceProfile: DeviceProfile | string;
  /** Timed runs per variant when its profile is measured at start (default 10). */
  profileRuns?: number;
}

export interface CreateFamilyClientOptions extends Omit<CreateClientOptions, 'model' | 'modelName' | 'plans' | 'cutPolicy' | 'calibrator'> {
  /** The model family (core's ModelFamily: getFamily('imagenet-mobilenetv2') of @carboncp/models, or one of your own). */
  family: ModelFamily;
  /**
   * Each variant's model by variant name (a path, bytes, or { model, modelName, plans, inputShapes });
   * a variant left out is not offered. Served names default as createClient's (file name without .onnx).
   */
  models: Record<string, FamilyVariantSource>;
  /** Decide variant x cut x compression by carbon (cut 'auto'); required for `budget`. */
  calibrator?: NodeFamilyCalibratorOptions;
  /** Spend `grams` per `periodMs`, paced by the grid forecast (README, "A carbon budget"). Needs calibrator. */
  budget?: ClientBudgetOptions;
}

export type CarboncpFamilyClient = FamilyClient<ort.Tensor, Plan> & { readonly clients: Readonly<Record<string, CarboncpClient>> };

/**
 * A client over a model family: every variant given in `models` is loaded and partitioned as
 * createClient does for one model, with its own connection whose hello checks its digests
 * against the server; then (with a calibrator) one decision over them all. Rejects with
 * CARBONCP_INVALID_ARGUMENT when no variant has a model (or `models` names a variant the family
 * lacks), and when the server is reached but serves none of the variants, with that variant's
 * code (CARBONCP_UNKNOWN_MODEL or CARBONCP_DIGEST_MISMATCH).
 */
export async function createFamilyClient(options: CreateFamilyClientOptions): Promise<CarboncpFamilyClient> {
  const family = checkModelFamily(options.family);
  const { family: _family, models, calibrator, budget, ...shared } = options;
  if (models === null || typeof models !== 'object') throw badOption('models must map variant names to model files or bytes');
  for (const name of Object.keys(models)) {
    if (!family.variants.some((v) => v.name === name)) throw badOption(`family '${family.name}' has no variant '${name}' (variants: ${family.variants.map((v) => v.name).join(', ')})`);
  }
  checkBudgetOptions(budget);
  if (budget !== undefined && calibrator === undefined) throw badOption('budget needs a calibrator: the budget caps the carbon-aware decision');
  const chosen = family.variants.filter((v) => Object.hasOwn(models, v.name));
  if (chosen.length === 0) throw badOption(`family '${family.name}' has no servable variant: models gives none of ${family.variants.map((v) => v.name).join(', ')}`);
  const clients: Record<string, CarboncpClient> = {};
  const members: FamilyMember<ort.Tensor, Plan>[] = [];
  /** Each variant's input shapes (its own, else the shared ones), for profiling it. */
  const shapesByDigest = new Map<string, Record<string, number[]>>();
  try {
    for (const variant of chosen) {
      const source = models[variant.name]!;
      const own = typeof source === 'string' || source instanceof Uint8Array ? { model: source } : source;
      const inputShapes = own.inputShapes ?? shared.inputShapes;
      const client = await createClient({ ...shared, ...own, ...(inputShapes ? { inputShapes } : {}) });
      clients[variant.name] = client;
      if (inputShapes) shapesByDigest.set(client.partition.model.digest, inputShapes);
      members.push({ variant, modelName: client.partition.model.name, client });
    }
    refuseUnservedFamily(family, members);
    const sampler = options.powerSampler as { latest?: () => PowerReading | undefined } | undefined;
    const clock = shared.clock;
    const policy = calibrator
      ? await createFamilyPolicy(
          family,
          members.map((m) => ({ variant: m.variant, modelName: m.modelName, partition: clients[m.variant.name]!.partition, outputs: clients[m.variant.name]!.partition.model.outputs })),
          options.server,
          { ...calibrator, deviceProfile: await resolveDeviceProfile(calibrator.deviceProfile) },
          budget,
          {
            startMs: clock ? clock.epochMs() : Date.now(),
            ...(typeof sampler?.latest === 'function' ? { power: () => sampler.latest!() } : {}),
            ...(options.log ? { log: options.log } : {}),
            measure: (partition) => {
              const inputShapes = shapesByDigest.get(partition.model.digest);
              return profileModel(partition, { runs: calibrator.profileRuns ?? 10, warmup: 2, checkCuts: 0, ...(inputShapes ? { inputShapes } : {}), ...(options.log ? { log: options.log } : {}) });
            },
          },
        )
      : undefined;
    const client = new FamilyClient<ort.Tensor, Plan>(family, members, { clock: clock ?? systemClock, ...(policy ? { policy } : {}) });
    return Object.assign(client, { clients });
  } catch (error) {
    await Promise.allSettled(Object.values(clients).map((c) => c.close()));
    throw error;
  }
}

/** Connected to a server that serves none of the variants: an error now, not a family that only ever runs locally. */
function refuseUnservedFamily(family: ModelFamily, members: readonly FamilyMember<ort.Tensor, Plan>[]): void {
  const open = members.filter((m) => m.client.state === 'open');
  if (open.length === 0 || open.length < members.length) return;
  const reasons = members.map((m) => ({ m, status: m.client.remoteStatus('server') }));
  if (reasons.some((r) => r.status.usable)) return;
  const first = reasons[0]!.status.error!;
  throw new CarboncpError(
    first.code === ErrorCode.DIGEST_MISMATCH ? ErrorCode.DIGEST_MISMATCH : ErrorCode.UNKNOWN_MODEL,
    `the server serves no variant of family '${family.name}': ${reasons.map((r) => `${r.m.variant.name} (${r.m.modelName}): ${r.status.error!.message}`).join('; ')}`,
  );
}
