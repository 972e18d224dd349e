import { describe } from './datatypes.js';
import { CarboncpError } from './errors.js';
import { CloseCode, ErrorCode } from './error-codes.js';
import { assembleMessage, checkHeaderLength, parseHeader, payloadTooLarge } from './frame-decoder.js';
import { readFixedHeader, type FixedHeader } from './frame-header.js';
import { resolveLimits, type DecodeLimits, type DecodeOptions } from './limits.js';
import { FIXED_HEADER_BYTES, type Message } from './messages.js';
import type { ValidatedHeader } from './validate-header.js';

/**
 * Splits a byte stream (TCP, a pipe, a WebSocket whose messages were split) into frames. Frames
 * carry no total length: the reader learns it from the JSON header (sum of binary_data_size), so
 * it parses and checks the header as soon as it has arrived and refuses an oversize frame before
 * buffering its tensors. Tensor data of returned messages alias the pushed chunks when a frame
 * lies within one chunk; a frame spread over chunks is copied once into its own buffer.
 *
 * After an error the stream position is lost, so the reader refuses everything afterwards.
 */
export class FrameReader {
  readonly #limits: DecodeLimits;
  #chunks: Uint8Array[] = [];
  /** Bytes of #chunks[0] already consumed. */
  #head = 0;
  #buffered = 0;
  #fixed: FixedHeader | undefined;
  #header: ValidatedHeader | undefined;
  #frameLength = 0;
  #failure: CarboncpError | undefined;

  constructor(options?: DecodeOptions) {
    this.#limits = resolveLimits(options);
  }

  /** Bytes received but not yet returned as messages. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Adds bytes; returns the messages completed by them, in order (often none). */
  push(chunk: Uint8Array): Message[] {
    if (this.#failure !== undefined) {
      throw new CarboncpError(ErrorCode.BAD_FRAME, `frame reader failed earlier and cannot resynchronise: ${this.#failure.message}`, {
        cause: this.#failure,
        closeCode: this.#failure.closeCode ?? CloseCode.PROTOCOL_ERROR,
      });
    }
    if (!(chunk instanceof Uint8Array)) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `push() takes a Uint8Array, got ${describe(chunk)}`);
    }
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const messages: Message[] = [];
    try {
      for (let message = this.#next(); message !== undefined; message = this.#next()) messages.push(message);
    } catch (error) {
      this.#failure = error instanceof CarboncpError ? error : new CarboncpError(ErrorCode.BAD_FRAME, String(error), { cause: error });
      this.#chunks = [];
      this.#buffered = 0;
      throw this.#failure;
    }
    return messages;
  }

  #next(): Message | undefined {
    if (this.#fixed === undefined) {
      if (this.#buffered < FIXED_HEADER_BYTES) return undefined;
      this.#fixed = readFixedHeader(this.#peek(FIXED_HEADER_BYTES));
      checkHeaderLength(this.#fixed, this.#limits, undefined);
    }
    const fixed = this.#fixed;
    const prefixLength = FIXED_HEADER_BYTES + fixed.headerLength;
    if (this.#header === undefined) {
      if (this.#buffered < prefixLength) return undefined;
      this.#header = parseHeader(fixed, this.#peek(prefixLength).subarray(FIXED_HEADER_BYTES), this.#limits);
      this.#frameLength = prefixLength + this.#header.tensorBytes;
      if (this.#frameLength > this.#limits.maxPayload) {
        throw payloadTooLarge('frame', this.#frameLength, this.#limits.maxPayload);
      }
    }
    if (this.#buffered < this.#frameLength) return undefined;
    const frame = this.#take(this.#frameLength);
    const message = assembleMessage(fixed, this.#header, frame);
    this.#fixed = undefined;
    this.#header = undefined;
    return message;
  }

  /** The first `length` buffered bytes, contiguous: a view when they lie in one chunk, else a copy. */
  #peek(length: number): Uint8Array {
    const first = this.#chunks[0];
    if (first.length - this.#head >= length) return first.subarray(this.#head, this.#head + length);
    const out = new Uint8Array(length);
    let filled = 0;
    let offset = this.#head;
    for (const chunk of this.#chunks) {
      const part = chunk.subarray(offset, offset + length - filled);
      out.set(part, filled);
      filled += part.length;
      offset = 0;
      if (filled === length) break;
    }
    return out;
  }

  /** Removes and returns the first `length` buffered bytes. */
  #take(length: number): Uint8Array {
    const out = this.#peek(length);
    let remaining = length;
    let drop = 0;
    while (remaining > 0) {
      const available = this.#chunks[drop].length - this.#head;
      if (available > remaining) {
        this.#head += remaining;
        break;
      }
      remaining -= available;
      drop++;
      this.#head = 0;
    }
    // One splice per frame: shifting chunk by chunk would be quadratic for byte-sized chunks.
    this.#chunks.splice(0, drop);
    this.#buffered -= length;
    return out;
  }
}
