/**
 * One WebSocket client: hello first (token, protocol version), then any number of infer
 * requests in flight, matched by the frame's request id, and pings. Every bad input is answered
 * with an error that names the problem: an error frame carrying the request id when the request
 * can be identified (the connection stays open: WebSocket keeps message boundaries, so one bad
 * message does not spoil the next), otherwise an error frame and a close with the protocol's
 * close code.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Plan } from '@carboncp/core';
import {
  CarboncpError,
  CloseCode,
  ErrorCode,
  FIXED_HEADER_BYTES,
  FRAME_MAGIC,
  MessageType,
  PROTOCOL_VERSION,
  concatParts,
  decodeFrameFragments,
  encodeFrameParts,
  isCarboncpError,
  type CorkableStream,
  type HelloMessage,
  type InferRequestMessage,
  type Message,
  type ModelRef,
  type PingMessage,
  type WireTensor,
  sendFrameParts,
} from '@carboncp/protocol';
import type { RawData, WebSocket } from 'ws';
import { SERVER_NAME, SERVER_VERSION } from './http-routes.js';
import type { InferJob, JobReplier } from './infer-job.js';
import type { LatencyWindow } from './latency-window.js';
import type { ServedModel } from './model-registry.js';
import type { ServerMetrics } from './metrics.js';
import type { ResolvedOptions } from './options.js';
import type { RequestQueue } from './request-queue.js';
import { quoted, quotedList } from './quote.js';
import { batchKeyOf, checkCrossingInputs } from './tail-tensors.js';

export interface ConnectionContext {
  options: ResolvedOptions;
  models: ReadonlyMap<string, ServedModel>;
  queue: RequestQueue<InferJob>;
  metrics: ServerMetrics;
  latency: LatencyWindow;
  /** Whether requests for this plan may be batched (see tailIsBatchable). */
  isBatchable: (model: ServedModel, plan: Plan) => boolean;
  executionProvider: () => string;
  shuttingDown: () => boolean;
  log: (line: string) => void;
}

/** WebSocket close reasons are limited to 123 bytes. */
function closeReason(text: string): string {
  const bytes = Buffer.from(text);
  return bytes.length <= 123 ? text : `${bytes.subarray(0, 120).toString('utf8').replace(/\uFFFD+$/, '')}...`;
}

function rawBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function short(digest: string): string {
  return digest.length > 16 ? `${digest.slice(0, 16)}...` : digest;
}

/** Type and request id of a frame whose fixed header is intact, without decoding the rest. */
function peekFixedHeader(bytes: Uint8Array): { type: number; requestId: number } | undefined {
  if (bytes.length < FIXED_HEADER_BYTES) return undefined;
  const u32 = (at: number) => (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
  if (u32(0) !== FRAME_MAGIC || bytes[4] !== PROTOCOL_VERSION) return undefined;
  return { type: bytes[5], requestId: u32(8) };
}

export class ClientConnection implements JobReplier {
  private helloDone = false;
  private closed = false;
  /** Request ids accepted and not answered yet: a second request under one of them is refused. */
  private readonly pending = new Set<number>();
  private readonly helloTimer: NodeJS.Timeout;

  constructor(
    private readonly ws: WebSocket,
    private readonly ctx: ConnectionContext,
    readonly remote: string,
  ) {
    // Fragments, not one joined Buffer: a large tensor sent as a fragment of its own is decoded
    // where ws read it (decodeFrameFragments), not copied into a joined message first.
    ws.binaryType = 'fragments';
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', () => {
      this.closed = true;
      clearTimeout(this.helloTimer);
    });
    // ws closes the socket itself after a protocol error (1009 for an oversized message); the
    // error event only needs recording.
    ws.on('error', (error: Error & { code?: string }) => {
      const code = error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? ErrorCode.PAYLOAD_TOO_LARGE : ErrorCode.BAD_FRAME;
      this.ctx.metrics.errors.inc({ code });
      this.ctx.log(`connection ${this.remote}: ${code}: ${error.message}`);
    });
    this.helloTimer = setTimeout(() => {
      if (this.helloDone || this.closed) return;
      const code = this.ctx.options.token !== undefined ? ErrorCode.UNAUTHORIZED : ErrorCode.BAD_FRAME;
      this.fail(new CarboncpError(code, `no hello within ${this.ctx.options.helloTimeoutMs} ms of connecting`), 0,
        code === ErrorCode.UNAUTHORIZED ? CloseCode.POLICY_VIOLATION : CloseCode.PROTOCOL_ERROR);
    }, this.ctx.options.helloTimeoutMs);
    this.helloTimer.unref();
  }

  get open(): boolean {
    return !this.closed && this.ws.readyState === this.ws.OPEN;
  }

  /** Closes the connection (after a drain, or when the server stops). */
  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.helloTimer);
    this.ws.close(code, closeReason(reason));
  }

  terminate(): void {
    this.closed = true;
    this.ws.terminate();
  }

  whenClosed(): Promise<void> {
    if (this.ws.readyState === this.ws.CLOSED) return Promise.resolve();
    return new Promise((resolve) => this.ws.once('close', () => resolve()));
  }

  sendResponse(requestId: number, outputs: WireTensor[], job: InferJob, parameters: Record<string, unknown>): void {
    this.pending.delete(requestId);
    this.send({
      type: MessageType.InferResponse,
      requestId,
      body: {
        ...(job.bodyId === undefined ? {} : { id: job.bodyId }),
        model_name: job.model.name,
        plan_id: job.plan.id,
        outputs,
        parameters: parameters as { server_ms: number; queue_ms: number; batch_size: number; execution_provider: string },
      },
    });
  }

  sendError(requestId: number, code: string, message: string): void {
    this.pending.delete(requestId);
    this.ctx.metrics.errors.inc({ code });
    this.send({
      type: MessageType.Error,
      requestId,
      body: { code, message, ...(requestId === 0 ? {} : { request_id: requestId }) },
    });
  }

  private send(message: Message): void {
    if (!this.open) return;
    // Checked before sending, so that one answer of any size always goes out: only a backlog
    // the client left unread counts against it.
    const backlog = this.ws.bufferedAmount;
    if (backlog > this.ctx.options.maxBufferedBytes) {
      this.ctx.metrics.errors.inc({ code: ErrorCode.BUSY });
      this.ctx.log(
        `connection ${this.remote}: the client does not read its answers: ${backlog} bytes wait to be sent, over max-buffered-bytes ` +
          `${this.ctx.options.maxBufferedBytes}; dropping the connection`,
      );
      this.terminate();
      return;
    }
    let parts: Uint8Array[];
    try {
      // Parts, not one buffer: tail outputs go out without being copied into a frame.
      parts = encodeFrameParts(message);
    } catch (error) {
      // Only a tail output the wire cannot carry gets here; the client still needs an answer.
      if (message.type === MessageType.Error) throw error;
      const detail = (error as Error).message;
      this.sendError(message.requestId, ErrorCode.INTERNAL, `the response could not be encoded: ${detail}`);
      return;
    }
    this.ctx.metrics.bytesSent.inc(parts.reduce((sum, part) => sum + part.byteLength, 0));
    // Corked, the fragments leave in one write (ws 8 keeps the net.Socket in _socket).
    sendFrameParts(this.ws, parts, (this.ws as unknown as { _socket?: CorkableStream })._socket);
  }

  /** Error frame, then close: for errors that leave the connection unusable. */
  private fail(error: CarboncpError, requestId: number, closeCode: number): void {
    this.ctx.log(`connection ${this.remote}: ${error.code}: ${error.message} (closing with ${closeCode})`);
    this.sendError(requestId, error.code, error.message);
    this.close(closeCode, `${error.code}: ${error.message}`);
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    const fragments = Array.isArray(data) ? data : [rawBytes(data)];
    this.ctx.metrics.bytesReceived.inc(fragments.reduce((sum, fragment) => sum + fragment.byteLength, 0));
    if (!isBinary) {
      this.fail(new CarboncpError(ErrorCode.BAD_FRAME, 'received a text message; carboncp frames are binary WebSocket messages'), 0, CloseCode.PROTOCOL_ERROR);
      return;
    }
    let message: Message;
    try {
      message = decodeFrameFragments(fragments, { maxPayload: this.ctx.options.maxPayload });
    } catch (error) {
      this.onUndecodable(error, concatParts(fragments));
      return;
    }
    try {
      this.dispatch(message);
    } catch (error) {
      // A bug here must cost one request, not the process.
      const wrapped = isCarboncpError(error) ? error : new CarboncpError(ErrorCode.INTERNAL, (error as Error)?.message ?? String(error), { cause: error });
      if (message.type === MessageType.InferRequest && message.requestId !== 0) {
        this.sendError(message.requestId, wrapped.code, wrapped.message);
      } else {
        this.fail(wrapped, 0, CloseCode.INTERNAL_ERROR);
      }
    }
  }

  private onUndecodable(error: unknown, bytes: Uint8Array): void {
    const failure = isCarboncpError(error)
      ? error
      : new CarboncpError(ErrorCode.BAD_FRAME, `frame could not be decoded: ${(error as Error)?.message ?? String(error)}`);
    // The decoder refuses an oversized frame before reading its header; the id is still there.
    const peeked = peekFixedHeader(bytes);
    const requestId = typeof failure.details?.requestId === 'number' ? failure.details.requestId : (peeked?.requestId ?? 0);
    const type = failure.details?.type ?? peeked?.type;
    const perRequest =
      this.helloDone &&
      requestId !== 0 &&
      type === MessageType.InferRequest &&
      (failure.code === ErrorCode.BAD_FRAME || failure.code === ErrorCode.BAD_TENSOR);
    if (perRequest) {
      this.sendError(requestId, failure.code, failure.message);
      return;
    }
    this.fail(failure, requestId, failure.closeCode ?? CloseCode.PROTOCOL_ERROR);
  }

  private dispatch(message: Message): void {
    switch (message.type) {
      case MessageType.Hello:
        this.onHello(message.body);
        return;
      case MessageType.InferRequest:
        if (!this.requireHello('an infer request')) return;
        this.onInfer(message.requestId, message.body);
        return;
      case MessageType.Ping:
        if (!this.requireHello('a ping')) return;
        this.onPing(message.body, message.requestId);
        return;
      default:
        this.fail(
          new CarboncpError(ErrorCode.BAD_FRAME, `a server does not accept ${MessageType[message.type]} messages from clients`),
          message.requestId,
          CloseCode.PROTOCOL_ERROR,
        );
    }
  }

  private requireHello(what: string): boolean {
    if (this.helloDone) return true;
    if (this.ctx.options.token !== undefined) {
      this.fail(new CarboncpError(ErrorCode.UNAUTHORIZED, `${what} arrived before the hello; this server requires a token in the hello`), 0, CloseCode.POLICY_VIOLATION);
    } else {
      this.fail(new CarboncpError(ErrorCode.BAD_FRAME, `${what} arrived before the hello; send a Hello message first`), 0, CloseCode.PROTOCOL_ERROR);
    }
    return false;
  }

  private onHello(hello: HelloMessage): void {
    if (hello.protocol_version !== PROTOCOL_VERSION) {
      this.fail(
        new CarboncpError(ErrorCode.UNSUPPORTED_VERSION, `hello asks for protocol version ${String(hello.protocol_version)}; this server speaks version ${PROTOCOL_VERSION}`),
        0,
        CloseCode.PROTOCOL_ERROR,
      );
      return;
    }
    if (this.ctx.shuttingDown()) {
      this.fail(
        new CarboncpError(ErrorCode.SHUTTING_DOWN, 'the server is shutting down and accepts no new clients; reconnect to another server or retry later'),
        0,
        CloseCode.GOING_AWAY,
      );
      return;
    }
    const expected = this.ctx.options.token;
    if (expected !== undefined) {
      const given = hello.token;
      if (typeof given !== 'string' || given.length === 0) {
        this.fail(new CarboncpError(ErrorCode.UNAUTHORIZED, 'this server requires a token, and the hello carries none'), 0, CloseCode.POLICY_VIOLATION);
        return;
      }
      // Comparing digests keeps the comparison constant-time whatever the token lengths.
      if (!timingSafeEqual(sha256(given), sha256(expected))) {
        this.fail(new CarboncpError(ErrorCode.UNAUTHORIZED, 'the token in the hello is wrong'), 0, CloseCode.POLICY_VIOLATION);
        return;
      }
    }
    this.helloDone = true;
    clearTimeout(this.helloTimer);
    const models: ModelRef[] = [...this.ctx.models.values()].map((model) => ({
      name: model.name,
      digest: model.loaded.digest,
      plans: [...model.servable.values()].map((plan) => ({ id: plan.id, digest: plan.digest })),
    }));
    this.send({
      type: MessageType.HelloAck,
      requestId: 0,
      body: {
        protocol_version: PROTOCOL_VERSION,
        server: `${SERVER_NAME}-server/${SERVER_VERSION}`,
        execution_provider: this.ctx.executionProvider(),
        models,
        limits: { max_payload: this.ctx.options.maxPayload, max_queue: this.ctx.options.maxQueue },
      },
    });
  }

  private onPing(ping: PingMessage, requestId: number): void {
    const carbon = this.ctx.options.carbonIntensity;
    this.send({
      type: MessageType.Pong,
      requestId,
      body: {
        t: ping.t,
        queue_depth: this.ctx.queue.depth,
        in_flight: this.ctx.queue.inFlight,
        tail_ms: this.tailMedians(),
        ...(carbon === undefined ? {} : { carbon_intensity: { value_g_per_kwh: carbon.value_g_per_kwh, source: carbon.source } }),
      },
    });
  }

  /**
   * p50 tail latency keyed `model/plan`; with a single model, also keyed by the bare plan id,
   * which is unambiguous then and is what a one-model client looks up.
   */
  private tailMedians(): Record<string, number> {
    const medians = this.ctx.latency.medians();
    if (this.ctx.models.size !== 1) return medians;
    const out: Record<string, number> = { ...medians };
    for (const [key, value] of Object.entries(medians)) out[key.slice(key.indexOf('/') + 1)] = value;
    return out;
  }

  private onInfer(requestId: number, request: InferRequestMessage): void {
    const reject = (code: string, message: string) => this.sendError(requestId, code, message);
    if (requestId === 0) {
      reject(ErrorCode.BAD_FRAME, 'an infer request needs a non-zero request id in the frame header, to match its response');
      return;
    }
    if (this.pending.has(requestId)) {
      // An answer under this id would be taken for the first request's: refuse at connection
      // level (request id 0, no request_id), and the first request is still answered once.
      this.sendError(
        0,
        ErrorCode.BAD_FRAME,
        `request id ${requestId} is already in flight on this connection; this second request was dropped ` +
          '(the first one will still be answered); use a new request id for every request in flight',
      );
      return;
    }
    if (this.ctx.shuttingDown()) {
      reject(ErrorCode.SHUTTING_DOWN, 'the server is shutting down and accepts no new requests; reconnect to another server or retry later');
      return;
    }
    // pending holds this connection's requests waiting or running: its share of the queue.
    const share = this.ctx.options.maxQueuePerConnection;
    if (this.pending.size >= share) {
      reject(
        ErrorCode.BUSY,
        `this connection has ${this.pending.size} requests queued or running, its limit (max-queue-per-connection ${share}); ` +
          'wait for answers before sending more, or retry later',
      );
      return;
    }
    const model = this.ctx.models.get(request.model_name);
    if (!model) {
      reject(ErrorCode.UNKNOWN_MODEL, `unknown model ${quoted(request.model_name)}; this server has ${quotedList([...this.ctx.models.keys()], 32)}`);
      return;
    }
    if (request.model_digest !== model.loaded.digest) {
      reject(
        ErrorCode.DIGEST_MISMATCH,
        `model '${model.name}': the request's model digest ${short(String(request.model_digest))} differs from the server's ${short(model.loaded.digest)}; both sides must load the same model file`,
      );
      return;
    }
    const plan = model.servable.get(request.plan_id);
    if (!plan) {
      const onDevice = model.partition.plans.some((p) => p.id === request.plan_id);
      const ids = [...model.servable.keys()];
      const listed = ids.length > 12 ? `${ids.slice(0, 6).join(', ')}, ..., ${ids.slice(-3).join(', ')}` : ids.join(', ');
      reject(
        ErrorCode.UNKNOWN_PLAN,
        onDevice
          ? `plan ${quoted(request.plan_id)} of model '${model.name}' runs entirely on the device; there is no tail to serve`
          : `model '${model.name}' has no plan ${quoted(request.plan_id)}; the server runs ${listed}`,
      );
      return;
    }
    if (request.plan_digest !== plan.digest) {
      reject(
        ErrorCode.DIGEST_MISMATCH,
        `plan '${plan.id}' of model '${model.name}': the request's plan digest ${short(String(request.plan_digest))} differs from the server's ${short(plan.digest)}; the two sides cut the model differently`,
      );
      return;
    }
    let inputs: WireTensor[];
    try {
      inputs = checkCrossingInputs(plan.crossing, request.inputs);
    } catch (error) {
      const failure = isCarboncpError(error) ? error : new CarboncpError(ErrorCode.BAD_TENSOR, String(error));
      reject(failure.code, `model '${model.name}' plan '${plan.id}': ${failure.message}`);
      return;
    }
    const planKey = `${model.name}/${plan.id}`;
    const batch = this.ctx.options.batching && this.ctx.isBatchable(model, plan) ? batchKeyOf(planKey, inputs) : null;
    const timeout = request.parameters?.timeout_ms;
    const job: InferJob = {
      batchKey: batch?.key ?? null,
      samples: batch?.samples ?? 1,
      enqueuedAt: performance.now(),
      replier: this,
      requestId,
      bodyId: typeof request.id === 'string' ? request.id : undefined,
      model,
      plan,
      planKey,
      inputs,
      receivedAt: performance.now(),
      timeoutMs: typeof timeout === 'number' && Number.isFinite(timeout) && timeout > 0 ? timeout : undefined,
    };
    this.pending.add(requestId);
    try {
      this.ctx.queue.submit(job);
    } catch (error) {
      // reject() below forgets the id again.
      if (!isCarboncpError(error)) throw error;
      reject(error.code, error.message);
    }
  }
}
