import { describe, firstNonBooleanByte } from './datatypes.js';
import { CarboncpError } from './errors.js';
import { CloseCode, ErrorCode } from './error-codes.js';
import { readFixedHeader, type FixedHeader } from './frame-header.js';
import { resolveLimits, type DecodeLimits, type DecodeOptions } from './limits.js';
import { FIXED_HEADER_BYTES, type Message, type WireTensor } from './messages.js';
import { validateHeader, type ValidatedHeader } from './validate-header.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function payloadTooLarge(what: string, size: number, limit: number): CarboncpError {
  return new CarboncpError(ErrorCode.PAYLOAD_TOO_LARGE, `${what} is ${size} bytes, over the limit of ${limit} bytes`, {
    closeCode: CloseCode.MESSAGE_TOO_BIG,
    details: { size, limit },
  });
}

/** Re-throws a validation error with the close code and the frame's request id attached. */
function inFrame(error: unknown, fixed: FixedHeader): CarboncpError {
  const details = { requestId: fixed.requestId, type: fixed.type };
  if (error instanceof CarboncpError) {
    return new CarboncpError(error.code, error.message, {
      closeCode: error.closeCode ?? CloseCode.PROTOCOL_ERROR,
      details: { ...error.details, ...details },
    });
  }
  return new CarboncpError(ErrorCode.BAD_FRAME, `frame could not be decoded: ${String(error)}`, {
    cause: error,
    closeCode: CloseCode.PROTOCOL_ERROR,
    details,
  });
}

/**
 * Checks the JSON header length against the limit and against the bytes available (`available`
 * is the frame length when known, or undefined while a stream is still arriving).
 */
export function checkHeaderLength(fixed: FixedHeader, limits: DecodeLimits, available: number | undefined): void {
  if (fixed.headerLength > limits.maxHeaderBytes) {
    throw payloadTooLarge('JSON header', fixed.headerLength, limits.maxHeaderBytes);
  }
  if (FIXED_HEADER_BYTES + fixed.headerLength > limits.maxPayload) {
    throw payloadTooLarge('frame', FIXED_HEADER_BYTES + fixed.headerLength, limits.maxPayload);
  }
  if (available !== undefined && FIXED_HEADER_BYTES + fixed.headerLength > available) {
    throw inFrame(
      new CarboncpError(
        ErrorCode.BAD_FRAME,
        `JSON header length ${fixed.headerLength} runs past the end of the ${available}-byte frame ` +
          `(only ${available - FIXED_HEADER_BYTES} bytes follow the fixed header)`,
      ),
      fixed,
    );
  }
}

/** Parses and validates the JSON header; `json` holds exactly its bytes. */
export function parseHeader(fixed: FixedHeader, json: Uint8Array, limits: DecodeLimits): ValidatedHeader {
  let header: unknown;
  try {
    header = JSON.parse(utf8.decode(json));
  } catch (error) {
    throw new CarboncpError(
      ErrorCode.BAD_FRAME,
      `JSON header (${json.length} bytes) is not valid UTF-8 JSON: ${error instanceof Error ? error.message : describe(error)}`,
      { cause: error, closeCode: CloseCode.PROTOCOL_ERROR, details: { requestId: fixed.requestId, type: fixed.type } },
    );
  }
  try {
    return validateHeader(fixed.type, header, limits);
  } catch (error) {
    throw inFrame(error, fixed);
  }
}

/**
 * Builds the message from a frame whose header was validated. `frame` is exactly one frame; tensor
 * data become views into it.
 */
export function assembleMessage(fixed: FixedHeader, header: ValidatedHeader, frame: Uint8Array): Message {
  const start = FIXED_HEADER_BYTES + fixed.headerLength;
  const available = frame.length - start;
  if (header.tensorBytes !== available) {
    const message =
      header.tensorBytes > available
        ? `tensors declare ${header.tensorBytes} bytes in total, but only ${available} bytes follow the JSON header`
        : `${available - header.tensorBytes} trailing bytes after the last tensor ` +
          `(tensors declare ${header.tensorBytes} bytes, ${available} follow the JSON header)`;
    throw inFrame(new CarboncpError(ErrorCode.BAD_FRAME, message), fixed);
  }
  let offset = start;
  for (const tensor of header.tensors) {
    const size = tensor.parameters.binary_data_size;
    // A view, not a copy: the tensor aliases the frame's memory. Always a plain Uint8Array, even
    // when the frame is a Node Buffer (ws hands out Buffers): Buffer#slice() is a view, not a
    // copy, so a consumer that copies with slice() (to align a misaligned view, or to own the
    // bytes before transferring them to a worker) would get a view into the frame instead.
    const data = new Uint8Array(frame.buffer, frame.byteOffset + offset, size);
    if (tensor.datatype === 'BOOL') {
      const at = firstNonBooleanByte(data);
      if (at >= 0) {
        const message = `tensor ${describe(tensor.name)} is BOOL, but byte ${at} of its data is ${data[at]} (BOOL bytes must be 0 or 1)`;
        throw inFrame(new CarboncpError(ErrorCode.BAD_TENSOR, message), fixed);
      }
    }
    (tensor as unknown as WireTensor).data = data;
    offset += size;
  }
  return { type: fixed.type, requestId: fixed.requestId, body: header.body } as unknown as Message;
}

/**
 * Decodes one complete frame (one WebSocket binary message). Checks magic, version, type, every
 * declared length against the buffer and the limits before allocating anything, never assumes
 * alignment, and throws CarboncpError with a closeCode (1002, or 1009 for oversize frames).
 * Tensor `data` of the result are views that alias `bytes`: copy them before reusing the buffer.
 */
export function decodeFrame(bytes: Uint8Array, options?: DecodeOptions): Message {
  const limits = resolveLimits(options);
  if (!(bytes instanceof Uint8Array)) {
    throw new CarboncpError(ErrorCode.BAD_FRAME, `a frame must be a Uint8Array, got ${describe(bytes)}`, {
      closeCode: CloseCode.PROTOCOL_ERROR,
    });
  }
  if (bytes.length > limits.maxPayload) throw payloadTooLarge('frame', bytes.length, limits.maxPayload);
  if (bytes.length < FIXED_HEADER_BYTES) {
    throw new CarboncpError(
      ErrorCode.BAD_FRAME,
      `frame is ${bytes.length} bytes, shorter than the ${FIXED_HEADER_BYTES}-byte fixed header`,
      { closeCode: CloseCode.PROTOCOL_ERROR },
    );
  }
  const fixed = readFixedHeader(bytes);
  checkHeaderLength(fixed, limits, bytes.length);
  const header = parseHeader(fixed, bytes.subarray(FIXED_HEADER_BYTES, FIXED_HEADER_BYTES + fixed.headerLength), limits);
  return assembleMessage(fixed, header, bytes);
}

