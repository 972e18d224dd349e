import type { SymbolBindings } from '@carboncp/core';
import {
  CarboncpError,
  ErrorCode,
  MessageType,
  encodeFrameParts,
  type Compression,
  type HelloAckMessage,
  type InferResponseMessage,
  type Message,
} from '@carboncp/protocol';
import type { Clock } from './clock.js';
import type { Connection } from './connection.js';
import { remotePlanStatus } from './plan-check.js';
import type { RequestTimeline } from './request-timeline.js';
import { RequestTable } from './request-table.js';
import { checkServerOutputs } from './tensor-checks.js';
import type { ClientPlan, Runtime, RuntimeTensor, ServerEnergy, SplitModel } from './types.js';
import { fromWire, toWire } from './wire-tensors.js';

interface Reply {
  body: InferResponseMessage;
  bytes: number;
}

export type RemoteOutcome<T> = { ok: true; outputs: Record<string, T> } | { ok: false; error: CarboncpError };

// Answers that say the server will not run this plan for this client until it reconnects.
const SERVER_PLAN_ERRORS: ReadonlySet<string> = new Set([ErrorCode.DIGEST_MISMATCH, ErrorCode.UNKNOWN_PLAN, ErrorCode.UNKNOWN_MODEL]);

/**
 * Tails run on the server: which plans the server may be asked for (from its hello answer), the
 * requests in flight by wire id, and one request's trip: encode, send, await exactly one
 * settlement (response, error frame, timeout, dropped connection), decode and check the answer.
 */
export class RemoteTails<T extends RuntimeTensor, P extends ClientPlan> {
  timeouts = 0;
  private readonly table: RequestTable<Reply>;
  private remote = new Map<string, CarboncpError | null>();
  private maxPayload = Infinity;

  constructor(
    private readonly model: SplitModel<P>,
    private readonly runtime: Runtime<T>,
    private readonly connection: () => Connection,
    clock: Clock,
  ) {
    this.table = new RequestTable<Reply>({ clock });
  }

  /** Responses that came after their request had settled. */
  get late(): number {
    return this.table.late;
  }

  /** A hello answer: which plans the server serves with the same digests, and its frame limit. */
  opened(ack: HelloAckMessage): void {
    this.remote = remotePlanStatus(this.model, ack);
    const limit = ack.limits?.max_payload;
    this.maxPayload = typeof limit === 'number' && limit > 0 ? limit : Infinity;
  }

  /** The connection went away (or the client closed): every request in flight settles with `error`. */
  failAll(error: CarboncpError, forgetServer = true): void {
    if (forgetServer) this.remote = new Map();
    this.table.failAll(error);
  }

  /** A request-level frame from the server. */
  received(message: Message, bytes: number): void {
    if (message.type === MessageType.InferResponse) {
      this.table.finish(message.requestId, { ok: true, value: { body: message.body, bytes } });
    } else if (message.type === MessageType.Error) {
      this.table.finish(message.requestId, { ok: false, error: new CarboncpError(message.body.code, `server: ${message.body.message}`) });
    }
  }

  /** Why a plan's tail cannot run on the server now, or null when it can. */
  unusable(plan: P): CarboncpError | null {
    if (plan.kind === 'device') return null;
    const connection = this.connection();
    if (connection.state !== 'open') {
      return new CarboncpError(
        ErrorCode.NOT_READY,
        'not connected to the server' + (connection.lastError ? ` (${connection.lastError.code}: ${connection.lastError.message})` : ''),
      );
    }
    return this.remote.get(plan.id) ?? null;
  }

  /**
   * One trip to the server. The timeline's round trip spans from just before encoding to the
   * answer decoded and checked (or the failure known); bytes go into its telemetry.
   */
  async call(
    plan: P,
    crossing: Record<string, T>,
    inputSymbols: SymbolBindings,
    compression: Compression,
    timeoutMs: number,
    timeline: RequestTimeline,
  ): Promise<RemoteOutcome<T>> {
    const outcome = await this.trip(plan, crossing, inputSymbols, compression, timeoutMs, timeline);
    if (!outcome.ok) {
      if (outcome.error.code === ErrorCode.TIMEOUT) this.timeouts += 1;
      if (SERVER_PLAN_ERRORS.has(outcome.error.code)) this.remote.set(plan.id, outcome.error);
    }
    return outcome;
  }

  private async trip(
    plan: P,
    crossing: Record<string, T>,
    inputSymbols: SymbolBindings,
    compression: Compression,
    timeoutMs: number,
    timeline: RequestTimeline,
  ): Promise<RemoteOutcome<T>> {
    const { telemetry } = timeline;
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
      return failed(await settled, timeline);
    }
    const frameBytes = frame.reduce((sum, part) => sum + part.byteLength, 0);
    const connection = this.connection();
    if (frameBytes > this.maxPayload) {
      this.table.finish(id, {
        ok: false,
        error: new CarboncpError(ErrorCode.PAYLOAD_TOO_LARGE, `request of ${frameBytes} bytes exceeds the server's limit of ${this.maxPayload} bytes`),
      });
    } else if (connection.send(frame)) {
      telemetry.bytesUp = frameBytes;
    } else {
      this.table.finish(id, {
        ok: false,
        error: connection.lastError ?? new CarboncpError(ErrorCode.NOT_READY, 'not connected to the server'),
      });
    }
    const result = await settled;
    if (!result.ok) return failed(result, timeline);
    const reply = result.value;
    telemetry.bytesDown = reply.bytes;
    const server = { serverMs: reply.body.parameters?.server_ms, queueMs: reply.body.parameters?.queue_ms };
    // The server ran the tail whatever the outputs' checks say: its energy is reported either way.
    const energy = serverEnergyOf(reply.body.parameters);
    if (energy) telemetry.serverEnergy = energy;
    try {
      const outputs: Record<string, T> = {};
      for (const wire of reply.body.outputs ?? []) outputs[wire.name] = fromWire(this.runtime, wire);
      checkServerOutputs(plan.id, plan.tailOutputs, this.model.outputs, inputSymbols, outputs, this.runtime);
      timeline.roundTrip(server);
      return { ok: true, outputs };
    } catch (error) {
      timeline.roundTrip(server);
      return { ok: false, error: asCarboncpError(error, ErrorCode.BAD_TENSOR) };
    }
  }
}

/** The energy fields of a response's parameters (validated by the decoder when present); undefined without energy_j. */
export function serverEnergyOf(parameters: InferResponseMessage['parameters'] | undefined): ServerEnergy | undefined {
  if (typeof parameters?.energy_j !== 'number') return undefined;
  const energy: ServerEnergy = {
    energyJ: parameters.energy_j,
    kind: parameters.energy_kind === 'measured' ? 'measured' : 'estimated',
    source: parameters.energy_source ?? 'server (no source given)',
  };
  if (typeof parameters.carbon_g === 'number') energy.carbonG = parameters.carbon_g;
  const intensity = parameters.carbon_intensity;
  if (intensity) energy.intensity = { valueGPerKwh: intensity.value_g_per_kwh, source: intensity.source };
  return energy;
}

function failed(result: { ok: boolean; error?: CarboncpError }, timeline: RequestTimeline): { ok: false; error: CarboncpError } {
  timeline.roundTrip();
  if (result.ok || !result.error) return { ok: false, error: new CarboncpError(ErrorCode.INTERNAL, 'a request that failed to encode was answered') };
  return { ok: false, error: result.error };
}

export function asCarboncpError(error: unknown, code: string): CarboncpError {
  return error instanceof CarboncpError ? error : new CarboncpError(code, (error as Error)?.message ?? String(error), { cause: error });
}
