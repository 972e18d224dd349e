import { basename } from 'node:path';
import { loadModel, type LoadedModel, type Partition, type PartitionOptions, type Plan } from '@carboncp/core';
import { partitionWithProbe, readModelFile } from '@carboncp/core/node';
import type { Compression } from '@carboncp/protocol';
import type * as ort from 'onnxruntime-node';
import { badOption, resolveClientOptions } from '../client/client-options.js';
import type { Clock } from '../client/clock.js';
import type { CutPolicy } from '../client/cut-policy.js';
import { SplitClient } from '../client/split-client.js';
import { splitModelFromPartition } from '../client/split-model.js';
import type { ReconnectOptions } from '../client/types.js';
import { OrtRuntime } from './ort-runtime.js';
import { WorkerRuntime } from './worker-runtime.js';
import { WsTransport } from './ws-transport.js';

export interface CreateClientOptions {
  /** Path of an .onnx file, or its bytes. */
  model: string | Uint8Array;
  /** Name the server knows the model by; default: file name without .onnx ('model' for bytes). */
  modelName?: string;
  /** ws:// or wss:// URL of a carboncp server. */
  server: string;
  token?: string;
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
   * Where the device runs its sessions (heads, and tails that fall back): 'main' (default) on the
   * calling thread, whose event loop is blocked for the length of each run; 'worker' on a worker
   * thread (WorkerRuntime), so an app's event loop (an Electron main process) stays responsive,
   * at the cost of copying the inputs to the thread.
   */
  headThread?: 'main' | 'worker';
  /** onnxruntime threads per session on the device. */
  intraOpNumThreads?: number;
  /** How long the hello may take; default 5000. */
  handshakeTimeoutMs?: number;
  /** Largest frame accepted from the server; default 64 MiB. */
  maxPayload?: number;
  /**
   * Ping the server after this long without a frame from it, so that a server gone silent is
   * noticed; default 15000, 0 disables.
   */
  keepaliveMs?: number;
  /** A keepalive ping unanswered this long drops the connection: requests in flight run locally, the client reconnects; default keepaliveMs. */
  keepaliveTimeoutMs?: number;
  /** Chooses plan and compression when infer() names no cut or 'auto'; default: defaultCut. */
  cutPolicy?: CutPolicy<Plan>;
  /** Every timer and duration of the client; default the system clock. */
  clock?: Clock;
}

/** The client, plus the partition it was built from (model signature, every plan's sizes and flops). */
export type CarboncpClient = SplitClient<ort.Tensor, Plan> & { readonly partition: Partition };

/**
 * Loads and partitions the model, then connects to the server (one attempt; when it fails the
 * client still works, falling back to local execution and reconnecting in the background).
 * Rejects when the model cannot be read or the server refuses the token or protocol version.
 */
export async function createClient(options: CreateClientOptions): Promise<CarboncpClient> {
  // The client's options are checked (once, by the client's resolver) before the model is
  // read and partitioned, which can take seconds; defaultCut is checked once there are plans.
  const { maxPayload } = resolveClientOptions(options);
  if (options.headThread !== undefined && options.headThread !== 'main' && options.headThread !== 'worker') {
    throw badOption(`headThread must be 'main' or 'worker', got ${JSON.stringify(options.headThread)}`);
  }
  const model = await readModel(options.model, options.modelName);
  const partition = await partitionWithProbe(model, {
    ...options.partition,
    ...(options.inputShapes ? { inputShapes: options.inputShapes } : {}),
  });
  const client = await SplitClient.open({
    model: splitModelFromPartition(partition, options.inputShapes),
    runtime: new (options.headThread === 'worker' ? WorkerRuntime : OrtRuntime)(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
    transport: new WsTransport({ maxPayload }),
    server: options.server,
    maxPayload,
    ...pickDefined(options, ['token', 'timeoutMs', 'reconnect', 'compression', 'defaultCut', 'handshakeTimeoutMs', 'keepaliveMs', 'keepaliveTimeoutMs', 'cutPolicy', 'clock']),
  });
  return Object.assign(client, { partition });
}

async function readModel(model: string | Uint8Array, name: string | undefined): Promise<LoadedModel> {
  if (typeof model === 'string') return readModelFile(model, name ?? basename(model).replace(/\.onnx$/i, ''));
  if (model instanceof Uint8Array) return loadModel(model, name ?? 'model');
  throw badOption(`model must be a file path or a Uint8Array of ONNX bytes, got ${typeof model}`);
}

function pickDefined<O extends object, K extends keyof O>(source: O, keys: K[]): Partial<Pick<O, K>> {
  const picked: Partial<Pick<O, K>> = {};
  for (const key of keys) if (source[key] !== undefined) picked[key] = source[key];
  return picked;
}
