/**
 * Message shapes of the carboncp wire protocol (version 1). The JSON header of infer requests
 * and responses follows the KServe / Open Inference Protocol v2 shape (name, datatype, shape,
 * parameters.binary_data_size) so that a later bridge to Triton/KServe can reuse it.
 *
 * Frame layout (all integers little-endian):
 *   0..3   magic "CCPW" (0x43 0x43 0x50 0x57)
 *   4      protocol version (u8, = PROTOCOL_VERSION)
 *   5      message type (u8, MessageType)
 *   6..7   flags (u16, reserved, 0)
 *   8..11  request id (u32; 0 for connection-level messages)
 *   12..15 JSON header length in bytes (u32)
 *   16..   JSON header (UTF-8), then the raw tensor bytes of every tensor in header order,
 *          each exactly `parameters.binary_data_size` bytes, nothing after the last one.
 *
 * The encoder pads the JSON header with spaces (valid JSON whitespace, counted in the header
 * length) so the first tensor starts at a multiple of 8 bytes from the frame start; decoders never
 * rely on that. Flags must be 0 in version 1. A frame carries no total length: on a byte stream
 * the reader adds the tensors' binary_data_size to find the end (see FrameReader).
 */
export const PROTOCOL_VERSION = 1;
export const FRAME_MAGIC = 0x57504343; // "CCPW" read as a little-endian u32
export const FIXED_HEADER_BYTES = 16;

export enum MessageType {
  Hello = 1,
  HelloAck = 2,
  InferRequest = 3,
  InferResponse = 4,
  Error = 5,
  Ping = 6,
  Pong = 7,
}

/** KServe v2 datatype names. */
export type DataType = 'FP32' | 'FP16' | 'INT8' | 'UINT8' | 'INT32' | 'INT64' | 'BOOL';

/**
 * The activation compressions a crossing tensor may carry on the wire: the one list, which the
 * header validator, compressTensor, the device client and the CLI check against.
 */
export const COMPRESSIONS = ['none', 'fp16', 'int8'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export function isCompression(value: unknown): value is Compression {
  return typeof value === 'string' && (COMPRESSIONS as readonly string[]).includes(value);
}

/** The list as error messages say it: `'none', 'fp16' or 'int8'` (or unquoted with quote ''). */
export function compressionList(quote = "'"): string {
  const quoted = COMPRESSIONS.map((name) => `${quote}${name}${quote}`);
  return `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
}

export interface TensorParameters {
  binary_data_size?: number;
  /** For INT8/UINT8 affine quantisation: real = scale * (q - zero_point). */
  scale?: number;
  zero_point?: number;
  /** The datatype the tensor had before compression; the receiver restores it. */
  original_datatype?: DataType;
  [key: string]: unknown;
}

/** A tensor on the wire: raw little-endian bytes, never trusted to be aligned. */
export interface WireTensor {
  name: string;
  datatype: DataType;
  shape: number[];
  data: Uint8Array;
  parameters?: TensorParameters;
}

export interface ModelRef {
  name: string;
  /** sha256 of the source model bytes, hex. */
  digest: string;
  /** Plans the peer holds: id and plan digest (sha256 over the source model and the cut). */
  plans?: { id: string; digest: string }[];
}

export interface HelloMessage {
  protocol_version: number;
  client: string;
  token?: string;
  models: ModelRef[];
}

export interface HelloAckMessage {
  protocol_version: number;
  server: string;
  /** Execution provider the server runs tails on, e.g. "cuda" or "cpu". */
  execution_provider: string;
  models: ModelRef[];
  limits: { max_payload: number; max_queue: number };
}

export interface InferRequestMessage {
  id?: string;
  model_name: string;
  plan_id: string;
  /** Plan digest the device holds; the server refuses the request if its own differs. */
  plan_digest: string;
  /** Source model digest. */
  model_digest: string;
  inputs: WireTensor[];
  outputs?: { name: string }[];
  parameters?: { compression?: Compression; timeout_ms?: number; [key: string]: unknown };
}

export interface InferResponseMessage {
  id?: string;
  model_name: string;
  plan_id: string;
  outputs: WireTensor[];
  parameters: {
    server_ms: number;
    queue_ms: number;
    batch_size: number;
    execution_provider: string;
    /** Tail run time of the batch this request ran in (ms). */
    tail_ms?: number;
    /**
     * Energy the server spent on this request (J): its share of the batch's tail time x the
     * server's power x PUE. Absent when the server has no power figure. Old clients ignore it.
     */
    energy_j?: number;
    /** How energy_j was obtained: 'estimated' (a power figure x time) or 'measured' (a meter). */
    energy_kind?: 'measured' | 'estimated';
    /** What energy_j rests on, e.g. 'serverPowerW 300 W x tail time x PUE 1.2'. */
    energy_source?: string;
    /** energy_j at the server's grid intensity (g CO2e); absent when the server knows no intensity. */
    carbon_g?: number;
    /** The intensity carbon_g was computed at (the same shape as a pong's). */
    carbon_intensity?: CarbonIntensityWire;
    [key: string]: unknown;
  };
}

export interface ErrorMessage {
  code: string;
  message: string;
  request_id?: number;
}

export interface PingMessage {
  t: number;
}

export interface PongMessage {
  t: number;
  queue_depth: number;
  in_flight: number;
  /** Recent tail latency per plan id (ms, p50 over a sliding window). */
  tail_ms: Record<string, number>;
  carbon_intensity?: CarbonIntensityWire;
  /** The GPU power cap the server applies now, where it manages one (absent otherwise). */
  power_cap?: PowerCapWire;
}

/**
 * A server's GPU power cap on the wire: the caps summed over the GPUs it manages, their default
 * limits summed (watts / default_watts is the fraction of full power), how many GPUs, and why
 * (its policy's reason, e.g. 'carbon 450 g/kWh >= 400: 0.6 x default').
 */
export interface PowerCapWire {
  watts: number;
  default_watts: number;
  gpus: number;
  source: string;
}

/** Grid carbon intensity on the wire: gCO2e/kWh and where it came from. */
export interface CarbonIntensityWire {
  value_g_per_kwh: number;
  source: string;
}

export type Message =
  | { type: MessageType.Hello; requestId: number; body: HelloMessage }
  | { type: MessageType.HelloAck; requestId: number; body: HelloAckMessage }
  | { type: MessageType.InferRequest; requestId: number; body: InferRequestMessage }
  | { type: MessageType.InferResponse; requestId: number; body: InferResponseMessage }
  | { type: MessageType.Error; requestId: number; body: ErrorMessage }
  | { type: MessageType.Ping; requestId: number; body: PingMessage }
  | { type: MessageType.Pong; requestId: number; body: PongMessage };
