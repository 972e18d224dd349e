/**
 * One WebSocket client: hello first (connection-handshake.ts), then any number of infer requests
 * in flight, matched by the frame's request id (admitted by connection-admission.ts, answered
 * through connection-sender.ts), and pings. Every bad input is answered with an error that names
 * the problem: an error frame carrying the request id when the request can be identified (the
 * connection stays open: WebSocket keeps message boundaries, so one bad message does not spoil
 * the next), otherwise an error frame and a close with the protocol's close code.
 *
 * Answer-once rule: an admitted request's id stays in flight until its one answer (a response or
 * an error) goes out; nothing else frees it. A frame that reuses an id in flight, decodable or
 * not, is refused at connection level (request id 0), so the first request's answer is the only
 * one under that id.
 */
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
  isCarboncpError,
  type Message,
  type PingMessage,
  type PowerCapWire,
  type WireTensor,
} from '@carboncp/protocol';
import type { RawData, WebSocket } from 'ws';
import { admitInfer, type AdmissionContext } from './connection-admission.js';
import { beforeHello, checkHello, helloAck, noHello, type HandshakeContext, type Refusal } from './connection-handshake.js';
import { FrameSender } from './connection-sender.js';
import type { InferJob, JobReplier } from './infer-job.js';
import type { LatencyWindow } from './latency-window.js';
import type { ServedModel } from './model-registry.js';
import type { ServerMetrics } from './metrics.js';
import type { CarbonIntensity, ResolvedOptions } from './options.js';
import type { RequestQueue } from './request-queue.js';

export interface ConnectionContext {
  options: ResolvedOptions;
  models: ReadonlyMap<string, ServedModel>;
  queue: RequestQueue<InferJob>;
  metrics: ServerMetrics;
  latency: LatencyWindow;
  isBatchable: AdmissionContext['isBatchable'];
  executionProvider: () => string;
  shuttingDown: () => boolean;
  log: (line: string) => void;
  /** The intensity pongs report (the fixed value or the provider's last sample). */
  carbonIntensity: () => CarbonIntensity | undefined;
  /** The GPU power cap pongs report, where the server manages one. */
  powerCap: () => PowerCapWire | undefined;
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
  /** Request ids admitted and not answered yet: the connection's share of the queue. */
  private readonly inFlight = new Set<number>();
  private readonly sender: FrameSender;
  private readonly handshake: HandshakeContext;
  private readonly admission: AdmissionContext;
  private readonly helloTimer: NodeJS.Timeout;
  /** Closes a connection that sends no infer request (idle-timeout-ms); cleared by the first. */
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly ctx: ConnectionContext,
    readonly remote: string,
  ) {
    const options = ctx.options;
    this.sender = new FrameSender(ws, { maxBufferedBytes: options.maxBufferedBytes, metrics: ctx.metrics, log: ctx.log }, remote, () => this.terminate());
    this.handshake = {
      token: options.token,
      maxPayload: options.maxPayload,
      maxQueue: options.maxQueue,
      models: ctx.models,
      executionProvider: ctx.executionProvider,
      shuttingDown: ctx.shuttingDown,
    };
    this.admission = {
      models: ctx.models,
      maxQueuePerConnection: options.maxQueuePerConnection,
      batching: options.batching !== false,
      isBatchable: ctx.isBatchable,
      shuttingDown: ctx.shuttingDown,
    };
    // Fragments, not one joined Buffer: a large tensor sent as a fragment of its own is decoded
    // where ws read it (decodeFrameFragments), not copied into a joined message first.
    ws.binaryType = 'fragments';
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', () => {
      this.closed = true;
      this.clearTimers();
    });
    // ws closes the socket itself after a protocol error (1009 for an oversized message); the
    // error event only needs recording.
    ws.on('error', (error: Error & { code?: string }) => {
      const code = error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? ErrorCode.PAYLOAD_TOO_LARGE : ErrorCode.BAD_FRAME;
      this.ctx.metrics.errors.inc({ code });
      this.ctx.log(`connection ${this.remote}: ${code}: ${error.message}`);
    });
    this.helloTimer = setTimeout(() => {
      if (!this.helloDone && !this.closed) this.fail(noHello(options.helloTimeoutMs, options.token !== undefined));
    }, options.helloTimeoutMs);
    this.helloTimer.unref();
    if (options.idleTimeoutMs > 0) {
      this.idleTimer = setTimeout(() => this.closeIdle(), options.idleTimeoutMs);
      this.idleTimer.unref();
    }
  }

  get open(): boolean {
    return !this.closed && this.ws.readyState === this.ws.OPEN;
  }

  /** Requests admitted on this connection and not answered yet. */
  get requestsInFlight(): number {
    return this.inFlight.size;
  }

  /** Closes the connection (after a drain, or when the server stops). */
  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.clearTimers();
    this.ws.close(code, closeReason(reason));
  }

  terminate(): void {
    this.closed = true;
    this.clearTimers();
    this.ws.terminate();
  }

  whenClosed(): Promise<void> {
    if (this.ws.readyState === this.ws.CLOSED) return Promise.resolve();
    return new Promise((resolve) => this.ws.once('close', () => resolve()));
  }

  /** The answer of an admitted request (JobReplier): sent once, then its id is free again. */
  sendResponse(requestId: number, outputs: WireTensor[], job: InferJob, parameters: Record<string, unknown>): void {
    if (!this.answering(requestId)) return;
    this.sender.send({
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

  /** The error answer of an admitted request (JobReplier). */
  sendError(requestId: number, code: string, message: string): void {
    if (!this.answering(requestId)) return;
    this.sender.sendError(requestId, code, message);
  }

  /** Frees an admitted id for its one answer; false (and logged) for an id not in flight. */
  private answering(requestId: number): boolean {
    if (this.inFlight.delete(requestId)) return true;
    this.ctx.log(`error ${ErrorCode.INTERNAL}: a second answer for request ${requestId} on connection ${this.remote} was not sent`);
    return false;
  }

  private clearTimers(): void {
    clearTimeout(this.helloTimer);
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private closeIdle(): void {
    if (this.closed) return;
    const ms = this.ctx.options.idleTimeoutMs;
    this.ctx.log(`connection ${this.remote}: no infer request within ${ms} ms of connecting (idle-timeout-ms); closing it`);
    this.close(CloseCode.NORMAL, `idle: no infer request within ${ms} ms of connecting`);
  }

  /** Error frame, then close: for errors that leave the connection unusable. */
  private fail({ error, closeCode }: Refusal, requestId = 0): void {
    this.ctx.log(`connection ${this.remote}: ${error.code}: ${error.message} (closing with ${closeCode})`);
    this.sender.sendError(requestId, error.code, error.message);
    this.close(closeCode, `${error.code}: ${error.message}`);
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    const fragments = Array.isArray(data) ? data : [rawBytes(data)];
    this.ctx.metrics.bytesReceived.inc(fragments.reduce((sum, fragment) => sum + fragment.byteLength, 0));
    if (!isBinary) {
      this.fail({
        error: new CarboncpError(ErrorCode.BAD_FRAME, 'received a text message; carboncp frames are binary WebSocket messages'),
        closeCode: CloseCode.PROTOCOL_ERROR,
      });
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
      // A bug here must cost one request, not the process; never an id already in flight.
      const wrapped = isCarboncpError(error) ? error : new CarboncpError(ErrorCode.INTERNAL, (error as Error)?.message ?? String(error), { cause: error });
      const id = message.requestId;
      if (message.type === MessageType.InferRequest && id !== 0 && !this.inFlight.has(id)) {
        this.sender.sendError(id, wrapped.code, wrapped.message);
      } else {
        this.fail({ error: wrapped, closeCode: CloseCode.INTERNAL_ERROR });
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
    if (!perRequest) {
      this.fail({ error: failure, closeCode: failure.closeCode ?? CloseCode.PROTOCOL_ERROR }, requestId);
      return;
    }
    if (this.inFlight.has(requestId)) {
      // An answer under this id would be taken for the admitted request's, and would free its id.
      this.sender.sendError(
        0,
        failure.code,
        `an undecodable frame reused request id ${requestId}, which is in flight on this connection (the first request will still be answered): ${failure.message}`,
      );
      return;
    }
    this.sender.sendError(requestId, failure.code, failure.message);
  }

  private dispatch(message: Message): void {
    switch (message.type) {
      case MessageType.Hello: {
        const refusal = checkHello(message.body, this.handshake);
        if (refusal) {
          this.fail(refusal);
          return;
        }
        this.helloDone = true;
        clearTimeout(this.helloTimer);
        this.sender.send(helloAck(this.handshake));
        return;
      }
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
          {
            error: new CarboncpError(ErrorCode.BAD_FRAME, `a server does not accept ${MessageType[message.type]} messages from clients`),
            closeCode: CloseCode.PROTOCOL_ERROR,
          },
          message.requestId,
        );
    }
  }

  private requireHello(what: string): boolean {
    if (this.helloDone) return true;
    this.fail(beforeHello(what, this.ctx.options.token !== undefined));
    return false;
  }

  private onPing(ping: PingMessage, requestId: number): void {
    const carbon = this.ctx.carbonIntensity();
    const powerCap = this.ctx.powerCap();
    this.sender.send({
      type: MessageType.Pong,
      requestId,
      body: {
        t: ping.t,
        queue_depth: this.ctx.queue.depth,
        in_flight: this.ctx.queue.inFlight,
        tail_ms: this.tailMedians(),
        ...(carbon === undefined ? {} : { carbon_intensity: { value_g_per_kwh: carbon.value_g_per_kwh, source: carbon.source } }),
        ...(powerCap === undefined ? {} : { power_cap: powerCap }),
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

  private onInfer(requestId: number, request: Parameters<typeof admitInfer>[3]): void {
    // Any infer request, admitted or not, shows a client that uses the connection.
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const admission = admitInfer(this.admission, this, requestId, request, this.inFlight);
    if ('rejected' in admission) {
      const { code, message, connectionLevel } = admission.rejected;
      this.sender.sendError(connectionLevel ? 0 : requestId, code, message);
      return;
    }
    this.inFlight.add(requestId);
    try {
      this.ctx.queue.submit(admission.job);
    } catch (error) {
      this.inFlight.delete(requestId);
      if (!isCarboncpError(error)) throw error;
      this.sender.sendError(requestId, error.code, error.message);
    }
  }
}
