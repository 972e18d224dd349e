/**
 * Sends one carboncp frame, given as encodeFrameParts' parts (header, then views of the tensors'
 * own memory), as one WebSocket message without first copying the tensors into a frame buffer.
 * Any WebSocket receiver takes it as one message. ws joins the fragments into one buffer (a copy
 * of the whole frame) unless the socket's binaryType is 'fragments'; then decodeFrameFragments
 * below decodes them as they are, and a tensor sent as its own fragment stays in the buffer ws
 * read it into.
 *
 * Parts under JOIN_BELOW_BYTES are joined (a whole small message becomes one ordinary frame):
 * below that size a copy costs less than the extra frame header and socket write a fragment
 * takes. Large tensors go as fragments of their own.
 *
 * It lives here, not in the device or the server (which may not import each other), and needs
 * no `ws` import: any sink with ws 8's `send(data, { binary, fin })` will do. A browser
 * WebSocket cannot send fragments; its transport sends `concatParts(parts)` instead.
 */
import { describe, firstNonBooleanByte } from './datatypes.js';
import { CarboncpError } from './errors.js';
import { CloseCode, ErrorCode } from './error-codes.js';
import { checkHeaderLength, decodeFrame, parseHeader, payloadTooLarge } from './frame-decoder.js';
import { TENSOR_ALIGNMENT } from './frame-encoder.js';
import { readFixedHeader } from './frame-header.js';
import { resolveLimits, type DecodeOptions } from './limits.js';
import { FIXED_HEADER_BYTES, MessageType, type Message, type WireTensor } from './messages.js';

/** The one method of a `ws` WebSocket used here (ws 8: `fin: false` sends a non-final fragment). */
export interface FragmentSink {
  send(data: Uint8Array, options: { binary: boolean; fin: boolean }): void;
}

/**
 * The socket under the WebSocket (ws: `ws._socket`, a net.Socket). Corked while the fragments
 * are handed to ws, they leave in one vectored write: without it each fragment is a write of its
 * own, and with TCP_NODELAY the header goes out as a segment of a few hundred bytes that the
 * receiver wakes up for.
 */
export interface CorkableStream {
  cork(): void;
  uncork(): void;
}

export const JOIN_BELOW_BYTES = 64 * 1024;

/** The parts as one buffer (no copy when there is only one part). */
export function concatParts(parts: readonly Uint8Array[], byteLength = parts.reduce((n, p) => n + p.byteLength, 0)): Uint8Array {
  if (parts.length === 1) return parts[0];
  const joined = new Uint8Array(byteLength);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.byteLength;
  }
  return joined;
}

/** The fragments to send: runs of small parts joined, each large part as it is. Same bytes in order. */
export function fragmentsOf(parts: readonly Uint8Array[], joinBelow = JOIN_BELOW_BYTES): Uint8Array[] {
  const fragments: Uint8Array[] = [];
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = () => {
    if (pending.length === 0) return;
    fragments.push(concatParts(pending, pendingBytes));
    pending = [];
    pendingBytes = 0;
  };
  for (const part of parts) {
    if (part.byteLength >= joinBelow) {
      flush();
      fragments.push(part);
    } else {
      pending.push(part);
      pendingBytes += part.byteLength;
      if (pendingBytes >= joinBelow) flush();
    }
  }
  flush();
  return fragments;
}

/**
 * Sends the parts as one binary message. The fragments go out in one synchronous loop: ws queues
 * and writes sends in call order, and no other code runs between the calls, so no other message's
 * data can land between two fragments (ws may still send a ping or pong there, which RFC 6455
 * allows). The tensors' memory must not change until it is written: a server sends unmasked, so
 * ws writes that memory itself (tail outputs are never reused); a client masks into a buffer of
 * its own, and never writes to a crossing tensor anyway.
 */
export function sendFrameParts(ws: FragmentSink, parts: readonly Uint8Array[], stream?: CorkableStream): void {
  const fragments = fragmentsOf(parts);
  const last = fragments.length - 1;
  if (last === 0 || stream === undefined) {
    for (let i = 0; i <= last; i++) ws.send(fragments[i], { binary: true, fin: i === last });
    return;
  }
  stream.cork();
  try {
    for (let i = 0; i <= last; i++) ws.send(fragments[i], { binary: true, fin: i === last });
  } finally {
    stream.uncork();
  }
}

/**
 * Reads byte ranges of a message given as fragments, in increasing order (a frame is read front
 * to back): a range inside one fragment is a view of it, one that spans fragments is copied.
 */
class FragmentCursor {
  private index = 0;
  /** Message offset at which fragments[index] starts. */
  private start = 0;

  constructor(private readonly fragments: readonly Uint8Array[]) {}

  bytes(from: number, to: number): Uint8Array {
    while (this.start + this.fragments[this.index].byteLength <= from && this.index < this.fragments.length - 1) {
      this.start += this.fragments[this.index].byteLength;
      this.index += 1;
    }
    const first = this.fragments[this.index];
    // A plain Uint8Array view even when the fragment is a Buffer (as decodeFrame's tensors are):
    // Buffer#slice() is a view, so a consumer copying with slice() would otherwise alias ws's read buffer.
    if (to - this.start <= first.byteLength) return new Uint8Array(first.buffer, first.byteOffset + from - this.start, to - from);
    const joined = new Uint8Array(to - from);
    let written = 0;
    let at = this.index;
    let offset = from - this.start;
    while (written < joined.byteLength) {
      const piece = this.fragments[at].subarray(offset, offset + joined.byteLength - written);
      joined.set(piece, written);
      written += piece.byteLength;
      at += 1;
      offset = 0;
    }
    return joined;
  }
}

/**
 * Tensor data at a TENSOR_ALIGNMENT boundary of their ArrayBuffer, so a typed view of any
 * datatype (BigInt64Array for INT64) can be made without a copy. The encoder pads so that data
 * sit aligned within the frame; a receive buffer may still start anywhere (ws hands out slices
 * of the socket's read buffers), and only then are the data copied. Empty data get their own
 * empty buffer: even a zero-length typed view needs an aligned offset.
 */
function aligned(data: Uint8Array): Uint8Array {
  if (data.byteLength === 0) return new Uint8Array(0);
  // new Uint8Array(view) copies; a Buffer's own slice() would not.
  return data.byteOffset % TENSOR_ALIGNMENT === 0 ? data : new Uint8Array(data);
}

function alignTensors(message: Message): Message {
  const tensors =
    message.type === MessageType.InferRequest ? message.body.inputs : message.type === MessageType.InferResponse ? message.body.outputs : [];
  for (const tensor of tensors) tensor.data = aligned(tensor.data);
  return message;
}

/**
 * Decodes one message given as the fragments a WebSocket delivered (ws with binaryType
 * 'fragments'), or as one buffer. The result is the message decodeFrame gives for the
 * fragments' concatenation, and a frame it refuses is refused with the same error; but the
 * fragments are not joined: each tensor is a view of the fragment that holds it, copied only when
 * it spans fragments or does not sit 8-byte aligned (see `aligned`). Sent by sendFrameParts, a
 * large tensor is a fragment of its own, so it is neither joined nor copied on receipt.
 */
export function decodeFrameFragments(fragments: Uint8Array | readonly Uint8Array[], options?: DecodeOptions): Message {
  if (!Array.isArray(fragments)) return alignTensors(decodeFrame(fragments as Uint8Array, options));
  const list = fragments as readonly unknown[];
  const bad = list.findIndex((fragment) => !(fragment instanceof Uint8Array));
  if (bad >= 0) {
    throw new CarboncpError(ErrorCode.BAD_FRAME, `fragment ${bad} of a frame must be a Uint8Array, got ${describe(list[bad])}`, {
      closeCode: CloseCode.PROTOCOL_ERROR,
    });
  }
  const parts = (fragments as readonly Uint8Array[]).filter((fragment) => fragment.byteLength > 0);
  if (parts.length <= 1) return alignTensors(decodeFrame(parts[0] ?? new Uint8Array(0), options));
  const limits = resolveLimits(options);
  const total = parts.reduce((sum, part) => sum + part.byteLength, 0);
  if (total > limits.maxPayload) throw payloadTooLarge('frame', total, limits.maxPayload);
  // Whatever the checks below do not accept, decodeFrame judges on the joined bytes: the errors
  // stay exactly decodeFrame's, and a frame that fails costs the copy it always did.
  const joined = (): Message => alignTensors(decodeFrame(concatParts(parts, total), options));
  if (total < FIXED_HEADER_BYTES) return joined();
  const cursor = new FragmentCursor(parts);
  const fixed = readFixedHeader(cursor.bytes(0, FIXED_HEADER_BYTES));
  checkHeaderLength(fixed, limits, total);
  const start = FIXED_HEADER_BYTES + fixed.headerLength;
  const header = parseHeader(fixed, cursor.bytes(FIXED_HEADER_BYTES, start), limits);
  if (header.tensorBytes !== total - start) return joined();
  let offset = start;
  for (const tensor of header.tensors) {
    const size = tensor.parameters.binary_data_size;
    const data = aligned(cursor.bytes(offset, offset + size));
    if (tensor.datatype === 'BOOL' && firstNonBooleanByte(data) >= 0) return joined();
    (tensor as unknown as WireTensor).data = data;
    offset += size;
  }
  return { type: fixed.type, requestId: fixed.requestId, body: header.body } as unknown as Message;
}
