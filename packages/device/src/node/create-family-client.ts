import type { ModelFamily, Plan } from '@carboncp/core';
import { profileModel } from '@carboncp/core/node';
import type { DeviceProfile } from '@carboncp/carbon';
import type * as ort from 'onnxruntime-node';
import type { ClientBudgetOptions } from '../client/budget-pacer.js';
import { buildFamilyClient } from '../client/family-build.js';
import type { FamilyClient } from '../client/family-client.js';
import type { FamilyCalibratorOptions } from '../client/family-setup.js';
import type { PowerReading } from '../client/power-source.js';
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
  /** Spend `grams` per `period`, paced by the grid forecast (README, "A model family and a carbon budget"). Needs calibrator. */
  budget?: ClientBudgetOptions;
}

export type CarboncpFamilyClient = FamilyClient<ort.Tensor, Plan> & { readonly clients: Readonly<Record<string, CarboncpClient>> };

/**
 * A client over a model family: every variant given in `models` is loaded and partitioned as
 * createClient does for one model, with its own connection whose hello checks its digests
 * against the server; then (with a calibrator) one decision over them all (client/family-build.ts).
 * Rejects with CARBONCP_INVALID_ARGUMENT when no variant has a model (or `models` names a variant
 * the family lacks), and when the server is reached but serves none of the variants, with that
 * variant's code (CARBONCP_UNKNOWN_MODEL or CARBONCP_DIGEST_MISMATCH).
 */
export async function createFamilyClient(options: CreateFamilyClientOptions): Promise<CarboncpFamilyClient> {
  // The family prices and records the equity over every variant's requests: the variants' clients take none.
  const { family, models, calibrator, budget, equity, ...shared } = options;
  const inputShapesOf = (source: FamilyVariantSource) => (typeof source === 'string' || source instanceof Uint8Array ? undefined : source.inputShapes) ?? shared.inputShapes;
  const sampler = options.powerSampler as { latest?: () => PowerReading | undefined } | undefined;
  const resolved = calibrator ? { ...calibrator, deviceProfile: await resolveDeviceProfile(calibrator.deviceProfile) } : undefined;
  return buildFamilyClient<ort.Tensor, FamilyVariantSource>({
    family,
    models,
    ...(options.server !== undefined ? { server: options.server } : {}),
    ...(options.servers !== undefined ? { servers: options.servers } : {}),
    ...(equity !== undefined ? { equity } : {}),
    ...(resolved ? { calibrator: resolved } : {}),
    ...(budget !== undefined ? { budget } : {}),
    ...(shared.clock ? { clock: shared.clock } : {}),
    ...(options.log ? { log: options.log } : {}),
    ...(typeof sampler?.latest === 'function' ? { power: () => sampler.latest!() } : {}),
    open: (_variant, source) => {
      const own = typeof source === 'string' || source instanceof Uint8Array ? { model: source } : source;
      const inputShapes = inputShapesOf(source);
      return createClient({ ...shared, ...own, ...(inputShapes ? { inputShapes } : {}) });
    },
    measure: (partition, variant) => {
      const inputShapes = inputShapesOf(models[variant.name]!);
      return profileModel(partition, { runs: calibrator?.profileRuns ?? 10, warmup: 2, checkCuts: 0, ...(inputShapes ? { inputShapes } : {}), ...(options.log ? { log: options.log } : {}) });
    },
  }) as Promise<CarboncpFamilyClient>;
}
