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
import type { KserveTarget } from './kserve/model-names.js';

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
  /** Every KServe model name the server answers to (kserve/model-names.ts): tails have metadata too. */
  kserveTargets?: ReadonlyMap<string, KserveTarget>;
  /** POST /v2/models/{name}[/versions/1]/infer (kserve/infer-route.ts); absent: 405. */
  infer?: (name: string, req: IncomingMessage, res: ServerResponse) => Promise<void>;
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

/** KServe metadata of a split plan's tail: its inputs are the crossing tensors, its outputs the tail's. */
function tailMetadata(name: string, target: KserveTarget) {
  const { model, plan } = target;
  return {
    name,
    versions: ['1'],
    platform: 'onnx',
    inputs: plan.crossing.map((c) => ({ name: c.name, datatype: c.dtype, shape: c.shape === null ? [-1] : c.shape.map((d) => (typeof d === 'number' ? d : -1)) })),
    outputs: model.loaded.outputs.filter((o) => plan.tailOutputs.includes(o.name)).map(kserveTensor),
    // carboncp additions: which model and plan the name stands for.
    model: model.name,
    digest: model.loaded.digest,
    plan: { id: plan.id, digest: plan.digest },
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

function sendUnauthorized(res: ServerResponse, path: string, head: boolean): void {
  const text = JSON.stringify({
    error: `${path} needs the server's token as 'authorization: Bearer TOKEN' (only ${HTTP_PATHS.live} and ${HTTP_PATHS.ready} are open)`,
  });
  res.writeHead(401, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'www-authenticate': 'Bearer realm="carboncp"',
  });
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
  let path: string;
  try {
    path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
  } catch {
    sendJson(res, 400, { error: `the request target ${quoted(req.url)} is not a valid URL path` }, head);
    return;
  }
  const infer = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?\/infer$/.exec(path);
  if (infer && req.method === 'POST' && ctx.infer) {
    if (ctx.token !== undefined && !authorized(req, ctx.token)) {
      sendUnauthorized(res, path, false);
      return;
    }
    let name: string;
    try {
      name = decodeURIComponent(infer[1]);
    } catch {
      sendJson(res, 400, { error: `the model name in ${quoted(path)} is not valid percent-encoding` }, false);
      return;
    }
    if (infer[2] !== undefined && infer[2] !== '1') {
      sendJson(res, 404, { error: `model '${name}' has no version ${quoted(infer[2])}; its only version is '1'` }, false);
      return;
    }
    await ctx.infer(name, req, res);
    return;
  }
  if (infer && ctx.infer) {
    res.setHeader('allow', 'POST');
    sendJson(res, 405, { error: `method ${req.method} not allowed on ${quoted(path)}; use POST` }, false);
    return;
  }
  if (req.method !== 'GET' && !head) {
    res.setHeader('allow', 'GET, HEAD');
    sendJson(res, 405, { error: `method ${req.method} not allowed; use GET` }, false);
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
    sendUnauthorized(res, path, head);
    return;
  }
  if (path === HTTP_PATHS.server) {
    sendJson(res, 200, { name: SERVER_NAME, version: SERVER_VERSION, extensions: ctx.infer ? ['binary_tensor_data'] : [] }, head);
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
    const tail = model ? undefined : ctx.kserveTargets?.get(name);
    if (tail && match[3] !== '/profile' && (match[2] === undefined || match[2] === '1')) {
      if (match[3]) sendJson(res, ctx.isReady() ? 200 : 503, { name, ready: ctx.isReady() }, head);
      else sendJson(res, 200, tailMetadata(name, tail), head);
      return;
    }
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
