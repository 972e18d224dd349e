/**
 * POST /v2/models/{name}/infer: the KServe v2 inference endpoint (JSON data or Triton's binary
 * tensor data extension). A KServe request becomes the same InferJob a WebSocket request becomes:
 * it passes the same admission (shutdown, the share of one client, model, plan, crossing tensors),
 * waits in the same queue and runs on the same tail executor; only the way in and the way out
 * differ. The body is refused past max-payload before it is buffered (by its content-length, or
 * as it streams in). One HTTP client's share of the queue is counted per remote address
 * (max-queue-per-connection), as HTTP/1.1 keeps one request per socket in flight.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, isCarboncpError, type InferRequestMessage, type WireTensor } from '@carboncp/protocol';
import { admitInfer, type AdmissionContext } from '../connection-admission.js';
import type { InferJob, JobReplier } from '../infer-job.js';
import type { ServerMetrics } from '../metrics.js';
import type { RequestQueue } from '../request-queue.js';
import { BINARY_CONTENT_TYPE, HEADER_LENGTH_HEADER } from './kserve-body.js';
import { decodeInferRequest, encodeInferResponse, wantsBinary, type KserveInferRequest } from './kserve-messages.js';
import type { KserveTarget } from './model-names.js';

export interface KserveRouteContext {
  targets: ReadonlyMap<string, KserveTarget>;
  admission: AdmissionContext;
  queue: RequestQueue<InferJob>;
  maxPayload: number;
  metrics: ServerMetrics;
  log: (line: string) => void;
}

/** The HTTP status of each carboncp error code a KServe client can get (others: 500). */
const STATUS_OF: Readonly<Record<string, number>> = {
  [ErrorCode.BAD_FRAME]: 400,
  [ErrorCode.BAD_TENSOR]: 400,
  [ErrorCode.INVALID_ARGUMENT]: 400,
  [ErrorCode.UNAUTHORIZED]: 401,
  [ErrorCode.UNKNOWN_MODEL]: 404,
  [ErrorCode.UNKNOWN_PLAN]: 404,
  [ErrorCode.DIGEST_MISMATCH]: 409,
  [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.BUSY]: 503,
  [ErrorCode.SHUTTING_DOWN]: 503,
  [ErrorCode.TIMEOUT]: 504,
};

export function httpStatusOf(code: string): number {
  return STATUS_OF[code] ?? 500;
}

/** A KServe error body, `{error}`, with the carboncp code beside it. */
function sendError(res: ServerResponse, metrics: ServerMetrics, code: string, message: string, close = false): void {
  metrics.errors.inc({ code });
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify({ error: message, code });
  res.writeHead(httpStatusOf(code), {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(text);
}

/** The body, or undefined after answering 413 when it passes `maxPayload` (checked before it is held). */
function readBody(req: IncomingMessage, res: ServerResponse, ctx: KserveRouteContext): Promise<Buffer | undefined> {
  const tooLarge = (size: string) => {
    sendError(res, ctx.metrics, ErrorCode.PAYLOAD_TOO_LARGE, `the request body is ${size}, more than max-payload ${ctx.maxPayload} bytes`, true);
    // The rest of the body is not read: the connection closes after the answer.
    req.unpipe();
    res.on('finish', () => req.destroy());
  };
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > ctx.maxPayload) {
    tooLarge(`${declared} bytes`);
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > ctx.maxPayload) {
        req.off('data', onData);
        req.pause();
        tooLarge(`over ${size} bytes`);
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}

/** Answers one admitted KServe request (the JobReplier of its job) and frees its slot in the client's share. */
class HttpReplier implements JobReplier {
  private answered = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly ctx: KserveRouteContext,
    private readonly kserveName: string,
    private readonly request: KserveInferRequest,
    private readonly release: () => void,
  ) {
    res.once('close', () => this.finish());
  }

  get open(): boolean {
    return !this.answered && !this.res.destroyed && !this.res.writableEnded;
  }

  sendResponse(_requestId: number, outputs: WireTensor[], _job: InferJob, parameters: Record<string, unknown>): void {
    if (!this.finish()) return;
    const wanted = this.request.outputs?.map((o) => o.name);
    const chosen = wanted ? wanted.map((name) => outputs.find((o) => o.name === name) as WireTensor) : outputs;
    let encoded;
    try {
      encoded = encodeInferResponse(
        { model_name: this.kserveName, model_version: '1', ...(this.request.id === undefined ? {} : { id: this.request.id }), outputs: chosen, parameters },
        (name) => wantsBinary(this.request, name),
      );
    } catch (error) {
      sendError(this.res, this.ctx.metrics, ErrorCode.INTERNAL, `the response could not be encoded: ${(error as Error).message}`);
      return;
    }
    this.ctx.metrics.bytesSent.inc(encoded.body.byteLength);
    this.res.writeHead(200, {
      'content-type': encoded.headerLength === undefined ? 'application/json; charset=utf-8' : BINARY_CONTENT_TYPE,
      'content-length': encoded.body.byteLength,
      ...(encoded.headerLength === undefined ? {} : { [HEADER_LENGTH_HEADER]: encoded.headerLength }),
    });
    this.res.end(encoded.body);
  }

  sendError(_requestId: number, code: string, message: string): void {
    if (this.finish()) sendError(this.res, this.ctx.metrics, code, message);
  }

  /** True the first time: the one answer (or the client going away) frees the slot. */
  private finish(): boolean {
    if (this.answered) return false;
    this.answered = true;
    this.release();
    return true;
  }
}

/** Per remote address: request ids in flight (that client's share) and the next id. */
interface ClientShare {
  inFlight: Set<number>;
  nextId: number;
}

export function createKserveInferHandler(ctx: KserveRouteContext): (name: string, req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const shares = new Map<string, ClientShare>();
  return async (name, req, res) => {
    const target = ctx.targets.get(name);
    if (!target) {
      const known = [...ctx.targets.keys()];
      const listed = known.length > 8 ? `${known.slice(0, 8).join(', ')}, ... (${known.length})` : known.join(', ');
      req.resume();
      sendError(res, ctx.metrics, ErrorCode.UNKNOWN_MODEL, `unknown model '${name.slice(0, 120)}'; this server answers to ${listed}`);
      return;
    }
    const body = await readBody(req, res, ctx);
    if (body === undefined) return;
    ctx.metrics.bytesReceived.inc(body.byteLength);
    let request: KserveInferRequest;
    try {
      request = decodeInferRequest(body, req.headers[HEADER_LENGTH_HEADER] as string | undefined);
    } catch (error) {
      if (!isCarboncpError(error)) throw error;
      sendError(res, ctx.metrics, error.code, error.message);
      return;
    }
    const { model, plan } = target;
    const unknown = request.outputs?.filter((o) => !plan.tailOutputs.includes(o.name)).map((o) => o.name) ?? [];
    if (unknown.length > 0) {
      sendError(res, ctx.metrics, ErrorCode.BAD_TENSOR, `model '${name}' has no output ${unknown.map((n) => `'${n}'`).join(', ')}; its outputs are ${plan.tailOutputs.join(', ')}`);
      return;
    }
    const address = req.socket.remoteAddress ?? '?';
    let share = shares.get(address);
    if (!share) {
      share = { inFlight: new Set(), nextId: 1 };
      shares.set(address, share);
    }
    const requestId = share.nextId;
    share.nextId = share.nextId >= 0xffffffff ? 1 : share.nextId + 1;
    const timeout = request.parameters.timeout_ms;
    const message: InferRequestMessage = {
      ...(request.id === undefined ? {} : { id: request.id }),
      model_name: model.name,
      model_digest: model.loaded.digest,
      plan_id: plan.id,
      plan_digest: plan.digest,
      inputs: request.inputs,
      ...(typeof timeout === 'number' ? { parameters: { timeout_ms: timeout } } : {}),
    };
    const held = share;
    const release = () => {
      held.inFlight.delete(requestId);
      if (held.inFlight.size === 0 && shares.get(address) === held) shares.delete(address);
    };
    const replier = new HttpReplier(res, ctx, name, request, release);
    const admission = admitInfer(ctx.admission, replier, requestId, message, held.inFlight);
    if ('rejected' in admission) {
      replier.sendError(requestId, admission.rejected.code, admission.rejected.message);
      return;
    }
    held.inFlight.add(requestId);
    shares.set(address, held);
    try {
      ctx.queue.submit(admission.job);
    } catch (error) {
      if (!isCarboncpError(error)) throw error;
      replier.sendError(requestId, error.code, error.message);
    }
  };
}
