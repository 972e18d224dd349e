import { CarboncpError } from './errors.js';
import { MessageType, type ErrorMessage, type Message } from './messages.js';

/**
 * The one registry of carboncp error codes: every code any package throws is here, with what it
 * means. They travel on the wire in error messages and scripts match on them, so never rename
 * one. Codes that end a connection map to a WebSocket close code in CONNECTION_CLOSE_CODES below;
 * the CLI's exit code per error code is in cli's main.ts (reportError).
 * error-codes.test.ts fails when a code is used anywhere in the sources and missing here.
 */
export const ErrorCode = {
  // Wire and connection (protocol, server, device).
  /** A frame or message cannot be decoded, or breaks the protocol's rules (a request before the hello). */
  BAD_FRAME: 'CARBONCP_BAD_FRAME',
  /** The peer speaks another protocol version. */
  UNSUPPORTED_VERSION: 'CARBONCP_UNSUPPORTED_VERSION',
  /** A frame or JSON header over the receiver's limit. */
  PAYLOAD_TOO_LARGE: 'CARBONCP_PAYLOAD_TOO_LARGE',
  /** A missing or wrong token. */
  UNAUTHORIZED: 'CARBONCP_UNAUTHORIZED',
  /** The server holds no model of that name. */
  UNKNOWN_MODEL: 'CARBONCP_UNKNOWN_MODEL',
  /** The model has no plan (cut) of that id. */
  UNKNOWN_PLAN: 'CARBONCP_UNKNOWN_PLAN',
  /** Model or plan digest differs between device and server. */
  DIGEST_MISMATCH: 'CARBONCP_DIGEST_MISMATCH',
  /** Wrong shape, datatype or byte size of a tensor (or tensor data a builder cannot use). */
  BAD_TENSOR: 'CARBONCP_BAD_TENSOR',
  /** The server is at a limit (queue, per-connection share, connection cap), or the device's head worker queue is full. */
  BUSY: 'CARBONCP_BUSY',
  /** A request or ping was not answered in time. */
  TIMEOUT: 'CARBONCP_TIMEOUT',
  /** Anything unexpected; foreign errors become this on the wire. */
  INTERNAL: 'CARBONCP_INTERNAL',
  /** The server or client is closing. */
  SHUTTING_DOWN: 'CARBONCP_SHUTTING_DOWN',
  /** Local only: the connection dropped with requests in flight, or is not up. */
  CONNECTION_LOST: 'CARBONCP_CONNECTION_LOST',
  /** Not connected (or not ready to run) within the time allowed. */
  NOT_READY: 'CARBONCP_NOT_READY',
  /** A caller passed an unusable argument or option (out of range, wrong type, unknown compression). */
  INVALID_ARGUMENT: 'CARBONCP_INVALID_ARGUMENT',

  // Models, partitioning and plans (core, models).
  /** Not an ONNX model, or a graph that is not valid (undefined names, a cycle, no graph). */
  BAD_MODEL: 'CARBONCP_BAD_MODEL',
  /** A tensor keeps its data in an external file, which carboncp cannot hash or ship. */
  EXTERNAL_DATA: 'CARBONCP_EXTERNAL_DATA',
  /** A model over protobuf's 2 GiB limit. */
  MODEL_TOO_LARGE: 'CARBONCP_MODEL_TOO_LARGE',
  /** A file or directory does not exist (model file, model directory, bundled model). */
  NOT_FOUND: 'CARBONCP_NOT_FOUND',
  /** A file cannot be read or written for another reason than its absence. */
  IO: 'CARBONCP_IO',
  /** An output directory that exists and is not empty, or is not a directory. */
  BAD_OUTPUT: 'CARBONCP_BAD_OUTPUT',
  /** A cache file could not be written. */
  WRITE_FAILED: 'CARBONCP_WRITE_FAILED',
  /** A zoo model that is not generated was asked to be built. */
  NOT_GENERATED: 'CARBONCP_NOT_GENERATED',
  /** An input shape names an input the model does not have. */
  UNKNOWN_INPUT: 'CARBONCP_UNKNOWN_INPUT',
  /** An input shape of the wrong rank, with a fixed dim that differs, or malformed. */
  BAD_INPUT_SHAPE: 'CARBONCP_BAD_INPUT_SHAPE',
  /** A symbolic or undeclared input dim needs a size. */
  SHAPE_REQUIRED: 'CARBONCP_SHAPE_REQUIRED',
  /** A half would have to declare a tensor whose type is unknown. */
  SHAPE_UNKNOWN: 'CARBONCP_SHAPE_UNKNOWN',
  /** A cut cannot be extracted (a half would miss a value). */
  CUT_UNSUPPORTED: 'CARBONCP_CUT_UNSUPPORTED',
  /** onnxruntime could not load or run the model for the shape probe. */
  PROBE_FAILED: 'CARBONCP_PROBE_FAILED',
  /** onnxruntime could not open a session with any execution provider. */
  SESSION: 'CARBONCP_SESSION',
  /** A local run was not given an input a half needs. */
  MISSING_INPUT: 'CARBONCP_MISSING_INPUT',
  /** A tensor type that seeded inputs or a comparison cannot handle (e.g. strings). */
  UNSUPPORTED_DTYPE: 'CARBONCP_UNSUPPORTED_DTYPE',
  /** ModelBuilder: an unknown element type. */
  BAD_DTYPE: 'CARBONCP_BAD_DTYPE',
  /** ModelBuilder: a dimension that is not a non-negative integer. */
  BAD_SHAPE: 'CARBONCP_BAD_SHAPE',
  /** ModelBuilder: an attribute value it cannot encode. */
  BAD_ATTRIBUTE: 'CARBONCP_BAD_ATTRIBUTE',
  /** ModelBuilder or a zoo generator: an invalid graph (a name defined twice, no output, no node). */
  BAD_GRAPH: 'CARBONCP_BAD_GRAPH',

  // Server and command line.
  /** The server cannot listen on its host and port. */
  LISTEN: 'CARBONCP_LISTEN',
  /** A bad command line: unknown flag, missing or malformed argument. */
  USAGE: 'CARBONCP_USAGE',
  /** Plan JSON (partition --json, a plan.json) that does not describe plans. */
  BAD_PLAN_JSON: 'CARBONCP_BAD_PLAN_JSON',
  /** A worker thread running onnxruntime (the device's head worker) exited while a run was on it. */
  WORKER_EXITED: 'CARBONCP_WORKER_EXITED',

  // Carbon intensity providers (carbon).
  /** A carbon-intensity service failed: unreachable, an error status (5xx), or an answer that is not the documented JSON. */
  PROVIDER: 'CARBONCP_PROVIDER',
  /** A carbon-intensity service answered 429; no request is sent to it until its Retry-After has passed. */
  RATE_LIMITED: 'CARBONCP_RATE_LIMITED',
  /** A carbon-intensity trace (CSV) that cannot be used: no such column, a bad time or value, mixed or unsupported steps. */
  BAD_TRACE: 'CARBONCP_BAD_TRACE',
  /** An instant outside a trace (before its first point, after its last interval, or in a gap) and no wrap asked for. */
  OUT_OF_TRACE: 'CARBONCP_OUT_OF_TRACE',
  /** A zone the trace or provider has no data for. */
  UNKNOWN_ZONE: 'CARBONCP_UNKNOWN_ZONE',
  /** A device profile (JSON) that breaks its schema: the message and details.field name the bad field. */
  BAD_DEVICE_PROFILE: 'CARBONCP_BAD_DEVICE_PROFILE',
  /** A device profile marks a number the caller needs as unknown (value null), so it cannot be used. */
  DEVICE_PROFILE_INCOMPLETE: 'CARBONCP_DEVICE_PROFILE_INCOMPLETE',
  /** Latency-profile JSON that does not describe a profile. */
  BAD_PROFILE: 'CARBONCP_BAD_PROFILE',
  /** A latency profile made for another model (or device, or execution provider) than asked. */
  PROFILE_MISMATCH: 'CARBONCP_PROFILE_MISMATCH',
  /** A model family (JSON or object) that does not describe one: no variants, a name twice, a quality without a source. */
  BAD_MODEL_FAMILY: 'CARBONCP_BAD_MODEL_FAMILY',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** WebSocket close codes (RFC 6455 section 7.4.1) that carboncp uses. */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  /** Used for failed authentication. */
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  /** The server is at a limit (its connection cap); the client may reconnect later. */
  TRY_AGAIN_LATER: 1013,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * The close code that goes with an error that ends the connection. Codes absent here are
 * per-request errors: the peer answers them with an error message and keeps the connection.
 */
export const CONNECTION_CLOSE_CODES: Readonly<Partial<Record<ErrorCode, CloseCode>>> = {
  [ErrorCode.BAD_FRAME]: CloseCode.PROTOCOL_ERROR,
  [ErrorCode.UNSUPPORTED_VERSION]: CloseCode.PROTOCOL_ERROR,
  [ErrorCode.PAYLOAD_TOO_LARGE]: CloseCode.MESSAGE_TOO_BIG,
  [ErrorCode.UNAUTHORIZED]: CloseCode.POLICY_VIOLATION,
  [ErrorCode.SHUTTING_DOWN]: CloseCode.GOING_AWAY,
  [ErrorCode.INTERNAL]: CloseCode.INTERNAL_ERROR,
};

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (Object.values(ErrorCode) as string[]).includes(value);
}

/**
 * Turns any thrown value into the error message a peer sends back. Non-carboncp errors become
 * CARBONCP_INTERNAL so that no stack or foreign error shape leaks onto the wire.
 */
export function errorToMessage(error: unknown, requestId: number): Message {
  const body: ErrorMessage =
    error instanceof CarboncpError
      ? { code: error.code, message: error.message }
      : { code: ErrorCode.INTERNAL, message: error instanceof Error ? error.message : String(error) };
  if (requestId !== 0) body.request_id = requestId;
  return { type: MessageType.Error, requestId, body };
}

/** Rebuilds the CarboncpError a peer reported, so callers can match on `code`. */
export function errorFromMessage(body: ErrorMessage, requestId?: number): CarboncpError {
  const closeCode = isErrorCode(body.code) ? CONNECTION_CLOSE_CODES[body.code] : undefined;
  const id = body.request_id ?? requestId;
  return new CarboncpError(body.code, body.message, {
    ...(closeCode === undefined ? {} : { closeCode }),
    details: { remote: true, ...(id === undefined ? {} : { requestId: id }) },
  });
}
