import { CarboncpError, ErrorCode } from '@carboncp/protocol';
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
  const { family, models, calibrator, budget, ...shared } = options;
  return buildFamilyClient<ort.Tensor, BrowserVariantSource>({
    family,
    models,
    server: familyServer(options),
    ...(calibrator ? { calibrator } : {}),
    ...(budget !== undefined ? { budget } : {}),
    ...(shared.clock ? { clock: shared.clock } : {}),
    open: (_variant, source) => createClient({ ...shared, ...source }),
  }) as Promise<BrowserFamilyClient>;
}

/** A family runs over one server for now: each variant's client connects to it (several `servers` with a family are not built). */
function familyServer(options: { server?: string; servers?: unknown }): string {
  if (options.servers !== undefined || typeof options.server !== 'string') {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'a family client takes one `server` URL; `servers` (several sites) with a family is not supported yet');
  }
  return options.server;
}
