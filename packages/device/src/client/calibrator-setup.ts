import {
  CarbonAwareDecision,
  candidatesForSites,
  candidatesFromProfile,
  type DecideOptions,
  type DeciderOptions,
  type DeciderState,
  type SloBudgetOptions,
} from '@carboncp/calibrator';
import { type DeviceProfile } from '@carboncp/carbon';
import { profileFromJson, type ModelProfile, type Partition, type Plan } from '@carboncp/core';
import { bytesPerElement, CarboncpError, ErrorCode, type Compression } from '@carboncp/protocol';
import { ClientBudget, type ClientBudgetOptions } from './budget-pacer.js';
import { CalibratedPolicy, type CalibratedContextOptions } from './calibrated-policy.js';
import type { ClientTensorInfo } from './types.js';

/**
 * createClient's `calibrator`, on every platform: what it takes to decide cut 'auto' by carbon
 * (see the README, "cut: 'auto'"). The platform entries add how a device profile is found and
 * whether the model's latency profile can be measured on the spot (./node: yes; ./browser: give it).
 */
export interface CalibratorOptions extends Omit<CalibratedContextOptions, 'deviceProfile' | 'power'> {
  deviceProfile: DeviceProfile;
  /** This device's latency profile of the model (carboncp profile --json); the platform entry says the default. */
  profile?: ModelProfile | unknown;
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
export function outputBytesPerSample(outputs: readonly ClientTensorInfo[]): number {
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

/** How the server's profile is fetched: the global fetch, or ./node's fetchTrusting for a private CA. */
export type ProfileFetch = (url: string, init: { signal: AbortSignal }) => Promise<Response>;

export async function fetchServerProfile(
  server: string,
  modelName: string,
  modelDigest: string,
  log: (m: string) => void,
  get: ProfileFetch = (url, init) => fetch(url, init),
): Promise<ModelProfile | undefined> {
  const url = serverHttpUrl(server, `/v2/models/${encodeURIComponent(modelName)}/profile`);
  try {
    const response = await get(url, { signal: AbortSignal.timeout(30_000) });
    if (!response.ok) {
      log(`calibrator: no server profile (${url}: HTTP ${response.status}); tails use this device's times until the server's pongs report its own`);
      return undefined;
    }
    return profileFromJson(await response.json(), { modelDigest });
  } catch (error) {
    // Node's fetch says only 'fetch failed'; its cause says why (an untrusted certificate: UNABLE_TO_VERIFY_LEAF_SIGNATURE).
    const cause = (error as { cause?: { code?: unknown } }).cause?.code;
    const why = `${(error as Error).message}${typeof cause === 'string' ? ` (${cause})` : ''}`;
    log(`calibrator: no server profile (${url}: ${why}); tails use this device's times until the server's pongs report its own`);
    return undefined;
  }
}

/** A saved decider, checked against this model: every candidate must be one of its plans. */
function restoreDecider(partition: Partition, options: CalibratorOptions, sites: readonly string[] | undefined): CarbonAwareDecision {
  const decider = CarbonAwareDecision.fromJSON(options.state!, options.decider?.methods ? { methods: options.decider.methods } : {});
  const plans = new Set(partition.plans.map((p) => p.id));
  const foreign = decider.candidates.find((c) => !plans.has(c.planId));
  if (foreign) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `calibrator.state has candidate '${foreign.id}', whose plan '${foreign.planId}' this model does not have: a state of another model?`);
  }
  const known = new Set(sites ?? []);
  const elsewhere = decider.candidates.find((c) => (c.site === undefined ? c.kind !== 'device' && sites !== undefined : !known.has(c.site)));
  if (elsewhere) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `calibrator.state has candidate '${elsewhere.id}', which is not at one of this client's sites (${sites ? sites.join(', ') : 'a single server'})`);
  }
  return decider;
}

/** The candidates from this device's profile of the model (given or measured now) and the server's (given or fetched). */
async function profiledCandidates(
  partition: Partition,
  outputs: readonly ClientTensorInfo[],
  server: string,
  options: CalibratorOptions,
  measure: (() => Promise<ModelProfile>) | undefined,
  log: (message: string) => void,
  get: ProfileFetch,
) {
  const digest = partition.model.digest;
  let modelProfile: ModelProfile;
  if (options.profile !== undefined) modelProfile = profileFromJson(options.profile, { modelDigest: digest });
  else if (measure) modelProfile = await measure();
  else throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, "calibrator.profile is required here: this platform cannot measure the model's latency profile (give `carboncp profile --json` of this device)");
  const serverProfile =
    options.serverProfile === false
      ? undefined
      : options.serverProfile !== undefined
        ? profileFromJson(options.serverProfile, { modelDigest: digest })
        : await fetchServerProfile(server, partition.model.name, digest, log, get);
  return candidatesFromProfile(modelProfile, {
    plans: partition.plans,
    compressions: options.compressions ?? ['none'],
    ...(serverProfile ? { serverProfile } : {}),
    outputBytesPerSample: outputBytesPerSample(outputs),
    ...(options.planIds ? { planIds: typeof options.planIds === 'function' ? options.planIds(partition.plans) : options.planIds } : {}),
  });
}

/**
 * Builds the calibrated cut policy of a client: this device's latency profile of the model
 * (given, or measured now by `extra.measure` where the platform can), the server's (given or
 * fetched), the candidates, and the decider (fresh, or restored from a saved state).
 */
export async function createCalibratedPolicy(
  partition: Partition,
  outputs: readonly ClientTensorInfo[],
  server: string,
  options: CalibratorOptions,
  extra: {
    power?: CalibratedContextOptions['power'];
    measure?: () => Promise<ModelProfile>;
    log?: (message: string) => void;
    /** With `servers`: the site names; each remote candidate is offered once per site (candidatesForSites). */
    sites?: readonly string[];
    fetch?: ProfileFetch;
    /** createClient's `budget`, and when its first period starts by default (the client's clock now). */
    budget?: { options: ClientBudgetOptions; startMs: number };
  } = {},
): Promise<CalibratedPolicy<Plan>> {
  const log = extra.log ?? (() => {});
  if (options === null || typeof options !== 'object') throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'calibrator must be an options object');
  if (options.deviceProfile === null || typeof options.deviceProfile !== 'object') {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'calibrator.deviceProfile must be a device profile object here (devices/*.json, parsed)');
  }
  const sites = extra.sites;
  const decider = options.state
    ? restoreDecider(partition, options, sites)
    : new CarbonAwareDecision(
        await profiledCandidates(partition, outputs, server, options, extra.measure, log, extra.fetch ?? ((url, init) => fetch(url, init))).then((c) =>
          sites ? candidatesForSites(c, sites.map((site) => ({ site }))) : c,
        ),
        options.decider,
      );
  const budget = extra.budget;
  const carbonBudget = budget ? new ClientBudget(budget.options, budget.startMs, () => options.deviceIntensity?.(), options.fallbackIntensityGPerKwh) : undefined;
  return new CalibratedPolicy<Plan>({
    ...options,
    decider,
    ...(extra.power ? { power: extra.power } : {}),
    ...(carbonBudget ? { carbonBudget } : {}),
  });
}
