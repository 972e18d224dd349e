import type { ExecutionProvider } from '@carboncp/core/node';
import { CarboncpError, DEFAULT_MAX_PAYLOAD, ErrorCode } from '@carboncp/protocol';
import type { BatchingOptions } from './request-queue.js';
import type { ServerIntensitySource, ServerPowerSource } from './server-carbon.js';
import type { ProfileMode } from './tail-profiles.js';
import { resolvePowerCap, type PowerCapOptions, type ResolvedPowerCap } from './power-cap.js';
import { resolveTls, type ServerTlsOptions } from './transport-security.js';

function profileMode(mode: unknown): ProfileMode {
  if (mode === undefined) return 'lazy';
  if (mode === 'off' || mode === 'lazy' || mode === 'start') return mode;
  throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `profile must be 'off', 'lazy' or 'start', got ${JSON.stringify(mode)}`);
}

export type Executor = 'main' | 'worker';

export interface CarbonIntensity {
  value_g_per_kwh: number;
  source: string;
}

export interface ServerOptions {
  /** .onnx files or directories of them; the model name is the file name without .onnx. */
  models: string[];
  /**
   * Optional input shapes per model name, e.g. { 'ppocr-cls': { x: [1, 3, 48, 192] } } (the
   * batch size does not matter; shapes under the key '*' apply to every model that has an input
   * of that name). Plan digests do not depend on them. Given, the server probes the model and
   * checks every request's crossing tensors against the exact cut shapes. Left out for a model
   * with symbolic non-batch input dims, the server partitions it without a probe and accepts
   * requests of any size: it checks dtype, rank where known and fixed dims, onnxruntime the
   * rest (its shape errors come back as CARBONCP_BAD_TENSOR).
   */
  inputShapes?: Record<string, Record<string, number[]>>;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8765; 0 picks a free port. */
  port?: number;
  /**
   * When set, HAProxy's agent check is answered on this TCP port of `host` (0 picks a free one):
   * one line per connection, `ready W%` with the weight from the queue and tail times, `drain`
   * once the server shuts down (see agent-check.ts). Default: no agent port.
   */
  agentPort?: number;
  /**
   * When set, a client's hello must carry it. On a host that is not a loopback address and
   * without `tls`, the server logs a warning at start: the token would cross the network in clear.
   */
  token?: string;
  /**
   * Serve HTTPS and WSS on the port (node:https) with this certificate and key, PEM strings or
   * Buffers: `{ cert, key, passphrase?, ca? }` (see transport-security.ts). Default: plain
   * HTTP and WS.
   */
  tls?: ServerTlsOptions;
  /** Tried in order for every tail session. Default ['cuda', 'cpu']. */
  executionProviders?: ExecutionProvider[];
  /** Largest accepted message in bytes. Default 64 MiB. */
  maxPayload?: number;
  /** Requests that may wait for the tail executor before new ones get CARBONCP_BUSY. Default 256. */
  maxQueue?: number;
  /**
   * One connection's share: its requests waiting or running at once, past which its new requests
   * get CARBONCP_BUSY while other connections keep being queued, so one flooding client cannot
   * fill `maxQueue` for everyone. At most `maxQueue`. Default ceil(maxQueue / 4) (see
   * defaultMaxQueuePerConnection).
   */
  maxQueuePerConnection?: number;
  /** Dynamic batching of requests for the same plan. Default off. */
  batching?: BatchingOptions | false;
  /**
   * Where tails run. 'worker' (default): on worker threads, so a running tail never blocks the
   * event loop (frames, pings, health checks and timeouts keep being served). 'main': on the
   * event loop thread, nothing crosses a thread. See the README's "Executor" section.
   */
  executor?: Executor;
  /** Worker threads of the 'worker' executor, each running one batch at a time. Default 1. */
  workers?: number;
  /**
   * Byte bound of the LRU tail-session cache (estimated from tail weights), over all workers: a
   * plan open on two workers counts twice. Default 1 GiB.
   */
  sessionCacheBytes?: number;
  /** Reported in every pong, for carbon-aware clients. Not with carbonProvider. */
  carbonIntensity?: CarbonIntensity;
  /**
   * The grid intensity where the server runs, from a provider (an IntensityProvider of
   * @carboncp/carbon fits): sampled when the server starts and every carbonRefreshMs on a
   * timer, never on a request; pongs and responses use the last sample (marked stale when the
   * latest sample failed). Not with carbonIntensity.
   */
  carbonProvider?: ServerIntensitySource;
  /** How often carbonProvider is sampled, ms. Default 300000 (5 minutes). */
  carbonRefreshMs?: number;
  /**
   * The power (W) the server draws while it runs a tail, for the energy each response reports
   * (tail time / batch size x serverPowerW x pue, labelled estimated). Unset: responses carry
   * no energy or carbon.
   */
  serverPowerW?: number;
  /**
   * A meter of the server's power draw (nvidiaSmiPowerSource(): the GPUs' power.draw), read
   * every serverPowerRefreshMs on a timer, never on a request: its last reading replaces
   * serverPowerW (labelled with its kind, 'measured' for nvidia-smi); serverPowerW is the
   * fallback before the first reading and while it fails.
   */
  serverPowerSource?: ServerPowerSource;
  /** How often serverPowerSource is read, ms. Default 1000. */
  serverPowerRefreshMs?: number;
  /** Power usage effectiveness of the site (>= 1). Default 1. */
  pue?: number;
  /** A connection that sends no hello within this time is closed. Default 10000. */
  helloTimeoutMs?: number;
  /**
   * WebSocket connections open at once (those still before their hello included); one more gets
   * CARBONCP_BUSY and close 1013 (try again later). Default 1024.
   */
  maxConnections?: number;
  /**
   * Bytes the server may hold unsent for one connection (ws bufferedAmount): a client that sends
   * requests but does not read the answers is dropped once its backlog passes this, checked
   * before each send, so one answer of any size always goes out. Default 64 MiB.
   */
  maxBufferedBytes?: number;
  /**
   * WebSocket connections open at once from one remote address; one more gets CARBONCP_BUSY and
   * close 1013. Default: no cap of its own (maxConnections bounds it). A deployment whose
   * devices each have their own address sets it so that one host cannot take every slot.
   */
  maxConnectionsPerAddress?: number;
  /**
   * A connection that has sent no infer request this long after connecting is closed (1000),
   * pings or not, so that sockets which never ask for anything do not hold connection slots;
   * its first infer request lifts the limit. 0 turns it off. Default 60000.
   */
  idleTimeoutMs?: number;
  /**
   * The longest one tail run (or session open) may take: past it, its requests get
   * CARBONCP_TIMEOUT and, with the 'worker' executor, its worker is replaced. Default 60000.
   */
  tailTimeoutMs?: number;
  /**
   * With a token, every HTTP endpoint but the health checks (/v2/health/live, /v2/health/ready)
   * needs it as `authorization: Bearer TOKEN`; true leaves /metrics open (a scraper on a private
   * network). Default false. Without a token, everything is open.
   */
  openMetrics?: boolean;
  /**
   * The tail latency profile served at GET /v2/models/{name}/profile: 'lazy' (default) measures a
   * model on its first request for it, 'start' right after the server listens (in the
   * background), 'off' serves none (404).
   */
  profile?: ProfileMode;
  /** Profiled full-model runs per model (default 10). */
  profileRuns?: number;
  /**
   * GPU power caps with nvidia-smi (see power-cap.ts and the README's "GPU power caps"): 'auto'
   * chooses the cap from the grid intensity and the queue, a number of watts fixes it, 'off'
   * (default) leaves the GPUs alone. The original limits are restored on close and on exit.
   */
  powerCap?: PowerCapOptions;
  /**
   * Run no tail here: forward each batch to a KServe v2 server (Triton serving the repository of
   * `carboncp export triton`, or another carboncp server) at `url`, with `token` as a Bearer
   * header when given. Each call is bounded by tailTimeoutMs; `workers` calls may be in flight.
   */
  tailBackend?: TailBackendOptions;
  log?: (line: string) => void;
}

export interface TailBackendOptions {
  /** Base URL, http(s)://host:port (the KServe routes are under it). */
  url: string;
  token?: string;
  /**
   * How often this server asks the backend's /v2/health/ready (default 5000 ms): this server's
   * readiness follows the backend's, so a load balancer stops sending devices to a server whose
   * backend is down.
   */
  checkIntervalMs?: number;
}

export interface ResolvedOptions {
  models: string[];
  inputShapes: Record<string, Record<string, number[]>>;
  host: string;
  port: number;
  agentPort: number | undefined;
  token: string | undefined;
  tls: ServerTlsOptions | undefined;
  executionProviders: ExecutionProvider[];
  maxPayload: number;
  maxQueue: number;
  maxQueuePerConnection: number;
  batching: BatchingOptions | false;
  executor: Executor;
  workers: number;
  sessionCacheBytes: number;
  carbonIntensity: CarbonIntensity | undefined;
  carbonProvider: ServerIntensitySource | undefined;
  carbonRefreshMs: number;
  serverPowerW: number | undefined;
  serverPowerSource: ServerPowerSource | undefined;
  serverPowerRefreshMs: number;
  pue: number;
  powerCap: ResolvedPowerCap | undefined;
  tailBackend: (TailBackendOptions & { checkIntervalMs: number }) | undefined;
  helloTimeoutMs: number;
  maxConnections: number;
  maxBufferedBytes: number;
  maxConnectionsPerAddress: number;
  idleTimeoutMs: number;
  tailTimeoutMs: number;
  openMetrics: boolean;
  profile: ProfileMode;
  profileRuns: number;
  log: (line: string) => void;
}

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 8765,
  executionProviders: ['cuda', 'cpu'] as ExecutionProvider[],
  maxPayload: DEFAULT_MAX_PAYLOAD,
  maxQueue: 256,
  executor: 'worker' as Executor,
  workers: 1,
  sessionCacheBytes: 1024 * 1024 * 1024,
  helloTimeoutMs: 10_000,
  maxConnections: 1024,
  maxBufferedBytes: 64 * 1024 * 1024,
  /** Of close({ drainMs }), not a ServerOptions field: how long shutdown lets queued requests finish. */
  drainMs: 10_000,
  /** After the drain: how long shutdown waits for clients to answer its close frame before it drops their sockets. */
  closeHandshakeMs: 2000,
  idleTimeoutMs: 60_000,
  tailTimeoutMs: 60_000,
  tailBackendCheckMs: 5000,
  carbonRefreshMs: 300_000,
  serverPowerRefreshMs: 1000,
  pue: 1,
};

/** A quarter of the queue: four clients flooding at once still fill it, one alone cannot. */
export function defaultMaxQueuePerConnection(maxQueue: number): number {
  return Math.max(1, Math.ceil(maxQueue / 4));
}

function bad(message: string): CarboncpError {
  return new CarboncpError(ErrorCode.INVALID_ARGUMENT, message);
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw bad(`${name} must be a positive integer, got ${String(value)}`);
  return value;
}

function nonNegativeInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) throw bad(`${name} must be an integer >= 0, got ${String(value)}`);
  return value;
}

function resolveTailBackend(backend: TailBackendOptions | undefined): ResolvedOptions['tailBackend'] {
  if (backend === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(backend.url);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
    throw bad(`tailBackend.url must be an http(s) base URL such as http://triton:8000, got ${JSON.stringify(backend.url)}`);
  }
  if (backend.token !== undefined && (typeof backend.token !== 'string' || backend.token.length === 0)) throw bad('tailBackend.token must be a non-empty string');
  return {
    url: url.href.replace(/\/+$/, ''),
    ...(backend.token === undefined ? {} : { token: backend.token }),
    checkIntervalMs: positiveInteger('tailBackend.checkIntervalMs', backend.checkIntervalMs, DEFAULTS.tailBackendCheckMs),
  };
}

/**
 * The server's options, checked and defaulted: the one place they are validated (the queue,
 * the worker pool and the CLI take them from here and check nothing again). Throws
 * CarboncpError CARBONCP_INVALID_ARGUMENT naming the option.
 */
export function resolveOptions(options: ServerOptions): ResolvedOptions {
  if (!options || !Array.isArray(options.models)) throw bad('options.models must be an array of .onnx files or directories');
  const port = options.port ?? DEFAULTS.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw bad(`port must be an integer in 0..65535, got ${String(port)}`);
  const agentPort = options.agentPort;
  if (agentPort !== undefined && (!Number.isInteger(agentPort) || agentPort < 0 || agentPort > 65535)) {
    throw bad(`agentPort must be an integer in 0..65535, got ${String(agentPort)}`);
  }
  if (agentPort !== undefined && agentPort !== 0 && agentPort === port) throw bad(`agentPort must differ from port (${port})`);
  const executionProviders = options.executionProviders?.length ? options.executionProviders : DEFAULTS.executionProviders;
  for (const ep of executionProviders) {
    if (ep !== 'cuda' && ep !== 'cpu') throw bad(`unknown execution provider '${String(ep)}' (use 'cuda' or 'cpu')`);
  }
  if (options.token !== undefined && (typeof options.token !== 'string' || options.token.length === 0)) throw bad('token must be a non-empty string');
  const carbon = options.carbonIntensity;
  if (carbon !== undefined && (!Number.isFinite(carbon.value_g_per_kwh) || carbon.value_g_per_kwh < 0 || typeof carbon.source !== 'string')) {
    throw bad(`carbonIntensity must be { value_g_per_kwh: number >= 0, source: string }, got ${JSON.stringify(carbon)}`);
  }
  if (options.carbonProvider !== undefined) {
    if (typeof options.carbonProvider?.current !== 'function') throw bad('carbonProvider must have a current() method answering { gPerKwh, source }');
    if (carbon !== undefined) throw bad('carbonIntensity and carbonProvider exclude each other: give a fixed number or a provider');
  }
  const serverPowerW = options.serverPowerW;
  if (serverPowerW !== undefined && (!Number.isFinite(serverPowerW) || serverPowerW < 0)) {
    throw bad(`serverPowerW must be a finite number of watts >= 0, got ${String(serverPowerW)}`);
  }
  if (options.serverPowerSource !== undefined && typeof options.serverPowerSource?.read !== 'function') {
    throw bad('serverPowerSource must have a read() method answering { watts, kind, source }');
  }
  const pue = options.pue ?? DEFAULTS.pue;
  if (!Number.isFinite(pue) || pue < 1) throw bad(`pue must be a finite number >= 1, got ${String(pue)}`);
  let batching: BatchingOptions | false = false;
  if (options.batching) {
    batching = {
      maxBatch: positiveInteger('batching.maxBatch', options.batching.maxBatch, 1),
      windowMs: options.batching.windowMs,
    };
    if (!Number.isFinite(batching.windowMs) || batching.windowMs < 0) {
      throw bad(`batching.windowMs must be a finite number >= 0, got ${String(batching.windowMs)}`);
    }
  }
  const executor = options.executor ?? DEFAULTS.executor;
  if (executor !== 'main' && executor !== 'worker') throw bad(`executor must be 'main' or 'worker', got ${JSON.stringify(executor)}`);
  const workers = positiveInteger('workers', options.workers, DEFAULTS.workers);
  if (executor === 'main' && options.workers !== undefined) throw bad(`workers (${options.workers}) applies to executor 'worker' only`);
  const maxQueue = positiveInteger('maxQueue', options.maxQueue, DEFAULTS.maxQueue);
  const maxQueuePerConnection = positiveInteger('maxQueuePerConnection', options.maxQueuePerConnection, defaultMaxQueuePerConnection(maxQueue));
  if (maxQueuePerConnection > maxQueue) {
    throw bad(`maxQueuePerConnection (${maxQueuePerConnection}) must be at most maxQueue (${maxQueue}): it is one connection's share of the queue`);
  }
  const maxConnections = positiveInteger('maxConnections', options.maxConnections, DEFAULTS.maxConnections);
  const maxConnectionsPerAddress = positiveInteger('maxConnectionsPerAddress', options.maxConnectionsPerAddress, maxConnections);
  if (maxConnectionsPerAddress > maxConnections) {
    throw bad(`maxConnectionsPerAddress (${maxConnectionsPerAddress}) must be at most maxConnections (${maxConnections})`);
  }
  if (options.openMetrics !== undefined && typeof options.openMetrics !== 'boolean') throw bad(`openMetrics must be a boolean, got ${JSON.stringify(options.openMetrics)}`);
  return {
    models: options.models,
    inputShapes: options.inputShapes ?? {},
    host: options.host ?? DEFAULTS.host,
    port,
    agentPort,
    token: options.token,
    tls: resolveTls(options.tls),
    executionProviders,
    maxPayload: positiveInteger('maxPayload', options.maxPayload, DEFAULTS.maxPayload),
    maxQueue,
    maxQueuePerConnection,
    batching,
    executor,
    workers,
    sessionCacheBytes: positiveInteger('sessionCacheBytes', options.sessionCacheBytes, DEFAULTS.sessionCacheBytes),
    carbonIntensity: carbon,
    carbonProvider: options.carbonProvider,
    carbonRefreshMs: positiveInteger('carbonRefreshMs', options.carbonRefreshMs, DEFAULTS.carbonRefreshMs),
    serverPowerW,
    serverPowerSource: options.serverPowerSource,
    serverPowerRefreshMs: positiveInteger('serverPowerRefreshMs', options.serverPowerRefreshMs, DEFAULTS.serverPowerRefreshMs),
    pue,
    powerCap: resolvePowerCap(options.powerCap),
    tailBackend: resolveTailBackend(options.tailBackend),
    helloTimeoutMs: positiveInteger('helloTimeoutMs', options.helloTimeoutMs, DEFAULTS.helloTimeoutMs),
    maxConnections,
    maxBufferedBytes: positiveInteger('maxBufferedBytes', options.maxBufferedBytes, DEFAULTS.maxBufferedBytes),
    maxConnectionsPerAddress,
    idleTimeoutMs: nonNegativeInteger('idleTimeoutMs', options.idleTimeoutMs, DEFAULTS.idleTimeoutMs),
    tailTimeoutMs: positiveInteger('tailTimeoutMs', options.tailTimeoutMs, DEFAULTS.tailTimeoutMs),
    openMetrics: options.openMetrics === true,
    profile: profileMode(options.profile),
    profileRuns: positiveInteger('profileRuns', options.profileRuns, 10),
    log: options.log ?? ((line) => process.stderr.write(`${line}\n`)),
  };
}
