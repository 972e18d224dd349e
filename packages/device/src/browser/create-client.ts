import { loadModel, partitionFromPlanSet, type Partition, type Plan } from '@carboncp/core';
import type { Compression } from '@carboncp/protocol';
import type * as ort from 'onnxruntime-web';
import { createCalibratedPolicy, type CalibratorOptions } from '../client/calibrator-setup.js';
import { badOption, resolveClientOptions, type EnergyMeter } from '../client/client-options.js';
import { PASSED_TO_SPLIT_CLIENT, pickDefined, planJsonDefaultCut, readPlanSet } from '../client/client-setup.js';
import type { Clock } from '../client/clock.js';
import { checkClientBudget, type ClientBudgetOptions } from '../client/budget-pacer.js';
import type { CutPolicy } from '../client/cut-policy.js';
import type { NetworkEstimatorOptions } from '../client/network-estimator.js';
import type { NetworkProbeOptions } from '../client/network-probe.js';
import type { FootprintOptions } from '../client/request-footprint.js';
import type { SiteEquityClientOptions, SiteOptions } from '../client/site-options.js';
import { calibratorSites, siteOptionsForClient } from '../client/site-setup.js';
import { SplitClient } from '../client/split-client.js';
import { splitModelFromPartition } from '../client/split-model.js';
import type { ReconnectOptions, Transport } from '../client/types.js';
import { OrtWebRuntime, type BrowserExecutionProvider } from './ort-web-runtime.js';
import { BrowserWebSocketTransport } from './websocket-transport.js';
import { createFamilyClient, type BrowserFamilyClient, type BrowserFamilyClientOptions } from './create-family-client.js';

export interface BrowserClientOptions {
  /** The ONNX model: a URL to fetch it from (same origin or CORS-enabled), or its bytes. */
  model: string | URL | ArrayBuffer | Uint8Array;
  /**
   * The model's plans, made where onnxruntime-node can probe shapes: `carboncp partition --json`
   * output (or a plan directory's plan.json), as text, parsed, or a URL to fetch. The page
   * builds the halves from the model bytes and these plans (no probe, no onnxruntime-node).
   */
  plans: string | URL | Record<string, unknown>;
  /** Name the server knows the model by; default the plan JSON's model name. */
  modelName?: string;
  /** ws:// or wss:// URL of a carboncp server (wss:// from an https:// page); or `servers`. */
  server?: string;
  /** Several server sites instead of `server`, as ./node's createClient (device README, "Several sites"). */
  servers?: SiteOptions[];
  /** With `servers` and a calibrator: cap the worst site's share of the footprint, as ./node's. */
  equity?: SiteEquityClientOptions;
  token?: string;
  /**
   * Not in a browser: a page cannot choose which CAs to trust. The browser's own trust store (the
   * operating system's, plus what the user or an administrator installed) decides whether a
   * wss:// server's certificate is accepted; a server with a private CA needs that CA installed
   * there. Given, createClient rejects with CARBONCP_INVALID_ARGUMENT rather than ignore it.
   */
  ca?: never;
  /** Execution providers in the order to try them; default ['webgpu', 'wasm']. */
  executionProviders?: readonly BrowserExecutionProvider[];
  /** Where onnxruntime-web's wasm files are served on the app's origin (ort.env.wasm.wasmPaths); default: where the bundler put them. */
  wasmPaths?: string | Record<string, string>;
  /** WASM threads (cross-origin isolated pages only); default 4 there, else 1. */
  numThreads?: number;
  inputShapes?: Record<string, number[]>;
  timeoutMs?: number;
  reconnect?: ReconnectOptions;
  compression?: Compression;
  defaultCut?: string;
  handshakeTimeoutMs?: number;
  maxPayload?: number;
  keepaliveMs?: number;
  keepaliveTimeoutMs?: number;
  /** Chooses plan and compression for cut 'auto' (e.g. a CalibratedPolicy); default: defaultCut. Excludes calibrator. */
  cutPolicy?: CutPolicy<Plan>;
  /**
   * Decide cut 'auto' by carbon, as ./node's `calibrator` does, with the device profile as an
   * object and this device's latency profile of the model given (`carboncp profile --json` of a
   * like device): a page does not profile the model itself. The server's profile is fetched
   * when the server's HTTP routes are reachable from the page, else its tails' times come from
   * its pongs. Excludes cutPolicy.
   */
  calibrator?: CalibratorOptions;
  /** A paced carbon budget `{ grams, period }` (needs `calibrator`), as ./node's. */
  budget?: ClientBudgetOptions;
  clock?: Clock;
  network?: NetworkEstimatorOptions;
  networkProbe?: NetworkProbeOptions;
  powerSampler?: EnergyMeter;
  footprint?: FootprintOptions;
  wrapTransport?: (transport: Transport) => Transport;
}

/** The browser client: the same SplitClient as ./node's, over onnxruntime-web, plus the partition and its onnxruntime-web runtime (webRuntime.notes: the providers tried). */
export type BrowserClient = SplitClient<ort.Tensor, Plan> & { readonly partition: Partition; readonly webRuntime: OrtWebRuntime };

/**
 * Fetches (or takes) the model and its plans, builds the partition in the page (core's
 * partitionFromPlanSet: pure TypeScript), then connects to the server (one attempt; when it fails
 * the client still works, running locally and reconnecting in the background).
 */
export function createClient(options: BrowserFamilyClientOptions): Promise<BrowserFamilyClient>;
export function createClient(options: BrowserClientOptions): Promise<BrowserClient>;
export async function createClient(given: BrowserClientOptions | BrowserFamilyClientOptions): Promise<BrowserClient | BrowserFamilyClient> {
  // A family (one client per variant, one decision over them): browser/create-family-client.ts.
  if ('family' in given && given.family !== undefined) return createFamilyClient(given);
  const options = given as BrowserClientOptions;
  const { maxPayload, server, clock } = resolveClientOptions(options);
  if ((options as { ca?: unknown }).ca !== undefined) {
    throw badOption("ca is a Node option: in a browser the browser's own trust store decides which certificates a wss:// server may present (install a private CA there)");
  }
  const siteOptions = siteOptionsForClient(options);
  checkClientBudget(options.budget, options.calibrator);
  const planSet = readPlanSet(await planText(options.plans), options.inputShapes);
  const model = await loadModel(await modelBytes(options.model), options.modelName ?? planSet.model.name);
  const partition = await partitionFromPlanSet(model, planSet);
  const inputShapes = options.inputShapes ?? planSet.inputShapes;
  const runtime = new OrtWebRuntime({
    ...pickDefined(options, ['executionProviders', 'wasmPaths', 'numThreads'] as const),
  });
  const transport = new BrowserWebSocketTransport({ maxPayload });
  if (options.calibrator !== undefined && options.cutPolicy !== undefined) {
    throw badOption('calibrator and cutPolicy exclude each other: the calibrator is a cut policy');
  }
  const splitModel = splitModelFromPartition(partition, inputShapes);
  const budget = options.budget !== undefined ? { budget: { options: options.budget, startMs: clock.epochMs() } } : {};
  const cutPolicy = options.calibrator
    ? await createCalibratedPolicy(partition, splitModel.outputs, server, options.calibrator, { ...calibratorSites(options), ...budget })
    : options.cutPolicy;
  const client = await SplitClient.open({
    model: splitModel,
    runtime,
    transport: options.wrapTransport ? options.wrapTransport(transport) : transport,
    ...siteOptions,
    maxPayload,
    ...pickDefined(options, PASSED_TO_SPLIT_CLIENT),
    ...(cutPolicy ? { cutPolicy } : {}),
    ...planJsonDefaultCut(options.defaultCut, planSet),
  });
  return Object.assign(client, { partition, webRuntime: runtime });
}

async function fetchBytes(url: string | URL, what: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw badOption(`cannot fetch the ${what} from ${String(url)}: ${(error as Error).message}`);
  }
  if (!response.ok) throw badOption(`cannot fetch the ${what} from ${String(url)}: HTTP ${response.status}`);
  return response;
}

async function modelBytes(model: BrowserClientOptions['model']): Promise<Uint8Array> {
  if (model instanceof Uint8Array) return model;
  if (model instanceof ArrayBuffer) return new Uint8Array(model);
  if (typeof model === 'string' || model instanceof URL) return new Uint8Array(await (await fetchBytes(model, 'model')).arrayBuffer());
  throw badOption(`model must be a URL or the ONNX bytes (ArrayBuffer, Uint8Array), got ${typeof model}`);
}

async function planText(plans: BrowserClientOptions['plans']): Promise<string | Record<string, unknown>> {
  if (plans instanceof URL) return (await fetchBytes(plans, 'plan JSON')).text();
  if (typeof plans === 'string' || (typeof plans === 'object' && plans !== null)) return plans as string | Record<string, unknown>;
  throw badOption('plans must be plan JSON (carboncp partition --json), as text, parsed, or a URL');
}
