import { describe } from './datatypes.js';
import { CarboncpError } from './errors.js';
import { ErrorCode } from './error-codes.js';

/**
 * The one default of the largest frame, 64 MiB: the decoder, the frame reader, the server's
 * maxPayload option, the device client and its WebSocket transport all use it.
 */
export const DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024;
/** JSON headers are a few hundred bytes; a megabyte bounds the cost of parsing a hostile one. */
export const DEFAULT_MAX_HEADER_BYTES = 1024 * 1024;
/**
 * Tensors per message. A cut crosses a handful of tensors and a model has a handful of outputs;
 * the bound stops a header of thousands of tiny tensors before each is validated.
 */
export const DEFAULT_MAX_TENSORS = 1024;

export interface DecodeOptions {
  /** Largest whole frame accepted, in bytes (default DEFAULT_MAX_PAYLOAD, 64 MiB). */
  maxPayload?: number;
  /** Largest JSON header accepted, in bytes (default 1 MiB). */
  maxHeaderBytes?: number;
  /** Most tensors one message may carry (default 1024). */
  maxTensors?: number;
}

export interface DecodeLimits {
  maxPayload: number;
  maxHeaderBytes: number;
  maxTensors: number;
}

function positiveInteger(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${name} must be a positive integer, got ${describe(value)}`);
  }
  return value;
}

export function resolveLimits(options: DecodeOptions | undefined): DecodeLimits {
  return {
    maxPayload: positiveInteger(options?.maxPayload, 'maxPayload', DEFAULT_MAX_PAYLOAD),
    maxHeaderBytes: positiveInteger(options?.maxHeaderBytes, 'maxHeaderBytes', DEFAULT_MAX_HEADER_BYTES),
    maxTensors: positiveInteger(options?.maxTensors, 'maxTensors', DEFAULT_MAX_TENSORS),
  };
}
