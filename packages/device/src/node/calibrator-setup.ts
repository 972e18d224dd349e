import {
  CarbonAwareDecision,
  candidatesFromProfile,
  type DecideOptions,
  type DeciderOptions,
  type DeciderState,
  type SloBudgetOptions,
} from '@carboncp/calibrator';
import { type DeviceProfile } from '@carboncp/carbon';
import { loadDeviceProfile, loadDeviceProfileFile } from '@carboncp/carbon/node';
import { profileFromJson, type ModelProfile, type Partition, type Plan } from '@carboncp/core';
import { profileModel } from '@carboncp/core/node';
import { bytesPerElement, CarboncpError, ErrorCode, type Compression } from '@carboncp/protocol';
import { CalibratedPolicy, type CalibratedContextOptions } from '../client/calibrated-policy.js';
import type { ClientTensorInfo } from '../client/types.js';

/** createClient's `calibrator`: what it takes to decide cut 'auto' by carbon (see the README, "cut: 'auto'"). */
export interface NodeCalibratorOptions extends Omit<CalibratedContextOptions, 'deviceProfile' | 'power'> {
  /** The device's profile: a profile id of devices/ ('raspberry-pi-4') or a JSON file. */
  deviceProfile: DeviceProfile | string;
  /** This device's latency profile of the model (carboncp profile --json); default: measured when the client starts. */
  profile?: ModelProfile | unknown;
  /** Timed runs when the profile is measured at start (default 10; the profile's segment check is skipped). */
  profileRuns?: number;
  /**
   * The server's profile of its tails: default fetched from the server (GET
   * /v2/models/{name}/profile on the server's HTTP port); false: use this device's tail times
   * until the server's own (from its pongs) arrive.
   */
  serverProfile?: ModelProfile | unknown | false;
  /** Compressions to offer per plan (default ['none']). */
  compressions?: Compression[];
  /** Only these plans become candidates (default: every plan), or a function choosing them from the partition's plans. */
  planIds?: string[] | ((plans: readonly Plan[]) => string[]);
  decider?: DeciderOptions;
  /** A saved calibratorState(): the client starts warm. */
  state?: DeciderState;
  /** Per-request defaults of cut 'auto' (sloMs, alpha, mode, objective, maxOutputError, batteryReserve). */
  defaults?: DecideOptions;
  /** Spend the SLO-miss budget over the long run (see CalibratedPolicyOptions.sloBudget); off by default. */
  sloBudget?: SloBudgetOptions;
}

/** Bytes per sample of the model's outputs (what a remote tail sends back); unknown dims count 0, and say so in the README. */
function outputBytesPerSample(outputs: readonly ClientTensorInfo[]): number {
  let bytes = 0;
  for (const o of outputs) {
    const dims = o.shape.slice(1);
    if (dims.every((d) => typeof d === 'number')) bytes += (dims as number[]).reduce((a, b) => a * b, 1) * (bytesPerElement(o.dtype) || 0);
  }
  return bytes;
}

/** The HTTP address of a carboncp server's routes, from its WebSocket URL (one port serves both). */
export function serverHttpUrl(server: string, path: string): string {
  const url = new URL(server);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.pathname = path;
  url.search = '';
  return url.toString();
}

async function fetchServerProfile(server: string, modelName: string, modelDigest: string, log: (m: string) => void): Promise<ModelProfile | undefined> {
  const url = serverHttpUrl(server, `/v2/models/${encodeURIComponent(modelName)}/profile`);
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
    if (!response.ok) {
      log(`calibrator: no server profile (${url}: HTTP ${response.status}); tails use this device's times until the server's pongs report its own`);
      return undefined;
    }
    return profileFromJson(await response.json(), { modelDigest });
  } catch (error) {
    log(`calibrator: no server profile (${url}: ${(error as Error).message}); tails use this device's times until the server's pongs report its own`);
    return undefined;
  }
}

/** A saved decider, checked against this model: every candidate must be one of its plans. */
function restoreDecider(partition: Partition, options: NodeCalibratorOptions): CarbonAwareDecision {
  const decider = CarbonAwareDecision.fromJSON(options.state!, options.decider?.methods ? { methods: options.decider.methods } : {});
  const plans = new Set(partition.plans.map((p) => p.id));
  const foreign = decider.candidates.find((c) => !plans.has(c.planId));
  if (foreign) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `calibrator.state has candidate '${foreign.id}', whose plan '${foreign.planId}' this model does not have: a state of another model?`);
  }
  return decider;
}

/** The candidates from this device's profile of the model (given or measured now) and the server's (given or fetched). */
async function profiledCandidates(
  partition: Partition,
  outputs: readonly ClientTensorInfo[],
  server: string,
  options: NodeCalibratorOptions,
  inputShapes: Record<string, number[]> | undefined,
  log: (message: string) => void,
) {
  const digest = partition.model.digest;
  const modelProfile =
    options.profile !== undefined
      ? profileFromJson(options.profile, { modelDigest: digest })
      : await profileModel(partition, { runs: options.profileRuns ?? 10, warmup: 2, checkCuts: 0, ...(inputShapes ? { inputShapes } : {}), log });
  const serverProfile =
    options.serverProfile === false
      ? undefined
      : options.serverProfile !== undefined
        ? profileFromJson(options.serverProfile, { modelDigest: digest })
        : await fetchServerProfile(server, partition.model.name, digest, log);
  return candidatesFromProfile(modelProfile, {
    plans: partition.plans,
    compressions: options.compressions ?? ['none'],
    ...(serverProfile ? { serverProfile } : {}),
    outputBytesPerSample: outputBytesPerSample(outputs),
    ...(options.planIds ? { planIds: typeof options.planIds === 'function' ? options.planIds(partition.plans) : options.planIds } : {}),
  });
}

/**
 * Builds the calibrated cut policy of a Node client: the device profile, this device's latency
 * profile of the model (given, or measured now), the server's (fetched), the candidates, and the
 * decider (fresh, or restored from a saved state).
 */
export async function createCalibratedPolicy(
  partition: Partition,
  outputs: readonly ClientTensorInfo[],
  server: string,
  options: NodeCalibratorOptions,
  extra: { power?: CalibratedContextOptions['power']; inputShapes?: Record<string, number[]>; log?: (message: string) => void },
): Promise<CalibratedPolicy<Plan>> {
  const log = extra.log ?? (() => {});
  if (options === null || typeof options !== 'object') throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'calibrator must be an options object');
  const { deviceProfile: profileRef } = options;
  const deviceProfile =
    typeof profileRef === 'string' ? (/\.json$/i.test(profileRef) ? await loadDeviceProfileFile(profileRef) : await loadDeviceProfile(profileRef)) : profileRef;
  const decider = options.state
    ? restoreDecider(partition, options)
    : new CarbonAwareDecision(await profiledCandidates(partition, outputs, server, options, extra.inputShapes, log), options.decider);
  return new CalibratedPolicy<Plan>({
    ...options,
    deviceProfile,
    decider,
    ...(extra.power ? { power: extra.power } : {}),
  });
}
