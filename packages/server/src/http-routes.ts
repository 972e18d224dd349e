/**
 * The HTTP side of the server port: KServe-v2-like health and model metadata, and Prometheus
 * metrics. WebSocket upgrades on the same port are handled elsewhere (server.ts).
 *
 * With a token, the HTTP side asks for the same token as the WebSocket hello, as
 * `authorization: Bearer TOKEN`, on everything but the two health checks (load balancers and
 * orchestrators probe those without credentials, and they tell nothing about the models):
 * model metadata describes the models and plans a client could attack, and /metrics their
 * traffic. `openMetrics` leaves /metrics open for a scraper on a private network.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tokenMatches } from './token.js';
import type { Plan, TensorInfo } from '@carboncp/core';
import type { ServedModel } from './model-registry.js';
import type { ServerMetrics } from './metrics.js';
import { quoted, quotedList } from './quote.js';

export const SERVER_NAME = 'carboncp';
export const SERVER_VERSION = '0.1.0';

/**
 * The HTTP paths the server answers, in one place: the handler below routes on them, and
 * deployment manifests (probes, scrape annotations, ingress paths) are checked against them.
 */
export const HTTP_PATHS = {
  /** 200 while the process serves HTTP at all (a liveness probe). */
  live: '/v2/health/live',
  /** 200 while a tail could run now, 503 while shutting down (a readiness probe). */
  ready: '/v2/health/ready',
  /** Server name and version. */
  server: '/v2',
  /** `/v2/models/{name}` metadata, `.../ready`, `.../profile`. */
  models: '/v2/models',
  /** Prometheus text. */
  metrics: '/metrics',
} as const;

const MODEL_PATH = new RegExp(`^${HTTP_PATHS.models}/([^/]+)(?:/versions/([^/]+))?(/ready|/profile)?$`);

export interface HttpContext {
  models: ReadonlyMap<string, ServedModel>;
  metrics: ServerMetrics;
  /** False while shutting down: load balancers should stop sending traffic. */
  isReady: () => boolean;
  executionProvider: () => string;
  /** When set, every endpoint but the health checks needs it as a Bearer token. */
  token?: string;
  /** /metrics without the token. */
  openMetrics?: boolean;
  /** The tail latency profile of a model (GET /v2/models/{name}/profile); absent: profiling is off. */
  profile?: (model: ServedModel) => Promise<unknown>;
}

/** Whether the request carries the token as `authorization: Bearer TOKEN`. */
function authorized(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return false;
  const match = /^Bearer[ \t]+(.+)$/i.exec(header.trim());
  return match !== null && tokenMatches(match[1], token);
}

/** KServe v2 writes -1 for a dimension that is not fixed. */
function kserveTensor(info: TensorInfo): { name: string; datatype: string; shape: number[] } {
  return { name: info.name, datatype: info.dtype, shape: info.shape.map((d) => (typeof d === 'number' ? d : -1)) };
}

function planMetadata(plan: Plan) {
  return {
    id: plan.id,
    kind: plan.kind,
    digest: plan.digest,
    served: plan.kind !== 'device',
    bytes_per_sample: Number.isFinite(plan.bytesPerSample) ? plan.bytesPerSample : null,
    crossing: plan.crossing.map((c) => ({
      name: c.name,
      datatype: c.dtype,
      shape: c.shape,
      bytes_per_sample: Number.isFinite(c.bytesPerSample) ? c.bytesPerSample : null,
      source: c.source,
    })),
    head_outputs: plan.headOutputs,
    tail_outputs: plan.tailOutputs,
  };
}

export function modelMetadata(model: ServedModel, executionProvider: string) {
  return {
    name: model.name,
    versions: ['1'],
    platform: 'onnx',
    inputs: model.loaded.inputs.map(kserveTensor),
    outputs: model.loaded.outputs.map(kserveTensor),
    // carboncp additions: what a device needs to check that it holds the same model and plans.
    digest: model.loaded.digest,
    execution_provider: executionProvider,
    plans: model.partition.plans.map(planMetadata),
  };
}

async function sendProfile(ctx: HttpContext, model: ServedModel, res: ServerResponse, head: boolean): Promise<void> {
  if (!ctx.profile) {
    sendJson(res, 404, { error: `this server does not profile its tails (start it with profile 'lazy' or 'start', CLI: serve --profile lazy)` }, head);
    return;
  }
  let profile: unknown;
  try {
    profile = await ctx.profile(model);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    sendJson(res, 503, { error: `the tail profile of '${model.name}' could not be measured: ${(error as Error).message}`, ...(typeof code === 'string' ? { code } : {}) }, head);
    return;
  }
  // Unknown sizes (NaN) as null, as in every carboncp JSON.
  const text = JSON.stringify(profile, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value));
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(head ? undefined : text);
}

function sendJson(res: ServerResponse, status: number, body: unknown, head: boolean): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(head ? undefined : text);
}

export function createHttpHandler(ctx: HttpContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void handle(ctx, req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: `internal error: ${(error as Error).message}` }, false);
      else res.destroy();
    });
  };
}

async function handle(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    res.setHeader('allow', 'GET, HEAD');
    sendJson(res, 405, { error: `method ${req.method} not allowed; use GET` }, false);
    return;
  }
  let path: string;
  try {
    path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
  } catch {
    sendJson(res, 400, { error: `the request target ${quoted(req.url)} is not a valid URL path` }, head);
    return;
  }
  if (path === HTTP_PATHS.live) {
    sendJson(res, 200, { live: true }, head);
    return;
  }
  if (path === HTTP_PATHS.ready) {
    const ready = ctx.isReady();
    sendJson(res, ready ? 200 : 503, { ready }, head);
    return;
  }
  const needsToken = ctx.token !== undefined && !(path === HTTP_PATHS.metrics && ctx.openMetrics);
  if (needsToken && !authorized(req, ctx.token!)) {
    const text = JSON.stringify({
      error: `${path} needs the server's token as 'authorization: Bearer TOKEN' (only ${HTTP_PATHS.live} and ${HTTP_PATHS.ready} are open)`,
    });
    res.writeHead(401, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'www-authenticate': 'Bearer realm="carboncp"',
    });
    res.end(head ? undefined : text);
    return;
  }
  if (path === HTTP_PATHS.server) {
    sendJson(res, 200, { name: SERVER_NAME, version: SERVER_VERSION, extensions: [] }, head);
    return;
  }
  if (path === HTTP_PATHS.metrics) {
    const text = await ctx.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': ctx.metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
    res.end(head ? undefined : text);
    return;
  }
  const match = MODEL_PATH.exec(path);
  if (match) {
    let name: string;
    try {
      name = decodeURIComponent(match[1]);
    } catch {
      sendJson(res, 400, { error: `the model name in ${quoted(path)} is not valid percent-encoding` }, head);
      return;
    }
    const model = ctx.models.get(name);
    if (!model) {
      sendJson(res, 404, { error: `unknown model ${quoted(name)}; this server has ${quotedList([...ctx.models.keys()], 32)}` }, head);
      return;
    }
    if (match[2] !== undefined && match[2] !== '1') {
      sendJson(res, 404, { error: `model '${name}' has no version ${quoted(match[2])}; its only version is '1'` }, head);
      return;
    }
    if (match[3] === '/profile') {
      await sendProfile(ctx, model, res, head);
      return;
    }
    if (match[3]) {
      const ready = ctx.isReady();
      sendJson(res, ready ? 200 : 503, { name, ready }, head);
      return;
    }
    sendJson(res, 200, modelMetadata(model, ctx.executionProvider()), head);
    return;
  }
  sendJson(res, 404, { error: `no route for ${quoted(path)}; try ${HTTP_PATHS.live}, ${HTTP_PATHS.ready}, ${HTTP_PATHS.models}/{name} or ${HTTP_PATHS.metrics}` }, head);
}
