import type { DecisionMode, Objective } from '@carboncp/calibrator';
import type { RequestFootprint } from '@carboncp/carbon';
import type { TelemetryDecision } from './calibrated-policy.js';
import type { SiteTelemetry } from './site-pool.js';
import type { BudgetTelemetry } from './budget-pacer.js';
import type { Compression, DataType, TensorArray } from '@carboncp/protocol';

/**
 * The client logic only needs this much of a tensor; onnxruntime's `Tensor` (Node and web) fits
 * it structurally, so the same logic runs over either runtime.
 */
export type TensorData = TensorArray;

export interface RuntimeTensor {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
}

/** One loaded model (a full model, a head or a tail) ready to run. */
export interface RuntimeSession<T extends RuntimeTensor> {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, T>): Promise<Record<string, T>>;
  /**
   * Optional: run() that also says how long the computation itself took (ms, on any monotonic
   * clock), leaving out the time the run waited for the runtime to start it (runs of other
   * requests ahead of it). The client reports that as headMs / tailLocalMs and the rest of the
   * call as waitMs; without runTimed, the whole run() call counts as compute.
   */
  runTimed?(feeds: Record<string, T>): Promise<{ outputs: Record<string, T>; computeMs: number }>;
  release(): Promise<void>;
  /** Optional: the execution provider the session runs on ('cpu', 'webgpu', 'wasm'); telemetry reports it. */
  readonly executionProvider?: string;
}

/** Platform code that runs ONNX bytes: onnxruntime-node here, onnxruntime-web later. */
export interface Runtime<T extends RuntimeTensor> {
  load(bytes: Uint8Array, label: string): Promise<RuntimeSession<T>>;
  /** Builds a runtime tensor from wire data (FP16 as raw bits, BOOL as bytes). */
  tensor(datatype: DataType, data: TensorData, dims: number[]): T;
  /**
   * The wire datatype and a typed view of a runtime tensor's data; throws for types the wire
   * cannot carry. Synchronous: it reads CPU tensors only (see toCpu).
   */
  describe(tensor: T): { datatype: DataType; data: TensorData };
  /**
   * Optional, for runtimes whose tensors may live off the CPU (onnxruntime-web's WebGPU buffers,
   * read with `await tensor.getData()`): the tensor as a CPU tensor that describe() can read (the
   * tensor itself when it already is one). The client calls it on the caller's inputs and on the
   * tensors it sends, before describing them; without it every tensor must be a CPU tensor.
   */
  toCpu?(tensor: T): Promise<T>;
}

/** Receives what an open connection delivers. */
export interface TransportHandlers {
  /**
   * One binary message: its bytes, or the fragments it arrived in (in order; their concatenation
   * is the message), which the client decodes without joining them.
   */
  message(bytes: Uint8Array | readonly Uint8Array[]): void;
  close(code: number, reason: string): void;
}

export interface TransportConnection {
  /** Sends one binary message. */
  send(bytes: Uint8Array): void;
  /**
   * Optional: sends the concatenation of `parts` as one binary message without joining them first
   * (a frame from encodeFrameParts: header, then views of the tensors' own memory, which must not
   * change until sent). Without it the client joins the parts and calls send.
   */
  sendParts?(parts: readonly Uint8Array[]): void;
  close(code?: number, reason?: string): void;
  /**
   * Optional: drops the connection at once, without a closing handshake (used when the server
   * stopped answering, so a close would only wait). Without it the client calls close().
   */
  terminate?(): void;
}

/** Platform code that opens a binary message channel: `ws` here, the browser WebSocket later. */
export interface Transport {
  connect(url: string, handlers: TransportHandlers): Promise<TransportConnection>;
}

/** The parts of a core `CrossingTensor` the client uses. */
export interface ClientCrossingTensor {
  name: string;
  source: 'input' | 'head';
}

/** The parts of a core `Plan` the client uses; core's Plan satisfies it. */
export interface ClientPlan {
  id: string;
  kind: 'device' | 'server' | 'split';
  crossing: readonly ClientCrossingTensor[];
  headOutputs: readonly string[];
  tailOutputs: readonly string[];
  digest: string;
}

export interface ClientTensorInfo {
  name: string;
  dtype: string;
  shape: readonly (number | string)[];
}

/**
 * Everything the client knows about its model: identity, signature, the plans of its partition
 * and the bytes of every half (the device holds both halves so that it can always fall back).
 */
export interface SplitModel<P extends ClientPlan = ClientPlan> {
  name: string;
  digest: string;
  inputs: readonly ClientTensorInfo[];
  outputs: readonly ClientTensorInfo[];
  plans: readonly P[];
  /** Model bytes of a plan's halves: 'device' -> head = full model; 'server' -> tail = full model. */
  halves(planId: string): { head: Uint8Array | null; tail: Uint8Array | null };
}

export type RequestPath = 'local' | 'split' | 'remote' | 'local-fallback';

/**
 * What one infer() cost, in milliseconds. The parts add up to the whole:
 *
 *   totalMs = waitMs + headMs + transferMs + serverMs + tailLocalMs   (to float rounding)
 *
 * Every part but serverMs (and its sub-part queueMs) is measured on the device's monotonic clock
 * (the client's Clock, performance.now() by default); serverMs and queueMs are the server's own
 * figures, on the server's monotonic clock. They meet in transferMs = round trip (device clock)
 * - serverMs (server clock); a server that reports more than the round trip the device measured
 * (clocks that tick at different rates) is capped at that round trip, so no part is negative.
 */
export interface RequestTelemetry {
  planId: string;
  /** 'local': cut 'device'; 'split'/'remote': the tail ran on the server; 'local-fallback': it was meant to, but ran here. */
  path: RequestPath;
  /**
   * Device clock. Time on the device that is in no other part: checking the inputs, loading a
   * session (the first request of a plan), waiting for the runtime to start this request's head
   * or local tail behind other requests' runs, handing tensors between the stages.
   */
  waitMs: number;
  /** Device clock. The head's computation (the runtime's run, without the wait before it starts); 0 without a head. */
  headMs: number;
  /**
   * Device clock minus server clock. The round trip (encoding the request, just before it, to the
   * response decoded and checked on the device, or the attempt failing) minus serverMs: encoding
   * and decoding on both sides, the network, and the device's event loop getting to the response.
   */
  transferMs: number;
  /**
   * Server clock. From the server receiving the request to its answer being ready: queueMs plus
   * the tail's run (the wire field server_ms); 0 when no answer came.
   */
  serverMs: number;
  /** Server clock. The part of serverMs the request waited in the server's queue (wire field queue_ms); not a separate part of totalMs. */
  queueMs: number;
  /** Device clock. The local tail's computation after a fallback; 0 otherwise. */
  tailLocalMs: number;
  /** Device clock. From infer() being called to its result being ready. */
  totalMs: number;
  /**
   * The execution provider of the device's runs for this request (the head's, or the local
   * tail's after a fallback; 'webgpu' then 'wasm' when they differ), when the runtime says
   * (RuntimeSession.executionProvider); absent when nothing ran on the device.
   */
  executionProvider?: string;
  /** Who chose the plan: the caller (infer() named a cut) or the client's cut policy (no cut, or 'auto'). */
  cutChosenBy: 'caller' | 'policy';
  /** Frame bytes sent and received for this request (0 when nothing crossed). */
  bytesUp: number;
  bytesDown: number;
  compression: Compression;
  error?: { code: string; message: string };
  /**
   * The server's energy and carbon for this request as its response reported them (wire
   * parameters energy_j, energy_kind, energy_source, carbon_g, carbon_intensity); absent when no
   * response came or the server reported none (no power figure, an older server). It is the
   * server side of a RequestFootprint (`requestFootprint` of @carboncp/carbon).
   */
  serverEnergy?: ServerEnergy;
  /**
   * The device's energy over this request's head and local-tail runs, from the client's
   * powerSampler (cached readings, no sensor read on the request); absent without one, or when
   * its history could not cover a run. 0 J, measured, when nothing ran on the device.
   */
  deviceEnergy?: DeviceEnergy;
  /**
   * Energy and carbon of this request by side (device, network, server) and in total, each
   * labelled measured or estimated with its source and the grid intensity applied; present when
   * the client was given `footprint` options and every part was known (see footprintUnavailable).
   */
  footprint?: RequestFootprint;
  /** Why `footprint` is absent although the client was configured for it (no device energy, no server figure, no intensity yet). */
  footprintUnavailable?: string;
  /**
   * The calibrated policy's decision when it chose this request's candidate: the choice, the
   * rule that bound it, and per metric the interval predicted at 1 - alpha beside the value
   * observed (latencyMs is totalMs; deviceEnergyJ and carbonG need `footprint`), so coverage can
   * be audited from telemetry alone.
   */
  decision?: TelemetryDecision;
  /** With `servers`: the site the tail ran at (or was last tried at), with its grid, water and RTT then, and its carbon and water. */
  site?: SiteTelemetry;
  /** With `servers`: the site tried first, when its failure sent the request once to another site (`site`; `path` says whether that one answered). */
  failover?: { from: { name: string; url: string }; error: { code: string; message: string } };
  /** A family client's request: the variant that ran (its name in the family, its served model name and declared quality). */
  variant?: VariantTelemetry;
  /** A family client with a `budget`: the budget's state after this request, its cap and what it booked. */
  budget?: BudgetTelemetry;
}

/** The variant of a model family that served a request, as its telemetry names it. */
export interface VariantTelemetry {
  name: string;
  model: string;
  /** Declared (published) quality in the family's qualityMetric, with its source: never measured here. */
  quality: number;
  qualitySource: string;
}

/** The device side of a request's energy: the sum over its runs on the device. */
export interface DeviceEnergy {
  energyJ: number;
  /** 'measured' only if every run's energy was (a counter or a power meter), else 'estimated' (a power model). */
  kind: 'measured' | 'estimated';
  source: string;
  /** Milliseconds of the runs past the sampler's newest reading (held at its last rate): 0 when fully bracketed. */
  extrapolatedMs: number;
}

/** The server side of a request's energy and carbon, from its response. */
export interface ServerEnergy {
  energyJ: number;
  kind: 'measured' | 'estimated';
  source: string;
  /** energyJ at the server's grid intensity, when the server knew one. */
  carbonG?: number;
  /** The intensity carbonG was computed at. */
  intensity?: { valueGPerKwh: number; source: string };
}

export interface InferOptions {
  /** A plan id; none or 'auto': the client's cut policy chooses (the default policy: the client's defaultCut; with a calibrator, the carbon-aware decision). */
  cut?: 'auto' | 'device' | 'server' | (string & {});
  compression?: Compression;
  timeoutMs?: number;
  /** cut 'auto' with a calibrator: the latency objective (ms) the chosen candidate's bound must meet. */
  sloMs?: number;
  /** cut 'auto': miscoverage of the bounds (one the calibrator was built for; default its first). */
  alpha?: number;
  /** cut 'auto': 'mean' | 'robust' | 'adaptive' | 'set' (default robust). */
  mode?: DecisionMode;
  /** cut 'auto': what to minimise, 'carbon' (default), 'latency' or 'energy' (the device's). */
  objective?: Objective;
  /** cut 'auto': candidates whose lossy compression may err by more than this are out. */
  maxOutputError?: number;
  /** With `servers` and a fixed cut: the site its tail runs at (default the first that can run it; with 'auto' the policy chooses). */
  site?: string;
}

export interface InferResult<T extends RuntimeTensor> {
  outputs: Record<string, T>;
  telemetry: RequestTelemetry;
}

export type ConnectionState = 'connecting' | 'open' | 'closed';

/**
 * The server's load and grid context as its answer to a ping gave it (see
 * `SplitClient.serverContext()`): what a calibrator weighs to decide where to cut.
 */
export interface ServerContext {
  /** Requests waiting in the server's queue, over all its clients, when it answered. */
  queueDepth: number;
  /** Requests in the batch the server was executing when it answered. */
  inFlight: number;
  /**
   * Recent tail compute time on the server (ms, p50 over its last runs of that plan), by plan
   * id of this client's model. A plan the server has not run lately is absent.
   */
  tailMs: Record<string, number>;
  /** Carbon intensity of the grid that powers the server, when the server was given one. */
  carbonIntensity?: { valueGPerKwh: number; source: string };
  /** Ping sent to pong received, measured on the device's monotonic clock (ms). */
  rttMs: number;
  /** When the pong arrived, ms since the epoch (the clock's epochMs(), Date.now() by default). */
  receivedAt: number;
}

export interface ServerContextOptions {
  /** How long to wait for the pong; default 5000. */
  timeoutMs?: number;
}

/** Counters over the client's life; `lateResponses` are responses that came after their request had resolved. */
export interface ClientStats {
  requests: number;
  split: number;
  remote: number;
  local: number;
  localFallback: number;
  timeouts: number;
  lateResponses: number;
  connects: number;
  disconnects: number;
  errors: Record<string, number>;
}

export interface ReconnectOptions {
  initialMs: number;
  maxMs: number;
  /** Seed of the jitter; the same seed gives the same delays. */
  seed?: number;
}
