import { CarboncpError } from './errors.js';
import { MessageType, type ErrorMessage, type Message } from './messages.js';

/** Stable error codes. They travel on the wire in error messages, so never rename one. */
export const ErrorCode = {
  BAD_FRAME: 'CARBONCP_BAD_FRAME',
  UNSUPPORTED_VERSION: 'CARBONCP_UNSUPPORTED_VERSION',
  PAYLOAD_TOO_LARGE: 'CARBONCP_PAYLOAD_TOO_LARGE',
  UNAUTHORIZED: 'CARBONCP_UNAUTHORIZED',
  UNKNOWN_MODEL: 'CARBONCP_UNKNOWN_MODEL',
  UNKNOWN_PLAN: 'CARBONCP_UNKNOWN_PLAN',
  DIGEST_MISMATCH: 'CARBONCP_DIGEST_MISMATCH',
  /** Wrong shape, datatype or byte size of a tensor. */
  BAD_TENSOR: 'CARBONCP_BAD_TENSOR',
  BUSY: 'CARBONCP_BUSY',
  TIMEOUT: 'CARBONCP_TIMEOUT',
  INTERNAL: 'CARBONCP_INTERNAL',
  SHUTTING_DOWN: 'CARBONCP_SHUTTING_DOWN',
  CONNECTION_LOST: 'CARBONCP_CONNECTION_LOST',
  NOT_READY: 'CARBONCP_NOT_READY',
  /** A caller passed an unusable argument (an option out of range, an unknown compression). */
  INVALID_ARGUMENT: 'CARBONCP_INVALID_ARGUMENT',
  /** A worker thread running onnxruntime (the device's head worker) exited while a run was on it. */
  WORKER_EXITED: 'CARBONCP_WORKER_EXITED',
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
