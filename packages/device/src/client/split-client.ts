import {
  CarboncpError,
  DEFAULT_MAX_PAYLOAD,
  compressionList,
  isCompression,
  ErrorCode,
  MessageType,
  encodeFrameParts,
  type Compression,
  type HelloAckMessage,
  type InferResponseMessage,
  type Message,
} from '@carboncp/protocol';
import { Connection } from './connection.js';
import { checkInputs } from './input-check.js';
import { checkServerOutputs } from './output-check.js';
import type { PongReceipt } from './ping-tracker.js';
import { describeModel, remotePlanStatus } from './plan-check.js';
import { RequestTable } from './request-table.js';
import { emptyStats, recordRequest } from './stats.js';
import type {
  ClientPlan,
  ClientStats,
  ConnectionState,
  InferOptions,
  InferResult,
  ReconnectOptions,
  RequestTelemetry,
  Runtime,
  RuntimeSession,
  RuntimeTensor,
  ServerContext,
  ServerContextOptions,
  SplitModel,
  Transport,
} from './types.js';
import { fromWire, toWire } from './wire-tensors.js';

export interface SplitClientOptions<T extends RuntimeTensor, P extends ClientPlan> {
  model: SplitModel<P>;
  runtime: Runtime<T>;
  transport: Transport;
  server: string;
  token?: string;
  /** Per request, from send to response; default 10000. */
  timeoutMs?: number;
  /** Cut used when infer() names none; default 'server'. */
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
   * silent; default 15000, 0 disables.
   */
  keepaliveMs?: number;
  /** A keepalive ping unanswered this long drops the connection (requests fail over, reconnect); default keepaliveMs. */
  keepaliveTimeoutMs?: number;
}

interface Reply {
  body: InferResponseMessage;
  bytes: number;
  receivedAt: number;
}

const now = () => performance.now();
const SERVER_PLAN_ERRORS: ReadonlySet<string> = new Set([
  ErrorCode.DIGEST_MISMATCH,
  ErrorCode.UNKNOWN_PLAN,
  ErrorCode.UNKNOWN_MODEL,
]);

/**
 * The platform-neutral device client. It runs the head of the chosen plan on the device,
 * sends the crossing tensors to the server, and merges the tail's outputs with the head's. If
 * the server cannot be used for a request (not connected, digests differ, error, timeout,
 * dropped connection) it runs the tail itself: the device holds both halves of every plan.
 * Every infer() resolves exactly once; a response that arrives after its request gave up on the
 * server is dropped and counted in stats().lateResponses.
 */
export class SplitClient<T extends RuntimeTensor, P extends ClientPlan = ClientPlan> {
  readonly plans: readonly P[];
  private readonly model: SplitModel<P>;
  private readonly runtime: Runtime<T>;
  private readonly connection: Connection;
  private readonly table = new RequestTable<Reply>();
  private readonly sessions = new WeakMap<Uint8Array, Promise<RuntimeSession<T>>>();
  private readonly loaded = new Set<Promise<RuntimeSession<T>>>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly counters: ClientStats = emptyStats();
  private remote = new Map<string, CarboncpError | null>();
  private maxPayload = Infinity;
  private closed = false;
  private closing: Promise<void> | undefined;
  private latestContext: ServerContext | undefined;
  private readonly options: Required<Pick<SplitClientOptions<T, P>, 'timeoutMs' | 'defaultCut' | 'compression'>>;

  private constructor(options: SplitClientOptions<T, P>) {
    this.model = options.model;
    this.plans = options.model.plans;
    this.runtime = options.runtime;
    this.options = {
      timeoutMs: options.timeoutMs ?? 10_000,
      defaultCut: options.defaultCut ?? 'server',
      compression: options.compression ?? 'none',
    };
    checkPositive('timeoutMs', this.options.timeoutMs);
    checkCompression(this.options.compression);
    this.planById(this.options.defaultCut);
    const keepaliveMs = options.keepaliveMs ?? 15_000;
    if (!(typeof keepaliveMs === 'number' && Number.isFinite(keepaliveMs) && keepaliveMs >= 0)) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `keepaliveMs must be 0 (off) or a positive number of milliseconds, got ${String(keepaliveMs)}`);
    }
    const keepaliveTimeoutMs = options.keepaliveTimeoutMs ?? (keepaliveMs > 0 ? keepaliveMs : 15_000);
    checkPositive('keepaliveTimeoutMs', keepaliveTimeoutMs);
    this.connection = new Connection({
      url: options.server,
      transport: options.transport,
      reconnect: options.reconnect ?? { initialMs: 250, maxMs: 10_000 },
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5_000,
      maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
      keepaliveMs,
      keepaliveTimeoutMs,
      hello: () => ({
        protocol_version: 0,
        client: options.clientName ?? '@carboncp/device',
        ...(options.token === undefined ? {} : { token: options.token }),
        models: [describeModel(this.model)],
      }),
      onOpen: (ack) => this.onOpen(ack),
      onMessage: (message, bytes) => this.onMessage(message, bytes),
      onDown: (error) => {
        this.remote = new Map();
        this.counters.disconnects += 1;
        this.table.failAll(error);
      },
      onPong: (receipt) => {
        this.latestContext = this.contextOf(receipt);
      },
    });
  }

  /** Builds the client and makes the first connection attempt (a server that is down is not an error). */
  static async open<T extends RuntimeTensor, P extends ClientPlan>(
    options: SplitClientOptions<T, P>,
  ): Promise<SplitClient<T, P>> {
    const client = new SplitClient(options);
    await client.connection.start();
    return client;
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  /** Resolves when connected to the server; rejects with CARBONCP_NOT_READY after timeoutMs. */
  ready(timeoutMs = 10_000): Promise<void> {
    return this.connection.ready(timeoutMs);
  }

  /** Whether a plan can currently run its tail on the server, and if not, why. */
  remoteStatus(planId: string): { usable: boolean; error?: { code: string; message: string } } {
    const plan = this.planById(planId);
    const error = this.remoteError(plan);
    return error ? { usable: false, error: { code: error.code, message: error.message } } : { usable: true };
  }

  /**
   * Asks the server for its current context (a Ping; the Pong answers): queue depth, requests
   * executing, recent tail latency of this model's plans, carbon intensity, and the round trip
   * measured here. Rejects with CARBONCP_CONNECTION_LOST when not connected (or the connection
   * drops before the answer), CARBONCP_TIMEOUT when no answer comes within timeoutMs (default
   * 5000), CARBONCP_SHUTTING_DOWN on a closed client. A timeout does not drop the connection
   * (keepalive decides that).
   */
  async serverContext(options: ServerContextOptions = {}): Promise<ServerContext> {
    if (this.closed) throw new CarboncpError(ErrorCode.SHUTTING_DOWN, 'serverContext() called on a closed client');
    const timeoutMs = options.timeoutMs ?? 5_000;
    checkPositive('timeoutMs', timeoutMs);
    return this.contextOf(await this.connection.ping(timeoutMs));
  }

  /** The most recent server context, from serverContext() or a keepalive pong; kept across reconnects (see receivedAt). */
  get lastServerContext(): ServerContext | undefined {
    return this.latestContext;
  }

  stats(): ClientStats {
    return { ...this.counters, lateResponses: this.table.late, errors: { ...this.counters.errors } };
  }

  infer(inputs: Record<string, T>, options: InferOptions = {}): Promise<InferResult<T>> {
    const run = this.inferOnce(inputs, options);
    this.inFlight.add(run);
    const forget = () => this.inFlight.delete(run);
    run.then(forget, forget);
    return run;
  }

  /**
   * Stops reconnecting, lets requests in flight finish (locally if need be), then frees the
   * sessions. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.connection.close();
    this.table.failAll(new CarboncpError(ErrorCode.SHUTTING_DOWN, 'the client was closed while the request was in flight'));
    await Promise.allSettled([...this.inFlight]);
    const sessions = await Promise.allSettled([...this.loaded]);
    await Promise.allSettled(
      sessions.flatMap((result) => (result.status === 'fulfilled' ? [result.value.release()] : [])),
    );
  }

  private async inferOnce(inputs: Record<string, T>, options: InferOptions): Promise<InferResult<T>> {
    const started = now();
    if (this.closed) throw new CarboncpError(ErrorCode.SHUTTING_DOWN, 'infer() called on a closed client');
    const plan = this.planById(options.cut ?? this.options.defaultCut);
    const compression = options.compression ?? this.options.compression;
    checkCompression(compression);
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    checkPositive('timeoutMs', timeoutMs);
    checkInputs(this.model.name, this.model.inputs, inputs, this.runtime);

    const telemetry: RequestTelemetry = {
      planId: plan.id,
      path: plan.kind === 'device' ? 'local' : plan.kind === 'split' ? 'split' : 'remote',
      headMs: 0,
      transferMs: 0,
      serverMs: 0,
      queueMs: 0,
      tailLocalMs: 0,
      totalMs: 0,
      bytesUp: 0,
      bytesDown: 0,
      compression: plan.kind === 'device' ? 'none' : compression,
    };
    const finish = (outputs: Record<string, T>): InferResult<T> => {
      telemetry.totalMs = now() - started;
      recordRequest(this.counters, telemetry);
      return { outputs: this.modelOutputs(outputs), telemetry };
    };

    const halves = this.model.halves(plan.id);
    let headOutputs: Record<string, T> = {};
    if (halves.head) {
      const head = await this.session(halves.head, `${plan.id} head`);
      const headStarted = now();
      headOutputs = await head.run(pick(inputs, head.inputNames));
      telemetry.headMs = now() - headStarted;
    }
    if (plan.kind === 'device') return finish(headOutputs);

    const crossing: Record<string, T> = {};
    for (const tensor of plan.crossing) {
      const value = tensor.source === 'input' ? inputs[tensor.name] : headOutputs[tensor.name];
      if (value === undefined) {
        throw new CarboncpError(ErrorCode.INTERNAL, `plan '${plan.id}': the head did not produce crossing tensor '${tensor.name}'`);
      }
      crossing[tensor.name] = value;
    }

    let failure = this.remoteError(plan);
    if (!failure) {
      const outcome = await this.runRemote(plan, inputs, crossing, compression, timeoutMs, telemetry);
      if (outcome.ok) return finish({ ...headOutputs, ...outcome.outputs });
      failure = outcome.error;
    }

    telemetry.path = 'local-fallback';
    telemetry.error = { code: failure.code, message: failure.message };
    if (!halves.tail) throw new CarboncpError(ErrorCode.INTERNAL, `plan '${plan.id}' has no tail to run locally`);
    const tail = await this.session(halves.tail, `${plan.id} tail`);
    const tailStarted = now();
    const tailOutputs = await tail.run(pick(crossing, tail.inputNames));
    telemetry.tailLocalMs = now() - tailStarted;
    return finish({ ...headOutputs, ...tailOutputs });
  }

  private async runRemote(
    plan: P,
    inputs: Record<string, T>,
    crossing: Record<string, T>,
    compression: Compression,
    timeoutMs: number,
    telemetry: RequestTelemetry,
  ): Promise<{ ok: true; outputs: Record<string, T> } | { ok: false; error: CarboncpError }> {
    const sendStarted = now();
    const { id, settled } = this.table.open(timeoutMs);
    // Parts, not one buffer: the tensors are not copied into a frame (the transport sends the
    // parts as one message).
    let frame: Uint8Array[];
    try {
      frame = encodeFrameParts({
        type: MessageType.InferRequest,
        requestId: id,
        body: {
          id: String(id),
          model_name: this.model.name,
          plan_id: plan.id,
          plan_digest: plan.digest,
          model_digest: this.model.digest,
          inputs: Object.entries(crossing).map(([name, tensor]) => toWire(this.runtime, name, tensor, compression)),
          outputs: plan.tailOutputs.map((name) => ({ name })),
          parameters: { compression, timeout_ms: timeoutMs },
        },
      });
    } catch (error) {
      this.table.finish(id, { ok: false, error: asCarboncpError(error, ErrorCode.BAD_TENSOR) });
      return settledToOutcome(await settled);
    }
    const frameBytes = frame.reduce((sum, part) => sum + part.byteLength, 0);
    if (frameBytes > this.maxPayload) {
      this.table.finish(id, {
        ok: false,
        error: new CarboncpError(
          ErrorCode.PAYLOAD_TOO_LARGE,
          `request of ${frameBytes} bytes exceeds the server's limit of ${this.maxPayload} bytes`,
        ),
      });
    } else if (this.connection.send(frame)) {
      telemetry.bytesUp = frameBytes;
    } else {
      this.table.finish(id, {
        ok: false,
        error: this.connection.lastError ?? new CarboncpError(ErrorCode.NOT_READY, 'not connected to the server'),
      });
    }
    const result = await settled;
    if (!result.ok) {
      telemetry.transferMs = now() - sendStarted;
      if (result.error.code === ErrorCode.TIMEOUT) this.counters.timeouts += 1;
      if (SERVER_PLAN_ERRORS.has(result.error.code)) this.remote.set(plan.id, result.error);
      return result;
    }
    const reply = result.value;
    const roundTrip = reply.receivedAt - sendStarted;
    telemetry.bytesDown = reply.bytes;
    telemetry.serverMs = finiteOr0(reply.body.parameters?.server_ms);
    telemetry.queueMs = finiteOr0(reply.body.parameters?.queue_ms);
    telemetry.transferMs = Math.max(0, roundTrip - telemetry.serverMs - telemetry.queueMs);
    try {
      const outputs: Record<string, T> = {};
      for (const wire of reply.body.outputs ?? []) outputs[wire.name] = fromWire(this.runtime, wire);
      checkServerOutputs(plan.id, plan.tailOutputs, this.model, inputs, outputs, this.runtime);
      return { ok: true, outputs };
    } catch (error) {
      return { ok: false, error: asCarboncpError(error, ErrorCode.BAD_TENSOR) };
    }
  }

  private onOpen(ack: HelloAckMessage): void {
    this.counters.connects += 1;
    this.remote = remotePlanStatus(this.model, ack);
    const limit = ack.limits?.max_payload;
    this.maxPayload = typeof limit === 'number' && limit > 0 ? limit : Infinity;
  }

  private onMessage(message: Message, bytes: number): void {
    const receivedAt = now();
    if (message.type === MessageType.InferResponse) {
      this.table.finish(message.requestId, { ok: true, value: { body: message.body, bytes, receivedAt } });
    } else if (message.type === MessageType.Error) {
      this.table.finish(message.requestId, {
        ok: false,
        error: new CarboncpError(message.body.code, `server: ${message.body.message}`),
      });
    }
  }

  private contextOf({ pong, rttMs, receivedAt }: PongReceipt): ServerContext {
    const context: ServerContext = {
      queueDepth: pong.queue_depth,
      inFlight: pong.in_flight,
      tailMs: this.tailMsOfModel(pong.tail_ms ?? {}),
      rttMs,
      receivedAt,
    };
    const carbon = pong.carbon_intensity;
    if (carbon) context.carbonIntensity = { valueGPerKwh: carbon.value_g_per_kwh, source: carbon.source };
    return context;
  }

  /**
   * The server keys tail latencies 'model/plan', and by bare plan id too when it serves a single
   * model. Bare ids are used only when no key names a model, since with keys of another model
   * they would be that model's plans.
   */
  private tailMsOfModel(tailMs: Record<string, number>): Record<string, number> {
    const prefix = `${this.model.name}/`;
    const keys = Object.keys(tailMs);
    const bareUsable = keys.every((key) => !key.includes('/'));
    const out: Record<string, number> = {};
    for (const plan of this.plans) {
      const value = tailMs[prefix + plan.id] ?? (bareUsable ? tailMs[plan.id] : undefined);
      if (typeof value === 'number' && Number.isFinite(value)) out[plan.id] = value;
    }
    return out;
  }

  private remoteError(plan: P): CarboncpError | null {
    if (plan.kind === 'device') return null;
    if (this.connection.state !== 'open') {
      return new CarboncpError(
        ErrorCode.NOT_READY,
        'not connected to the server' +
          (this.connection.lastError ? ` (${this.connection.lastError.code}: ${this.connection.lastError.message})` : ''),
      );
    }
    return this.remote.get(plan.id) ?? null;
  }

  private planById(id: string): P {
    const plan = this.plans.find((candidate) => candidate.id === id);
    if (!plan) {
      throw new CarboncpError(
        ErrorCode.UNKNOWN_PLAN,
        `model '${this.model.name}' has no plan '${id}'; valid cuts: ${this.plans.map((p) => p.id).join(', ')}`,
      );
    }
    return plan;
  }

  private session(bytes: Uint8Array, label: string): Promise<RuntimeSession<T>> {
    let session = this.sessions.get(bytes);
    if (!session) {
      session = this.runtime.load(bytes, `${this.model.name} ${label}`);
      this.sessions.set(bytes, session);
      this.loaded.add(session);
      // A failed load is retried next time rather than cached.
      session.catch(() => {
        this.sessions.delete(bytes);
        this.loaded.delete(session as Promise<RuntimeSession<T>>);
      });
    }
    return session;
  }

  private modelOutputs(all: Record<string, T>): Record<string, T> {
    const outputs: Record<string, T> = {};
    for (const info of this.model.outputs) {
      const value = all[info.name];
      if (value === undefined) {
        throw new CarboncpError(ErrorCode.INTERNAL, `model output '${info.name}' was produced by neither half`);
      }
      outputs[info.name] = value;
    }
    return outputs;
  }
}

function pick<T>(values: Record<string, T>, names: readonly string[]): Record<string, T> {
  const picked: Record<string, T> = {};
  for (const name of names) {
    const value = values[name];
    if (value === undefined) throw new CarboncpError(ErrorCode.INTERNAL, `no value for session input '${name}'`);
    picked[name] = value;
  }
  return picked;
}

function settledToOutcome<R>(
  result: { ok: true; value: R } | { ok: false; error: CarboncpError },
): { ok: false; error: CarboncpError } {
  if (result.ok) throw new CarboncpError(ErrorCode.INTERNAL, 'a request that failed to encode was answered');
  return result;
}

function asCarboncpError(error: unknown, code: string): CarboncpError {
  return error instanceof CarboncpError ? error : new CarboncpError(code, (error as Error)?.message ?? String(error), { cause: error });
}

function finiteOr0(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function checkPositive(name: string, value: number): void {
  if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${name} must be a positive number of milliseconds, got ${String(value)}`);
  }
}

function checkCompression(value: unknown): asserts value is Compression {
  if (!isCompression(value)) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `compression must be ${compressionList()}, got ${JSON.stringify(value)}`);
  }
}
