import type { ModelFamily, Plan } from '@carboncp/core';
import type * as ort from 'onnxruntime-web';
import type { ClientBudgetOptions } from '../client/budget-pacer.js';
import { buildFamilyClient } from '../client/family-build.js';
import type { FamilyClient } from '../client/family-client.js';
import type { FamilyCalibratorOptions } from '../client/family-setup.js';
import { createClient, type BrowserClient, type BrowserClientOptions } from './create-client.js';

/** One variant in the page: its model (URL or bytes) and its plan JSON (text, parsed or URL), as a one-model client takes them. */
export type BrowserVariantSource = Pick<BrowserClientOptions, 'model' | 'plans' | 'modelName' | 'inputShapes'>;

export interface BrowserFamilyClientOptions extends Omit<BrowserClientOptions, 'model' | 'plans' | 'modelName' | 'cutPolicy' | 'calibrator'> {
  family: ModelFamily;
  /** Each variant's model and plans by variant name; a variant left out is not offered. */
  models: Record<string, BrowserVariantSource>;
  /** As ./node's, with the device profile as an object and every variant's latency profile given (`profiles`): a page does not profile. */
  calibrator?: FamilyCalibratorOptions;
  budget?: ClientBudgetOptions;
}

export type BrowserFamilyClient = FamilyClient<ort.Tensor, Plan> & { readonly clients: Readonly<Record<string, BrowserClient>> };

/** The browser's createClient({ family }): each variant a BrowserClient of its own, one decision over them (client/family-build.ts). */
export function createFamilyClient(options: BrowserFamilyClientOptions): Promise<BrowserFamilyClient> {
  // The family prices and records the equity over every variant's requests: the variants' clients take none.
  const { family, models, calibrator, budget, equity, ...shared } = options;
  return buildFamilyClient<ort.Tensor, BrowserVariantSource>({
    family,
    models,
    ...(options.server !== undefined ? { server: options.server } : {}),
    ...(options.servers !== undefined ? { servers: options.servers } : {}),
    ...(equity !== undefined ? { equity } : {}),
    ...(calibrator ? { calibrator } : {}),
    ...(budget !== undefined ? { budget } : {}),
    ...(shared.clock ? { clock: shared.clock } : {}),
    open: (_variant, source) => createClient({ ...shared, ...source }),
  }) as Promise<BrowserFamilyClient>;
}
