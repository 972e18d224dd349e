import { basename } from 'node:path';
import { loadModel, partitionFromPlanSet, type LoadedModel, type Partition, type PartitionOptions, type Plan, type PlanSet } from '@carboncp/core';
import { partitionWithProbe, readModelFile } from '@carboncp/core/node';
import type { Compression } from '@carboncp/protocol';
import type * as ort from 'onnxruntime-node';
import { PASSED_TO_SPLIT_CLIENT, pickDefined, planJsonDefaultCut, readPlanSet } from '../client/client-setup.js';
import { badOption, resolveClientOptions, resolveHeadThreadOptions, type EnergyMeter } from '../client/client-options.js';
import type { FootprintOptions } from '../client/request-footprint.js';
import type { PowerReading } from '../client/power-source.js';
import type { SiteEquityClientOptions, SiteOptions } from '../client/site-options.js';
import { checkClientBudget, type ClientBudgetOptions } from '../client/budget-pacer.js';
import { calibratorSites, siteOptionsForClient } from '../client/site-setup.js';
import type { Transport } from '../client/types.js';
import { createNodeCalibratedPolicy, type NodeCalibratorOptions } from './calibrator-setup.js';
import type { Clock } from '../client/clock.js';
import type { CutPolicy } from '../client/cut-policy.js';
import type { NetworkEstimatorOptions } from '../client/network-estimator.js';
import type { NetworkProbeOptions } from '../client/network-probe.js';
import { SplitClient } from '../client/split-client.js';
import { splitModelFromPartition } from '../client/split-model.js';
import type { ReconnectOptions } from '../client/types.js';
import { createFamilyClient, type CarboncpFamilyClient, type CreateFamilyClientOptions } from './create-family-client.js';
import { OrtRuntime } from './ort-runtime.js';
import { WorkerRuntime } from './worker-runtime.js';
import { resolveTrustedCa, type TrustedCa } from './tls-trust.js';
import { WsTransport } from './ws-transport.js';

export interface CreateClientOptions {
  /** Path of an .onnx file, or its bytes. */
  model: string | Uint8Array;
  /** Name the server knows the model by; default: file name without .onnx (for bytes: the plan JSON's model name, else 'model'). */
  modelName?: string;
  /** ws:// or wss:// URL of a carboncp server; or `servers`. */
  server?: string;
  /**
   * Several server sites instead of `server` (device README, "Several sites"): { name, url,
   * token?, carbon?, wue?, gridWaterLPerKwh?, trace? } each; one connection per site; with a
   * calibrator, cut 'auto' chooses site and cut per request by carbon, water and latency.
   */
  servers?: SiteOptions[];
  /** With `servers` and a calibrator: cap the worst site's share of the footprint (SiteEquity); waterWeight defaults to calibrator.defaults.waterWeight. */
  equity?: SiteEquityClientOptions;
  token?: string;
  /**
   * CA certificates (PEM string or bytes, or an array of them) to trust for a wss:// server,
   * instead of Node's bundled roots: a private CA that signed the server's certificate. Used for
   * the WebSocket and for the HTTPS fetch of the server's profile (calibrator). A certificate that
   * does not verify: the connection fails with CARBONCP_CONNECTION_LOST (cause: node's TLS error,
   * details.tls its code) and, as for any unreachable server, the client runs locally and retries.
   */
  ca?: TrustedCa;
  /** Per request, from send to response; default 10000. On expiry the tail runs locally. */
  timeoutMs?: number;
  /**
   * Concrete input shapes for models with symbolic dimensions: they size the crossing tensors,
   * and infer() then requires them (every dimension but a symbolic batch dimension).
   */
  inputShapes?: Record<string, number[]>;
  /** Reconnect backoff: exponential from initialMs, capped at maxMs, with seeded jitter; default 250..10000. */
  reconnect?: ReconnectOptions;
  /** Default activation compression of crossing tensors; default 'none'. */
  compression?: Compression;
  /** Cut used when infer() names none; default 'server'. */
  defaultCut?: string;
  /** Passed to the partitioner (maxWidth, ...); must match the server's for the plan ids to agree. */
  partition?: Omit<PartitionOptions, 'inputShapes'>;
  /**
   * Plan JSON made elsewhere for this model: `carboncp partition --json` output ({ model, plans })
   * or a plan directory's plan.json ({ model, plan }), as text or parsed. The client then builds
   * its halves from the model and these plans with no shape probe (partitionFromPlanSet of
   * @carboncp/core); JSON for other model bytes, or plans that are not this model's cuts, are
   * refused (CARBONCP_DIGEST_MISMATCH), malformed JSON is CARBONCP_BAD_PLAN_JSON. Not with
   * `partition` (no partitioner runs). inputShapes default to the JSON's; defaultCut to the plan
   * of a plan.json (it holds one).
   */
  plans?: string | Record<string, unknown>;
  /**
   * Where the device runs its sessions (heads, and tails that fall back): 'main' (default) on the
   * calling thread, whose event loop is blocked for the length of each run; 'worker' on a worker
   * thread (WorkerRuntime), so an app's event loop (an Electron main process) stays responsive,
   * at the cost of copying the inputs to the thread.
   */
  headThread?: 'main' | 'worker';
  /**
   * headThread 'worker' only: bound of one call (a head or local tail run, or a session load) on
   * the worker thread, from its start; past it the call fails with CARBONCP_TIMEOUT and the
   * thread is replaced. 0: no bound. Default 60000.
   */
  headTimeoutMs?: number;
  /**
   * headThread 'worker' only: calls that may wait for the worker thread; a request that finds
   * this many waiting fails at once with CARBONCP_BUSY (infer() rejects, as with any failed
   * head). Default 128.
   */
  headQueueLimit?: number;
  /** onnxruntime threads per session on the device. */
  intraOpNumThreads?: number;
  /** How long the hello may take; default 5000. */
  handshakeTimeoutMs?: number;
  /** Largest frame accepted from the server; default 64 MiB. */
  maxPayload?: number;
  /**
   * Ping the server after this long without a frame from it, so that a server gone silent is
   * noticed, and once as each connection opens (the RTT and the server's context from the start);
   * default 15000, 0 disables both.
   */
  keepaliveMs?: number;
  /** A keepalive ping unanswered this long drops the connection: requests in flight run locally, the client reconnects; default keepaliveMs. */
  keepaliveTimeoutMs?: number;
  /** Chooses plan and compression when infer() names no cut or 'auto'; default: defaultCut. */
  cutPolicy?: CutPolicy<Plan>;
  /** Every timer and duration of the client; default the system clock. */
  clock?: Clock;
  /** Half-lives and sample filters of networkEstimate() (device README, "Network estimate"). */
  network?: NetworkEstimatorOptions;
  /** The rate-limited active probe of probeNetwork() (device README, "Network estimate"). */
  networkProbe?: NetworkProbeOptions;
  /** A started PowerSampler on this client's clock: each request's telemetry then has deviceEnergy (see SplitClientOptions). */
  powerSampler?: EnergyMeter;
  /** Energy and carbon by side in each request's telemetry (see SplitClientOptions.footprint). */
  footprint?: FootprintOptions;
  /**
   * Decide cut 'auto' (and every infer() that names no cut) by carbon within a latency SLO:
   * the device profile, prices of what is not measured, and optionally this device's and the
   * server's latency profiles and a saved state (README, "cut: 'auto'"). Excludes cutPolicy.
   */
  calibrator?: NodeCalibratorOptions;
  /**
   * A paced carbon budget, `{ grams, period }` (needs `calibrator`): each cut 'auto' decision is
   * capped in grams from the forecast of the device's grid, each request booked; the state in
   * `telemetry.budget` and `budgetState()` (device README, "A carbon budget").
   */
  budget?: ClientBudgetOptions;
  /** Progress of the set-up (profiling, fetching the server's profile); default silent. */
  log?: (message: string) => void;
  /** Wraps the WebSocket transport, e.g. in a ShapedTransport that replays an uplink trace (demos, tests). */
  wrapTransport?: (transport: Transport) => Transport;
}

/** The client, plus the partition it was built from (model signature, every plan's sizes and flops). */
export type CarboncpClient = SplitClient<ort.Tensor, Plan> & { readonly partition: Partition };

/**
 * Loads and partitions the model (or, given plan JSON, rebuilds its partition without a probe),
 * then connects to the server (one attempt; when it fails the
 * client still works, falling back to local execution and reconnecting in the background).
 * Rejects when the model cannot be read or the server refuses the token or protocol version.
 */
export function createClient(options: CreateFamilyClientOptions): Promise<CarboncpFamilyClient>;
export function createClient(options: CreateClientOptions): Promise<CarboncpClient>;
export async function createClient(given: CreateClientOptions | CreateFamilyClientOptions): Promise<CarboncpClient | CarboncpFamilyClient> {
  // A family (one client per variant, one decision over them): node/create-family-client.ts.
  if ('family' in given && given.family !== undefined) return createFamilyClient(given);
  const options = given as CreateClientOptions;
  // The client's options are checked (once, by the client's resolver) before the model is
  // read and partitioned, which can take seconds; defaultCut is checked once there are plans.
  const { maxPayload, clock, server } = resolveClientOptions(options);
  const siteOptions = siteOptionsForClient(options);
  const { headThread, headTimeoutMs, headQueueLimit } = resolveHeadThreadOptions(options);
  resolveTrustedCa(options.ca); // a ca that is not PEM fails here, before the model is read
  checkClientBudget(options.budget, options.calibrator);
  const threads = options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {};
  const planSet = options.plans === undefined ? undefined : readPlans(options);
  const model = await readModel(options.model, options.modelName ?? (options.model instanceof Uint8Array ? planSet?.model.name : undefined));
  const inputShapes = options.inputShapes ?? planSet?.inputShapes;
  const partition = planSet
    ? await partitionFromPlanSet(model, planSet)
    : await partitionWithProbe(model, { ...options.partition, ...(inputShapes ? { inputShapes } : {}) });
  if (options.calibrator !== undefined && options.cutPolicy !== undefined) {
    throw badOption('calibrator and cutPolicy exclude each other: the calibrator is a cut policy');
  }
  const splitModel = splitModelFromPartition(partition, inputShapes);
  const sampler = options.powerSampler as { latest?: () => PowerReading | undefined } | undefined;
  const cutPolicy = options.calibrator
    ? await createNodeCalibratedPolicy(partition, splitModel.outputs, server, options.calibrator, {
        ...calibratorSites(options),
        ...(typeof sampler?.latest === 'function' ? { power: () => sampler.latest!() } : {}),
        ...(inputShapes ? { inputShapes } : {}),
        ...(options.log ? { log: options.log } : {}),
        ...(options.ca !== undefined ? { ca: options.ca } : {}),
        ...(options.budget !== undefined ? { budget: { options: options.budget, startMs: clock.epochMs() } } : {}),
      })
    : options.cutPolicy;
  const transport = new WsTransport({ maxPayload, ...(options.ca !== undefined ? { ca: options.ca } : {}) });
  const client = await SplitClient.open({
    model: splitModel,
    runtime: headThread === 'worker' ? new WorkerRuntime({ ...threads, callTimeoutMs: headTimeoutMs, maxWaitingCalls: headQueueLimit, clock }) : new OrtRuntime(threads),
    transport: options.wrapTransport ? options.wrapTransport(transport) : transport,
    ...siteOptions,
    maxPayload,
    ...pickDefined(options, PASSED_TO_SPLIT_CLIENT),
    ...(cutPolicy ? { cutPolicy } : {}),
    ...planJsonDefaultCut(options.defaultCut, planSet),
  });
  return Object.assign(client, { partition });
}

/** The plan set of options.plans, checked against the options that would contradict it. */
function readPlans(options: CreateClientOptions): PlanSet {
  if (options.partition !== undefined) throw badOption('partition options and plans exclude each other: with plans no partitioner runs');
  return readPlanSet(options.plans!, options.inputShapes);
}

async function readModel(model: string | Uint8Array, name: string | undefined): Promise<LoadedModel> {
  if (typeof model === 'string') return readModelFile(model, name ?? basename(model).replace(/\.onnx$/i, ''));
  if (model instanceof Uint8Array) return loadModel(model, name ?? 'model');
  throw badOption(`model must be a file path or a Uint8Array of ONNX bytes, got ${typeof model}`);
}
