import { describe } from './datatypes.js';
import { CarboncpError } from './errors.js';
import { ErrorCode } from './error-codes.js';
import { checkRequestId, isMessageType, writeFixedHeader } from './frame-header.js';
import { FIXED_HEADER_BYTES, MessageType, type Message, type WireTensor } from './messages.js';
import { validateHeader } from './validate-header.js';

/** Tensor data start at a multiple of this from the frame start, so aligned receive buffers give aligned tensors. */
export const TENSOR_ALIGNMENT = 8;
const SPACE = 0x20;

const utf8 = new TextEncoder();

interface PreparedFrame {
  type: MessageType;
  requestId: number;
  json: string;
  jsonBytes: number;
  /** JSON length padded with spaces (JSON allows trailing whitespace) to TENSOR_ALIGNMENT. */
  headerLength: number;
  tensors: Uint8Array[];
  byteLength: number;
}

function utf8Length(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) length += 1;
    else if (c < 0x800) length += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      length += 4;
      i++;
    } else length += 3; // includes lone surrogates, which TextEncoder writes as U+FFFD (3 bytes)
  }
  return length;
}

/** Which body field carries the tensors of a message type. */
function tensorField(type: MessageType): 'inputs' | 'outputs' | undefined {
  if (type === MessageType.InferRequest) return 'inputs';
  if (type === MessageType.InferResponse) return 'outputs';
  return undefined;
}

function tensorHeaders(list: unknown, field: string): { headers: unknown[]; data: Uint8Array[] } {
  if (!Array.isArray(list)) {
    throw new CarboncpError(ErrorCode.BAD_FRAME, `${field} must be an array of tensors, got ${describe(list)}`);
  }
  const headers: unknown[] = [];
  const data: Uint8Array[] = [];
  list.forEach((value: unknown, i) => {
    const tensor = value as Partial<WireTensor> | null;
    if (typeof tensor !== 'object' || tensor === null || !(tensor.data instanceof Uint8Array)) {
      throw new CarboncpError(
        ErrorCode.BAD_TENSOR,
        `${field}[${i}].data must be a Uint8Array of raw little-endian bytes, got ${describe(tensor?.data)}`,
      );
    }
    headers.push({
      name: tensor.name,
      datatype: tensor.datatype,
      shape: tensor.shape,
      parameters: { ...tensor.parameters, binary_data_size: tensor.data.byteLength },
    });
    data.push(tensor.data);
  });
  return { headers, data };
}

function prepare(message: Message): PreparedFrame {
  if (typeof message !== 'object' || message === null) {
    throw new CarboncpError(ErrorCode.BAD_FRAME, `a message must be an object, got ${describe(message)}`);
  }
  const { type, requestId, body } = message;
  if (!isMessageType(type)) throw new CarboncpError(ErrorCode.BAD_FRAME, `unknown message type ${describe(type)}`);
  checkRequestId(requestId);
  if (typeof body !== 'object' || body === null) {
    throw new CarboncpError(ErrorCode.BAD_FRAME, `message body must be an object, got ${describe(body)}`);
  }
  let header: object = body;
  let tensors: Uint8Array[] = [];
  const field = tensorField(type);
  if (field !== undefined) {
    const { headers, data } = tensorHeaders((body as unknown as Record<string, unknown>)[field], field);
    // Spreading keeps the field in its original key position, so the JSON reads like KServe's.
    header = { ...body, [field]: headers };
    tensors = data;
  }
  // The same checks the receiver runs: a frame this encoder writes is one the decoder accepts.
  const validated = validateHeader(type, header);
  let json: string;
  try {
    json = JSON.stringify(header);
  } catch (error) {
    throw new CarboncpError(ErrorCode.BAD_FRAME, `message body cannot be written as JSON: ${String(error)}`, { cause: error });
  }
  const jsonBytes = utf8Length(json);
  const unpadded = FIXED_HEADER_BYTES + jsonBytes;
  const headerLength = jsonBytes + ((TENSOR_ALIGNMENT - (unpadded % TENSOR_ALIGNMENT)) % TENSOR_ALIGNMENT);
  return {
    type,
    requestId,
    json,
    jsonBytes,
    headerLength,
    tensors,
    byteLength: FIXED_HEADER_BYTES + headerLength + validated.tensorBytes,
  };
}

const ZERO_FILL_IS_CHEAP_BELOW = 4096;

type UnsafeAllocator = { allocUnsafe(size: number): Uint8Array };

/**
 * Node's Buffer.allocUnsafe skips zero-filling (every byte is written below) and, from half its
 * pool size (4 KiB) up, gives the frame its own ArrayBuffer at offset 0. Elsewhere a plain
 * Uint8Array, whose zero-fill costs about as much again as the copy for a 600 KB frame.
 */
function allocate(size: number): Uint8Array {
  const buffer = (globalThis as { Buffer?: UnsafeAllocator }).Buffer;
  return buffer === undefined || size < ZERO_FILL_IS_CHEAP_BELOW ? new Uint8Array(size) : buffer.allocUnsafe(size);
}

function writePrefix(frame: PreparedFrame, target: Uint8Array): void {
  writeFixedHeader(target, frame.type, frame.requestId, frame.headerLength);
  const { written } = utf8.encodeInto(frame.json, target.subarray(FIXED_HEADER_BYTES, FIXED_HEADER_BYTES + frame.jsonBytes));
  if (written !== frame.jsonBytes) {
    throw new CarboncpError(ErrorCode.INTERNAL, `JSON header encoded to ${written} bytes, expected ${frame.jsonBytes}`);
  }
  target.fill(SPACE, FIXED_HEADER_BYTES + frame.jsonBytes, FIXED_HEADER_BYTES + frame.headerLength);
}

/**
 * Encodes a message into one frame with a single allocation: fixed header, JSON header (tensor
 * `binary_data_size` filled in from each tensor's data), then every tensor's bytes.
 */
export function encodeFrame(message: Message): Uint8Array {
  const frame = prepare(message);
  const bytes = allocate(frame.byteLength);
  writePrefix(frame, bytes);
  let offset = FIXED_HEADER_BYTES + frame.headerLength;
  for (const data of frame.tensors) {
    bytes.set(data, offset);
    offset += data.byteLength;
  }
  return bytes;
}

/**
 * The same frame as encodeFrame, as [fixed header + JSON header, ...tensor data] without copying
 * the tensors. Their concatenation is the frame: send the parts as the fragments of one
 * WebSocket message (ws: `send(part, { fin: last })`) or with one vectored write on a stream.
 */
export function encodeFrameParts(message: Message): Uint8Array[] {
  const frame = prepare(message);
  const prefix = new Uint8Array(FIXED_HEADER_BYTES + frame.headerLength);
  writePrefix(frame, prefix);
  return [prefix, ...frame.tensors.filter((data) => data.byteLength > 0)];
}
