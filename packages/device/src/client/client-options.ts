import { CarboncpError, DEFAULT_MAX_PAYLOAD, ErrorCode, compressionList, isCompression, type Compression } from '@carboncp/protocol';
import { systemClock, type Clock } from './clock.js';
import { defaultCutPolicy, type CutPolicy } from './cut-policy.js';
import type { NetworkEstimatorOptions } from './network-estimator.js';
import type { NetworkProbeOptions } from './network-probe.js';
import type { WindowEnergy } from './power-source.js';
import { checkFootprintOptions, type FootprintOptions } from './request-footprint.js';
import { checkEquityOptions, resolveSites, type ResolvedSite, type SiteEquityClientOptions, type SiteOptions } from './site-options.js';
import type { ClientPlan, ReconnectOptions, Runtime, RuntimeTensor, SplitModel, Transport } from './types.js';

export interface SplitClientOptions<T extends RuntimeTensor, P extends ClientPlan> {
  model: SplitModel<P>;
  runtime: Runtime<T>;
  transport: Transport;
  /** ws:// or wss:// URL of the server; or `servers`. */
  server?: string;
  /**
   * Several server sites instead of one `server` (README, "Several sites"): one connection each,
   * the site chosen per request by the cut policy (by carbon, water and latency with a
   * calibrator), a request whose site fails tried once at another.
   */
  servers?: SiteOptions[];
  /** With `servers` and a calibrator: cap the worst site's share of the sites' footprint (SiteEquity). */
  equity?: SiteEquityClientOptions;
  token?: string;
  /** Per request, from send to response; default 10000. */
  timeoutMs?: number;
  /** Cut used when infer() names none (or 'auto') and no cutPolicy is given; default 'server'. */
  defaultCut?: string;
  compression?: Compression;
  reconnect?: ReconnectOptions;
  /** How long the hello may take; default 5000. */
  handshakeTimeoutMs?: number;
  /** Largest frame accepted from the server; default 64 MiB. */
  maxPayload?: number;
  clientName?: string;
  /**
   * Ping the server after this long without a frame from it, to notice a server that went
   * silent (and once as each connection opens, so that the RTT and the server's context are known
   * before the first request); default 15000, 0 disables both.
   */
  keepaliveMs?: number;
  /** A keepalive ping unanswered this long drops the connection (requests fail over, reconnect); default keepaliveMs. */
  keepaliveTimeoutMs?: number;
  /** Chooses the plan and compression when infer() names no cut or 'auto'; default: defaultCut with the requested or default compression. */
  cutPolicy?: CutPolicy<P>;
  /** Every timer and duration of the client; default the system clock (tests pass a ManualClock). */
  clock?: Clock;
  /** Half-lives and sample filters of networkEstimate() (README, "Network estimate"). */
  network?: NetworkEstimatorOptions;
  /** Rate limits of probeNetwork() and, with `auto`, of probes on a timer; default: probes only when asked. */
  networkProbe?: NetworkProbeOptions;
  /**
   * The device's energy per request: a started PowerSampler (or anything with its energy(t0, t1)
   * on this client's clock). Given, each request's telemetry gains `deviceEnergy`, the energy
   * over its head and local-tail runs, from cached readings only (no sensor read on a request).
   */
  powerSampler?: EnergyMeter;
  /**
   * Energy and carbon by side in every request's telemetry (`footprint`): the device's profile
   * and radio for the network's energy, and cached grid intensities. Needs powerSampler for the
   * device's energy and a server that reports its own (carboncp serve --server-power-w).
   */
  footprint?: FootprintOptions;
}

/** What the client needs of a PowerSampler: energy over a window of its clock, from cached readings. */
export interface EnergyMeter {
  energy(t0: number, t1: number): WindowEnergy | undefined;
}

/** Options shared by every layer that builds a device client (createClient too): checked here, once. */
export interface ResolvedClientOptions<P extends ClientPlan> {
  /** The primary site's URL (the only one without `servers`). */
  server: string;
  sites: ResolvedSite[];
  equity: SiteEquityClientOptions | undefined;
  token: string | undefined;
  clientName: string;
  timeoutMs: number;
  defaultCut: P;
  compression: Compression;
  reconnect: ReconnectOptions;
  handshakeTimeoutMs: number;
  maxPayload: number;
  keepaliveMs: number;
  keepaliveTimeoutMs: number;
  cutPolicy: CutPolicy<P>;
  clock: Clock;
  powerSampler: EnergyMeter | undefined;
  footprint: FootprintOptions | undefined;
}

export const DEVICE_DEFAULTS = {
  timeoutMs: 10_000,
  defaultCut: 'server',
  compression: 'none' as Compression,
  reconnect: { initialMs: 250, maxMs: 10_000 } as ReconnectOptions,
  handshakeTimeoutMs: 5_000,
  maxPayload: DEFAULT_MAX_PAYLOAD,
  keepaliveMs: 15_000,
  serverContextTimeoutMs: 5_000,
  readyTimeoutMs: 10_000,
  clientName: '@carboncp/device',
  headThread: 'main' as 'main' | 'worker',
  /** Bound of one call (a load or a run) on the head worker thread, from its start. */
  headTimeoutMs: 60_000,
  /**
   * Calls that may wait for the head worker thread behind the one on it. More than the
   * concurrency of a busy device (64 requests in flight) and few enough that a stalled thread
   * cannot pile up requests, and their inputs, without bound.
   */
  headQueueLimit: 128,
} as const;

/** Where a Node device client runs its sessions, and the bounds of the worker thread (createClient). */
export interface HeadThreadOptions {
  headThread?: 'main' | 'worker';
  /** Bound of one call on the worker thread; 0: none. headThread 'worker' only. */
  headTimeoutMs?: number;
  /** Calls that may wait for the worker thread; past it a call fails at once (CARBONCP_BUSY). headThread 'worker' only. */
  headQueueLimit?: number;
}

/**
 * Validates and completes the head-thread options of createClient. The worker's bounds are
 * refused with headThread 'main': a bound that silently does nothing would be a lie.
 */
export function resolveHeadThreadOptions(options: HeadThreadOptions): Required<HeadThreadOptions> {
  const headThread = options.headThread ?? DEVICE_DEFAULTS.headThread;
  if (headThread !== 'main' && headThread !== 'worker') {
    throw badOption(`headThread must be 'main' or 'worker', got ${JSON.stringify(headThread)}`);
  }
  if (headThread !== 'worker') {
    for (const name of ['headTimeoutMs', 'headQueueLimit'] as const) {
      if (options[name] !== undefined) throw badOption(`${name} bounds calls on the head worker thread: it needs headThread: 'worker'`);
    }
  }
  return {
    headThread,
    headTimeoutMs: checkCallTimeoutMs('headTimeoutMs', options.headTimeoutMs ?? DEVICE_DEFAULTS.headTimeoutMs),
    headQueueLimit: checkQueueLimit('headQueueLimit', options.headQueueLimit ?? DEVICE_DEFAULTS.headQueueLimit),
  };
}

/** A bound in milliseconds where 0 means none (WorkerRuntime's callTimeoutMs, createClient's headTimeoutMs). */
export function checkCallTimeoutMs(name: string, value: unknown): number {
  if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0)) {
    throw badOption(`${name} must be a number of milliseconds >= 0 (0: no bound), got ${String(value)}`);
  }
  return value;
}

/** How many calls may wait: a whole number >= 0 (0: none waits, a call finding the thread busy fails at once). */
export function checkQueueLimit(name: string, value: unknown): number {
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= 0)) {
    throw badOption(`${name} must be a whole number of calls >= 0, got ${String(value)}`);
  }
  return value;
}

export function badOption(message: string): CarboncpError {
  return new CarboncpError(ErrorCode.INVALID_ARGUMENT, message);
}

/**
 * Validates and completes the connection and request options of a device client. Everything a
 * later call could trip over is refused here, at construction, with the option's name.
 * `model` resolves defaultCut against its plans (omit it to check the rest only, as createClient does before the
 * model is partitioned).
 */
export function resolveClientOptions<P extends ClientPlan>(
  options: Omit<SplitClientOptions<RuntimeTensor, P>, 'model' | 'runtime' | 'transport'>,
  model: Pick<SplitModel<P>, 'name' | 'plans'>,
): ResolvedClientOptions<P>;
export function resolveClientOptions(
  options: Omit<SplitClientOptions<RuntimeTensor, ClientPlan>, 'model' | 'runtime' | 'transport'>,
): Omit<ResolvedClientOptions<ClientPlan>, 'defaultCut' | 'cutPolicy'>;
export function resolveClientOptions<P extends ClientPlan>(
  options: Omit<SplitClientOptions<RuntimeTensor, P>, 'model' | 'runtime' | 'transport'>,
  model?: Pick<SplitModel<P>, 'name' | 'plans'>,
): Partial<ResolvedClientOptions<P>> {
  if (options === null || typeof options !== 'object') throw badOption('the client needs an options object');
  if (options.token !== undefined && typeof options.token !== 'string') throw badOption('token must be a string');
  const sites = resolveSites(options.server, options.servers, options.token);
  const keepaliveMs = options.keepaliveMs ?? DEVICE_DEFAULTS.keepaliveMs;
  if (!(typeof keepaliveMs === 'number' && Number.isFinite(keepaliveMs) && keepaliveMs >= 0)) {
    throw badOption(`keepaliveMs must be 0 (off) or a positive number of milliseconds, got ${String(keepaliveMs)}`);
  }
  const reconnect = options.reconnect ?? DEVICE_DEFAULTS.reconnect;
  if (reconnect === null || typeof reconnect !== 'object' || !(reconnect.initialMs > 0) || !(reconnect.maxMs >= reconnect.initialMs)) {
    throw badOption(`reconnect needs 0 < initialMs <= maxMs, got ${JSON.stringify(reconnect)}`);
  }
  const resolved: Partial<ResolvedClientOptions<P>> = {
    server: sites[0]!.url,
    sites,
    equity: checkEquityOptions(options.equity, options.servers === undefined ? [] : sites),
    token: options.token,
    clientName: options.clientName ?? DEVICE_DEFAULTS.clientName,
    timeoutMs: checkPositiveMs('timeoutMs', options.timeoutMs ?? DEVICE_DEFAULTS.timeoutMs),
    compression: checkCompression(options.compression ?? DEVICE_DEFAULTS.compression),
    reconnect,
    handshakeTimeoutMs: checkPositiveMs('handshakeTimeoutMs', options.handshakeTimeoutMs ?? DEVICE_DEFAULTS.handshakeTimeoutMs),
    maxPayload: checkPositiveInteger('maxPayload', options.maxPayload ?? DEVICE_DEFAULTS.maxPayload),
    keepaliveMs,
    keepaliveTimeoutMs: checkPositiveMs('keepaliveTimeoutMs', options.keepaliveTimeoutMs ?? (keepaliveMs > 0 ? keepaliveMs : DEVICE_DEFAULTS.keepaliveMs)),
    clock: options.clock ?? systemClock,
    powerSampler: options.powerSampler,
    footprint: checkFootprintOptions(options.footprint),
  };
  if (options.powerSampler !== undefined && typeof options.powerSampler?.energy !== 'function') {
    throw badOption('powerSampler must have an energy(t0, t1) method (a PowerSampler)');
  }
  if (options.cutPolicy !== undefined && typeof options.cutPolicy?.choose !== 'function') {
    throw badOption('cutPolicy must have a choose(context) method');
  }
  if (model) {
    resolved.defaultCut = planById(model, options.defaultCut ?? DEVICE_DEFAULTS.defaultCut, 'defaultCut');
    resolved.cutPolicy = options.cutPolicy ?? defaultCutPolicy<P>();
  }
  return resolved;
}

export function checkPositiveMs(name: string, value: unknown): number {
  if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
    throw badOption(`${name} must be a positive number of milliseconds, got ${String(value)}`);
  }
  return value;
}

function checkPositiveInteger(name: string, value: unknown): number {
  if (!(typeof value === 'number' && Number.isInteger(value) && value > 0)) {
    throw badOption(`${name} must be a positive whole number of bytes, got ${String(value)}`);
  }
  return value;
}

export function checkCompression(value: unknown): Compression {
  if (!isCompression(value)) {
    throw badOption(`compression must be ${compressionList()}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** The plan with this id; CARBONCP_UNKNOWN_PLAN listing the valid ids otherwise. */
export function planById<P extends ClientPlan>(model: Pick<SplitModel<P>, 'name' | 'plans'>, id: unknown, what = 'cut'): P {
  const plan = model.plans.find((candidate) => candidate.id === id);
  if (!plan) {
    throw new CarboncpError(
      ErrorCode.UNKNOWN_PLAN,
      `model '${model.name}' has no plan '${String(id)}'${what === 'cut' ? '' : ` (${what})`}; valid cuts: ${model.plans.map((p) => p.id).join(', ')}`,
    );
  }
  return plan;
}
