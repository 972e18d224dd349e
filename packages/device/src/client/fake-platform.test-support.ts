// In-memory Runtime and Transport for the client's unit tests: a "model" is a JSON list of
// elementwise steps, and the fake server speaks the real wire format (encodeFrame/decodeFrame).
import {
  CarboncpError,
  MessageType,
  decodeFrame,
  decompressTensor,
  encodeFrame,
  tensorFromArray,
  tensorToArray,
  ELEMENT_TYPES,
  type DataType,
  type HelloAckMessage,
  type InferRequestMessage,
  type Message,
  type PongMessage,
  type WireTensor,
} from '@carboncp/protocol';
import { seededUniform, type ModelFamily } from '@carboncp/core';
import type { Clock, ManualClock } from './clock.js';
import type {
  ClientPlan,
  Runtime,
  RuntimeSession,
  SplitModel,
  TensorData,
  Transport,
  TransportConnection,
  TransportHandlers,
} from './types.js';

export interface FakeTensor {
  type: string;
  dims: readonly number[];
  data: TensorData;
}

interface Step {
  out: string;
  from: string;
  op: 'add' | 'mul';
  k: number;
}
interface FakeGraph {
  inputs: string[];
  outputs: string[];
  steps: Step[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const graphBytes = (graph: FakeGraph) => encoder.encode(JSON.stringify(graph));

const TYPE_OF = Object.fromEntries(ELEMENT_TYPES.filter((type) => type.wire).map((type) => [type.ort, type.dtype])) as Record<string, DataType>;
const NAME_OF = Object.fromEntries(Object.entries(TYPE_OF).map(([k, v]) => [v, k])) as Record<DataType, string>;

/**
 * `timing`: each run keeps the (manual) clock busy for `busyMs` and reports `computeMs` of it as
 * computation through runTimed, the rest being the wait a real runtime has behind other runs.
 */
export class FakeRuntime implements Runtime<FakeTensor> {
  loads = 0;
  constructor(private readonly timing?: { clock: ManualClock; busyMs: number; computeMs: number }) {}
  async load(bytes: Uint8Array): Promise<RuntimeSession<FakeTensor>> {
    this.loads += 1;
    const graph = JSON.parse(decoder.decode(bytes)) as FakeGraph;
    const timing = this.timing;
    return {
      inputNames: graph.inputs,
      outputNames: graph.outputs,
      run: async (feeds) => runGraph(graph, feeds),
      ...(timing
        ? {
            runTimed: async (feeds: Record<string, FakeTensor>) => {
              timing.clock.busy(timing.busyMs);
              return { outputs: runGraph(graph, feeds), computeMs: timing.computeMs };
            },
          }
        : {}),
      release: async () => {},
    };
  }
  tensor(datatype: DataType, data: TensorData, dims: number[]): FakeTensor {
    return { type: NAME_OF[datatype], dims, data };
  }
  describe(tensor: FakeTensor): { datatype: DataType; data: TensorData } {
    const datatype = TYPE_OF[tensor?.type];
    if (!datatype) throw new Error(`unsupported tensor type '${tensor?.type}'`);
    return { datatype, data: tensor.data };
  }
}

function runGraph(graph: FakeGraph, feeds: Record<string, FakeTensor>): Record<string, FakeTensor> {
  const values = new Map<string, FakeTensor>(Object.entries(feeds));
  for (const step of graph.steps) {
    const input = values.get(step.from);
    if (!input) throw new Error(`fake graph: no value '${step.from}'`);
    const src = input.data as Float32Array;
    const out = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = step.op === 'add' ? src[i] + step.k : src[i] * step.k;
    values.set(step.out, { type: 'float32', dims: input.dims, data: out });
  }
  return Object.fromEntries(graph.outputs.map((name) => [name, values.get(name) as FakeTensor]));
}

/** y = (x + 1) * 3 with plans 'server', 'split-1' (head: h = x + 1) and 'device'. */
export function fakeModel(digest = 'a'.repeat(64)): SplitModel<ClientPlan> & { local(x: Float32Array): Float32Array } {
  const full = graphBytes({ inputs: ['x'], outputs: ['y'], steps: [{ out: 'h', from: 'x', op: 'add', k: 1 }, { out: 'y', from: 'h', op: 'mul', k: 3 }] });
  const head = graphBytes({ inputs: ['x'], outputs: ['h'], steps: [{ out: 'h', from: 'x', op: 'add', k: 1 }] });
  const tail = graphBytes({ inputs: ['h'], outputs: ['y'], steps: [{ out: 'y', from: 'h', op: 'mul', k: 3 }] });
  const plans: ClientPlan[] = [
    { id: 'server', kind: 'server', crossing: [{ name: 'x', source: 'input' }], headOutputs: [], tailOutputs: ['y'], digest: `${digest}-server` },
    { id: 'split-1', kind: 'split', crossing: [{ name: 'h', source: 'head' }], headOutputs: [], tailOutputs: ['y'], digest: `${digest}-split-1` },
    { id: 'device', kind: 'device', crossing: [], headOutputs: ['y'], tailOutputs: [], digest: `${digest}-device` },
  ];
  return {
    name: 'fake',
    digest,
    inputs: [{ name: 'x', dtype: 'FP32', shape: ['N', 4] }],
    outputs: [{ name: 'y', dtype: 'FP32', shape: ['N', 4] }],
    plans,
    halves(planId) {
      if (planId === 'server') return { head: null, tail: full };
      if (planId === 'split-1') return { head, tail };
      return { head: full, tail: null };
    },
    local: (x) => x.map((v) => (v + 1) * 3),
  };
}

/** What a faulty server puts in its answer instead of the tail's outputs. */
export type OutputTamper = (outputs: WireTensor[]) => WireTensor[];

export type ServerBehaviour =
  | { kind: 'answer'; delayMs?: number; scale?: number; tamper?: OutputTamper; parameters?: Record<string, unknown> }
  | { kind: 'error'; code: string }
  | { kind: 'silent' };

/**
 * A fake server behind an in-memory transport. It runs the model's tails with FakeRuntime and
 * can be told to delay, refuse, stay silent, drop every connection, or refuse connections. It
 * answers pings with `pongContext(n)` for the n-th ping (from 1) after `pongDelayMs(n)`, echoing
 * the ping's request id or, like a server that answers pings at connection level, request id 0;
 * or not at all (`pong: 'silent'`).
 */
export class FakeServer implements Transport {
  behaviour: ServerBehaviour = { kind: 'answer' };
  /** Overrides the hello answer's model list (digest mismatch tests). */
  ackModels: HelloAckMessage['models'] | undefined;
  refuse: 'down' | 'unauthorized' | undefined;
  readonly requests: InferRequestMessage[] = [];
  pong: 'answer' | 'silent' = 'answer';
  pongRequestId: 'echo' | 'zero' = 'echo';
  pongDelayMs: (n: number) => number = () => 0;
  pongContext: (n: number) => Omit<PongMessage, 't'> = () => ({ queue_depth: 0, in_flight: 0, tail_ms: {} });
  readonly pings: { requestId: number; t: number }[] = [];
  connects = 0;
  terminations = 0;
  private readonly open = new Set<TransportHandlers>();
  private readonly runtime = new FakeRuntime();

  /** `clock`: whose timers delay answers (behaviour.delayMs, pongDelayMs); default the platform's. */
  constructor(
    private readonly model: SplitModel<ClientPlan>,
    private readonly clock?: Clock,
  ) {}

  private later(callback: () => void, delayMs: number): void {
    // An answer without delay still arrives in a later event-loop turn, as over a socket.
    if (this.clock && delayMs > 0) this.clock.setTimeout(callback, delayMs);
    else setTimeout(callback, delayMs);
  }

  async connect(_url: string, handlers: TransportHandlers): Promise<TransportConnection> {
    if (this.refuse === 'down') throw new CarboncpError('CARBONCP_CONNECTION_LOST', 'connect ECONNREFUSED (fake)');
    this.connects += 1;
    this.open.add(handlers);
    let closed = false;
    const close = (code: number, reason: string) => {
      if (closed) return;
      closed = true;
      this.open.delete(handlers);
      setTimeout(() => handlers.close(code, reason), 0);
    };
    const reply = (message: Message, delayMs = 0) => this.later(() => !closed && handlers.message(encodeFrame(message)), delayMs);
    return {
      send: (bytes) => {
        if (closed) throw new Error('socket closed');
        // Copy into an odd offset, as ws may hand frames over at any offset.
        const shifted = new Uint8Array(bytes.byteLength + 1).subarray(1);
        shifted.set(bytes);
        void this.handle(decodeFrame(shifted), reply, close);
      },
      close: (code = 1000, reason = '') => close(code, reason),
      terminate: () => {
        this.terminations += 1;
        close(1006, '');
      },
    };
  }

  /** Sends a frame to every open connection, unasked (a response for an id nobody sent, ...). */
  broadcast(message: Message): void {
    for (const handlers of this.open) handlers.message(encodeFrame(message));
  }

  /** Closes every open connection abruptly (as a killed server would). */
  dropAll(): void {
    for (const handlers of [...this.open]) {
      this.open.delete(handlers);
      setTimeout(() => handlers.close(1006, ''), 0);
    }
  }

  private async handle(message: Message, reply: (m: Message, delayMs?: number) => void, close: (code: number, reason: string) => void) {
    if (message.type === MessageType.Hello) {
      if (this.refuse === 'unauthorized') {
        reply({ type: MessageType.Error, requestId: 0, body: { code: 'CARBONCP_UNAUTHORIZED', message: 'bad token' } });
        setTimeout(() => close(1008, 'unauthorized'), 5);
        return;
      }
      reply({
        type: MessageType.HelloAck,
        requestId: 0,
        body: {
          protocol_version: 1,
          server: 'fake',
          execution_provider: 'cpu',
          models: this.ackModels ?? message.body.models,
          limits: { max_payload: 1 << 20, max_queue: 16 },
        },
      });
      return;
    }
    if (message.type === MessageType.Ping) {
      this.pings.push({ requestId: message.requestId, t: message.body.t });
      if (this.pong === 'silent') return;
      const n = this.pings.length;
      const pong: Message = {
        type: MessageType.Pong,
        requestId: this.pongRequestId === 'echo' ? message.requestId : 0,
        body: { t: message.body.t, ...this.pongContext(n) },
      };
      reply(pong, this.pongDelayMs(n));
      return;
    }
    if (message.type !== MessageType.InferRequest) return;
    this.requests.push(message.body);
    const behaviour = this.behaviour;
    if (behaviour.kind === 'silent') return;
    if (behaviour.kind === 'error') {
      reply({ type: MessageType.Error, requestId: message.requestId, body: { code: behaviour.code, message: 'fake failure', request_id: message.requestId } });
      return;
    }
    const { tail } = this.model.halves(message.body.plan_id);
    const session = await this.runtime.load(tail as Uint8Array);
    const feeds: Record<string, FakeTensor> = {};
    for (const wire of message.body.inputs) {
      const restored = wire.parameters?.original_datatype ? decompressTensor(wire) : wire;
      feeds[wire.name] = this.runtime.tensor(restored.datatype, tensorToArray(restored), restored.shape);
    }
    const outputs = await session.run(feeds);
    const scale = behaviour.scale ?? 1;
    const respond = () =>
      reply({
        type: MessageType.InferResponse,
        requestId: message.requestId,
        body: {
          model_name: message.body.model_name,
          plan_id: message.body.plan_id,
          outputs: (behaviour.tamper ?? ((o: WireTensor[]) => o))(
            Object.entries(outputs).map(([name, t]) => tensorFromArray(name, (t.data as Float32Array).map((v) => v * scale), [...t.dims], 'FP32')),
          ),
          parameters: { server_ms: 0.5, queue_ms: 0.25, batch_size: 1, execution_provider: 'cpu', ...behaviour.parameters },
        },
      });
    if (behaviour.delayMs) this.later(respond, behaviour.delayMs);
    else respond();
  }
}

/** Seeded test inputs, uniform in [-1, 1). */
export function seededFloats(seed: number, length: number): Float32Array {
  return seededUniform(seed, length, -1, 1);
}

/** A family of two fake variants (the same fake model under two names) with declared fixture scores. */
export const FAKE_FAMILY: ModelFamily = {
  name: 'fake-family',
  task: 'the fake model: y = 3 (x + 1)',
  qualityMetric: 'fixture score',
  variants: [
    { name: 'small', model: 'fake-small', quality: { value: 60, source: 'fake-platform.test-support.ts fixture, declared', kind: 'declared' } },
    { name: 'large', model: 'fake-large', quality: { value: 72, source: 'fake-platform.test-support.ts fixture, declared', kind: 'declared' } },
  ],
};
