/**
 * startServer: one node:http server (node:https with tls) carrying both the HTTP endpoints and
 * the WebSocket protocol (ws in noServer mode, attached on upgrade), the model registry, the
 * bounded request queue, the tail executor (on the main thread or on worker threads) with its
 * LRU session cache, and graceful shutdown.
 */
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Plan } from '@carboncp/core';
import type { ExecutionProvider } from '@carboncp/core/node';
import { CarboncpError, CloseCode, ErrorCode, MessageType, encodeFrame, type PowerCapWire } from '@carboncp/protocol';
import { WebSocketServer, type WebSocket } from 'ws';
import { agentReply, medianOf, startAgentCheck, type AgentCheckListener } from './agent-check.js';
import { ClientConnection, type ConnectionContext } from './client-connection.js';
import { resolveExecutionProvider } from './execution-provider.js';
import { createHttpHandler } from './http-routes.js';
import type { InferJob } from './infer-job.js';
import { LatencyWindow } from './latency-window.js';
import { TailProfiles } from './tail-profiles.js';
import { createMetrics } from './metrics.js';
import { ServerCarbon } from './server-carbon.js';
import { nvidiaSmiRunner } from './nvidia-smi.js';
import { ServerPowerCap, type PowerCapState } from './power-cap.js';
import { loadServedModels, type ServedModel } from './model-registry.js';
import { DEFAULTS, resolveOptions, type ServerOptions } from './options.js';
import { MainThreadBackend } from './main-thread-backend.js';
import { RequestQueue } from './request-queue.js';
import { TailExecutor, type TailBackend } from './tail-executor.js';
import { tailIsBatchable } from './tail-tensors.js';
import { WorkerPoolBackend } from './tail-worker-pool.js';
import { createListener, plaintextTokenWarning, type Listener } from './transport-security.js';
import { KserveForwardBackend } from './kserve/forward-backend.js';
import { createKserveInferHandler } from './kserve/infer-route.js';
import { kserveTargets } from './kserve/model-names.js';

export interface CarboncpServer {
  /** ws://host:port (wss:// with tls) */
  url: string;
  /** http://host:port, the same port (https:// with tls) */
  httpUrl: string;
  port: number;
  /** The port answering HAProxy's agent check (with options.agentPort), else undefined. */
  agentPort: number | undefined;
  /** The execution provider tails run on ('cuda' or 'cpu'). */
  readonly executionProvider: string;
  /** The models served, by name. */
  readonly models: ReadonlyMap<string, ServedModel>;
  /**
   * Graceful shutdown: stop accepting connections and requests (new ones get
   * CARBONCP_SHUTTING_DOWN), let queued and running requests finish for up to `drainMs`
   * (default 10000; the rest get CARBONCP_SHUTTING_DOWN), then close every connection with 1001.
   */
  close(options?: { drainMs?: number }): Promise<void>;
}

function listen(server: Listener, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const why = error.code === 'EADDRINUSE' ? 'the address is already in use' : error.code === 'EACCES' ? 'permission denied' : error.message;
      reject(new CarboncpError(ErrorCode.LISTEN, `cannot listen on ${host}:${port}: ${why}`, { cause: error }));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** A pong's power_cap: the caps and default limits summed over the managed GPUs. */
function powerCapWire(state: PowerCapState | undefined): PowerCapWire | undefined {
  if (!state) return undefined;
  return {
    watts: state.gpus.reduce((sum, g) => sum + g.watts, 0),
    default_watts: state.gpus.reduce((sum, g) => sum + g.defaultW, 0),
    gpus: state.gpus.length,
    source: `nvidia-smi power.limit, ${state.mode === 'auto' ? `auto (${state.reason})` : state.reason}`,
  };
}

function refuseUpgrade(socket: Duplex, status: string, message: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(message)}\r\n\r\n${message}`);
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** For the server's own tests: a tail worker entry that wraps the real one (e.g. to crash it). */
export interface ServerInternals {
  tailWorkerEntry?: URL;
  /** Given to every tail worker as workerData.data. */
  tailWorkerData?: unknown;
}

export async function startServer(options: ServerOptions, internals: ServerInternals = {}): Promise<CarboncpServer> {
  const opts = resolveOptions(options);
  const log = opts.log;
  const resolved = resolveExecutionProvider(opts.executionProviders);
  if (resolved.provider === null) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, resolved.reason);
  let executionProvider: ExecutionProvider = resolved.provider;
  log(`execution provider: ${executionProvider} (${resolved.reason})`);

  const models = await loadServedModels(opts.models, opts.inputShapes, log);
  const targets = kserveTargets(models);
  const batchable = new Map<string, boolean>();
  const isBatchable = (model: ServedModel, plan: Plan): boolean => {
    const key = `${model.name}/${plan.id}`;
    let value = batchable.get(key);
    if (value === undefined) {
      const outputs = model.loaded.outputs.filter((o) => plan.tailOutputs.includes(o.name));
      value = outputs.length === plan.tailOutputs.length && tailIsBatchable(plan.crossing, outputs);
      batchable.set(key, value);
    }
    return value;
  };

  const connections = new Set<ClientConnection>();
  /** Open connections per remote address, for maxConnectionsPerAddress. */
  const perAddress = new Map<string, number>();
  const onSessionProvider = (provider: ExecutionProvider) => {
    if (provider !== executionProvider) {
      log(`execution provider: ${provider} (a tail session could not open on ${executionProvider} and fell back)`);
      executionProvider = provider;
    }
  };
  const backendOptions = {
    sessionCacheBytes: opts.sessionCacheBytes,
    executionProviders: [executionProvider, ...opts.executionProviders.filter((ep) => ep !== executionProvider)],
    log,
    onSessionProvider,
    callTimeoutMs: opts.tailTimeoutMs,
  };
  let backend: TailBackend;
  let sessions: { size: number; totalBytes: number };
  if (opts.tailBackend) {
    const forward = new KserveForwardBackend({ ...opts.tailBackend, timeoutMs: opts.tailTimeoutMs, log });
    await forward.start();
    backend = forward;
    sessions = { size: 0, totalBytes: 0 };
  } else if (opts.executor === 'worker') {
    const pool = new WorkerPoolBackend({ ...backendOptions, workers: opts.workers, entry: internals.tailWorkerEntry, data: internals.tailWorkerData });
    await pool.start();
    backend = pool;
    sessions = pool.sessions;
  } else {
    const main = new MainThreadBackend(backendOptions);
    backend = main;
    sessions = main.sessions;
  }
  log(
    opts.tailBackend
      ? `executor: none here; tails forwarded to the KServe v2 server ${opts.tailBackend.url} (${opts.workers} call(s) in flight)`
      : `executor: ${opts.executor === 'worker' ? `${opts.workers} worker thread(s)` : 'main thread'}`,
  );
  const latency = new LatencyWindow();
  const profiles = new TailProfiles({ mode: opts.profile, runs: opts.profileRuns, executionProvider: () => executionProvider, latency, log });
  // The gauges read the queue at scrape time; it exists by then.
  let queue: RequestQueue<InferJob> | undefined;
  let powerCap: ServerPowerCap | undefined;
  const metrics = createMetrics({
    queueDepth: () => queue?.depth ?? 0,
    inFlight: () => queue?.inFlight ?? 0,
    sessionCacheEntries: () => sessions.size,
    sessionCacheBytes: () => sessions.totalBytes,
    connections: () => connections.size,
    ...(opts.powerCap ? { powerCap: () => powerCap?.state() } : {}),
  });
  const carbon = new ServerCarbon({
    carbonIntensity: opts.carbonIntensity,
    carbonProvider: opts.carbonProvider,
    carbonRefreshMs: opts.carbonRefreshMs,
    serverPowerW: opts.serverPowerW,
    ...(opts.serverPowerSource ? { powerSource: opts.serverPowerSource, powerRefreshMs: opts.serverPowerRefreshMs } : {}),
    pue: opts.pue,
    log,
  });
  const executor = new TailExecutor({ backend, metrics, latency, log, carbon });
  const requestQueue = new RequestQueue<InferJob>({
    maxQueue: opts.maxQueue,
    batching: opts.batching,
    concurrency: opts.executor === 'worker' || opts.tailBackend ? opts.workers : 1,
    execute: (jobs) => executor.execute(jobs),
    onError: (error, jobs) => {
      const message = `unexpected failure running the tail: ${(error as Error)?.message ?? String(error)}`;
      log(`error ${ErrorCode.INTERNAL}: ${message}`);
      for (const job of jobs) job.replier.sendError(job.requestId, ErrorCode.INTERNAL, message);
    },
  });
  queue = requestQueue;

  let shuttingDown = false;
  const context: ConnectionContext = {
    options: opts,
    models,
    queue: requestQueue,
    metrics,
    latency,
    isBatchable,
    executionProvider: () => executionProvider,
    shuttingDown: () => shuttingDown,
    log,
    carbonIntensity: () => carbon.intensity(),
    powerCap: () => powerCapWire(powerCap?.state()),
  };

  // Refused in the protocol, not with an HTTP status: a client then reads why, and retries later.
  let refused = 0;
  let refusalLoggedAt = Number.NEGATIVE_INFINITY;
  const refuseConnection = (ws: WebSocket, remote: string, message: string) => {
    metrics.errors.inc({ code: ErrorCode.BUSY });
    refused += 1;
    // A flood of connections must not become a flood of log lines: one line per 10 s at most.
    if (performance.now() - refusalLoggedAt >= 10_000) {
      log(`connection ${remote} refused: ${message} (${refused} refused since the last such line)`);
      refusalLoggedAt = performance.now();
      refused = 0;
    }
    ws.on('error', () => undefined);
    ws.send(encodeFrame({ type: MessageType.Error, requestId: 0, body: { code: ErrorCode.BUSY, message } }));
    ws.close(CloseCode.TRY_AGAIN_LATER, 'CARBONCP_BUSY: connection limit reached');
    // A client that never answers the close must not hold the socket.
    setTimeout(() => ws.terminate(), 2000).unref();
  };

  const infer = createKserveInferHandler({
    targets,
    admission: {
      models,
      maxQueuePerConnection: opts.maxQueuePerConnection,
      batching: opts.batching !== false,
      isBatchable,
      shuttingDown: () => shuttingDown,
    },
    queue: requestQueue,
    maxPayload: opts.maxPayload,
    metrics,
    log,
  });
  const http = createListener(
    createHttpHandler({
      kserveTargets: targets,
      infer,
      models,
      metrics,
      // Not ready while shutting down, or while no executor can run a tail (every worker slot
      // empty or being replaced): a load balancer should send its traffic elsewhere.
      isReady: () => !shuttingDown && backend.canRun(),
      executionProvider: () => executionProvider,
      token: opts.token,
      openMetrics: opts.openMetrics,
      ...(profiles.enabled ? { profile: (model: ServedModel) => profiles.served(model) } : {}),
    }),
    opts.tls,
  );
  // Headers count against ws's limit too; a little room lets an over-limit frame reach the
  // decoder, which answers CARBONCP_PAYLOAD_TOO_LARGE before closing with 1009.
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayload + 64 * 1024, perMessageDeflate: false });
  http.on('upgrade', (req, socket, head) => {
    socket.on('error', () => undefined);
    if (shuttingDown) {
      refuseUpgrade(socket, '503 Service Unavailable', 'carboncp server is shutting down');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const address = req.socket.remoteAddress ?? '?';
      const remote = `${address}:${req.socket.remotePort ?? '?'}`;
      if (connections.size >= opts.maxConnections) {
        refuseConnection(
          ws,
          remote,
          `the server has ${connections.size} connections open, its limit (max-connections ${opts.maxConnections}); try again later or another server`,
        );
        return;
      }
      const fromAddress = perAddress.get(address) ?? 0;
      if (fromAddress >= opts.maxConnectionsPerAddress) {
        refuseConnection(
          ws,
          remote,
          `the server has ${fromAddress} connections open from ${address}, its limit per address (max-connections-per-address ${opts.maxConnectionsPerAddress}); close one first or try again later`,
        );
        return;
      }
      const connection = new ClientConnection(ws, context, remote);
      connections.add(connection);
      perAddress.set(address, fromAddress + 1);
      ws.on('close', () => {
        connections.delete(connection);
        const left = (perAddress.get(address) ?? 1) - 1;
        if (left > 0) perAddress.set(address, left);
        else perAddress.delete(address);
      });
    });
  });

  try {
    await listen(http, opts.port, opts.host);
  } catch (error) {
    await backend.close();
    throw error;
  }
  const port = (http.address() as AddressInfo).port;
  let agent: AgentCheckListener | undefined;
  if (opts.agentPort !== undefined) {
    const concurrency = opts.executor === 'worker' ? opts.workers : 1;
    const load = () => ({ queueDepth: requestQueue.depth, inFlight: requestQueue.inFlight, concurrency, tailMs: medianOf(latency.pooled()) });
    try {
      agent = await startAgentCheck(opts.host, opts.agentPort, () => agentReply(load(), shuttingDown));
    } catch (error) {
      http.close();
      await backend.close();
      throw error;
    }
    log(`agent-check listening on ${hostForUrl(opts.host)}:${agent.port} (HAProxy agent-port; 'ready W%' from the queue and tail times, 'drain' on shutdown)`);
  }
  const host = hostForUrl(opts.host);
  const url = `${opts.tls ? 'wss' : 'ws'}://${host}:${port}`;
  const httpUrl = `${opts.tls ? 'https' : 'http'}://${host}:${port}`;
  log(
    `carboncp server listening on ${url} (HTTP on ${httpUrl}); ${models.size} model(s): ${[...models.keys()].join(', ')}; ` +
      `max-queue ${opts.maxQueue} (${opts.maxQueuePerConnection} per connection), max-payload ${opts.maxPayload} bytes, batching ${opts.batching ? `max ${opts.batching.maxBatch} within ${opts.batching.windowMs} ms` : 'off'}` +
      `, tail-timeout ${opts.tailTimeoutMs} ms, idle-timeout ${opts.idleTimeoutMs === 0 ? 'off' : `${opts.idleTimeoutMs} ms`}` +
      `${opts.token !== undefined ? `, token required (WebSocket, HTTP metadata${opts.openMetrics ? '' : ' and /metrics'})` : ''}` +
      `${opts.tls ? ', TLS' : ''}`,
  );
  const plaintextToken = plaintextTokenWarning(opts);
  if (plaintextToken) log(plaintextToken);
  // Samples the carbon provider now and on its timer, in the background (never on a request).
  carbon.start();
  if (opts.powerCap) {
    const cap = opts.powerCap;
    powerCap = new ServerPowerCap({
      mode: cap.mode,
      policy: cap.policy,
      gpus: cap.gpus,
      intervalMs: cap.intervalMs,
      nvidiaSmi: nvidiaSmiRunner({ command: cap.command }),
      inputs: () => ({ intensityGPerKwh: carbon.intensity()?.value_g_per_kwh, queueDepth: requestQueue.depth }),
      log,
    });
    // Reads the limits and applies the first cap before the server is handed out; a failure is logged, never thrown.
    await powerCap.start();
  }
  // In the background: the profile must not hold up the start (nor its failure stop the server).
  if (opts.profile === 'start') void profiles.warm(models.values());

  let closing: Promise<void> | undefined;
  const close = async (drainMs: number): Promise<void> => {
    shuttingDown = true;
    carbon.stop();
    // Restored first, so that nothing later in the shutdown can leave a GPU capped.
    await powerCap?.close();
    requestQueue.close();
    const stopped = new Promise<void>((resolve) => http.close(() => resolve()));
    http.closeIdleConnections();
    const drained = await requestQueue.drain(drainMs);
    if (!drained) {
      const left = requestQueue.takeAll();
      log(`shutdown: ${left.length} queued request(s) not run within ${drainMs} ms`);
      for (const job of left) {
        job.replier.sendError(job.requestId, ErrorCode.SHUTTING_DOWN, `the server shut down before this request ran (drain limit ${drainMs} ms)`);
      }
      // A batch already running finishes on its own; wait for it so its answer goes out.
      await requestQueue.drain(60_000);
    }
    const open = [...connections];
    for (const connection of open) connection.close(CloseCode.GOING_AWAY, 'carboncp server shutting down');
    const allClosed = Promise.all(open.map((c) => c.whenClosed()));
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), DEFAULTS.closeHandshakeMs).unref());
    if ((await Promise.race([allClosed, timeout])) === 'timeout') {
      for (const connection of open) connection.terminate();
    }
    wss.close();
    http.closeAllConnections();
    await stopped;
    // The queue has drained: no tail runs now. Releases the sessions and stops the workers.
    await backend.close();
    // Last: HAProxy reads 'drain' for as long as the server finishes its queue.
    await agent?.close();
    log('carboncp server stopped');
  };

  return {
    url,
    httpUrl,
    port,
    agentPort: agent?.port,
    get executionProvider() {
      return executionProvider;
    },
    models,
    close(closeOptions = {}) {
      closing ??= close(closeOptions.drainMs ?? DEFAULTS.drainMs);
      return closing;
    },
  };
}
