/**
 * The body of a KServe v2 (Open Inference Protocol) HTTP request or response with Triton's binary
 * tensor data extension: a JSON object, then the binary tensors back to back, in the order of
 * the JSON entries that carry `parameters.binary_data_size`. The
 * `Inference-Header-Content-Length` header gives the JSON's length in bytes; without it the whole
 * body is JSON.
 */
import { CarboncpError, ErrorCode } from '@carboncp/protocol';

/** The header that says how many bytes of the body are JSON (lower case, as node reads headers). */
export const HEADER_LENGTH_HEADER = 'inference-header-content-length';

/** The content type of a body with binary tensors after the JSON. */
export const BINARY_CONTENT_TYPE = 'application/octet-stream';

function badBody(message: string, cause?: unknown): CarboncpError {
  return new CarboncpError(ErrorCode.BAD_FRAME, message, cause === undefined ? {} : { cause });
}

/**
 * Splits a body into its JSON object and the binary part after it. `headerLength` is the value of
 * the Inference-Header-Content-Length header (undefined: all JSON). Throws CARBONCP_BAD_FRAME.
 */
export function splitBody(body: Uint8Array, headerLength: string | undefined): { json: Record<string, unknown>; binary: Uint8Array } {
  let jsonBytes = body.byteLength;
  if (headerLength !== undefined) {
    if (!/^\d+$/.test(headerLength.trim())) throw badBody(`${HEADER_LENGTH_HEADER} must be a byte count, got '${headerLength.slice(0, 40)}'`);
    jsonBytes = Number(headerLength.trim());
    if (jsonBytes > body.byteLength) {
      throw badBody(`${HEADER_LENGTH_HEADER} is ${jsonBytes}, but the body has only ${body.byteLength} bytes`);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body.subarray(0, jsonBytes)));
  } catch (cause) {
    throw badBody(`the inference header is not valid UTF-8 JSON: ${(cause as Error).message}`, cause);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw badBody('the inference header must be a JSON object');
  return { json: json as Record<string, unknown>, binary: body.subarray(jsonBytes) };
}

/**
 * Joins a JSON object and binary chunks into one body. `headerLength` is undefined when there
 * are no chunks (a plain JSON body, which needs no Inference-Header-Content-Length).
 */
export function joinBody(json: unknown, chunks: readonly Uint8Array[]): { body: Buffer; headerLength: number | undefined } {
  const head = Buffer.from(JSON.stringify(json), 'utf8');
  if (chunks.length === 0) return { body: head, headerLength: undefined };
  return { body: Buffer.concat([head, ...chunks]), headerLength: head.byteLength };
}
