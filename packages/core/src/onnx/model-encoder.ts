/**
 * Writes a protobuf message into one buffer of exactly its encoded size. protobuf-es' toBinary
 * grows a single buffer by doubling and copies the written part out at the end, so encoding
 * W bytes of weights briefly holds up to about 3W next to the weights themselves: that was
 * what pushed partitioning a model above 3x the model's size. Instead, the protobuf library
 * encodes only the small parts of a message (proto.ts decides which), and the bulky
 * length-delimited fields (the graph, its nodes and initializers, down to the tensors'
 * raw_data, which is never copied but once, into the output) are spliced back in exactly where
 * the library would have written them, so the bytes are the library's own.
 *
 * This module knows the wire format only, not the protobuf library nor ONNX.
 */
import { CarboncpError, ErrorCode } from '@carboncp/protocol';

/** A message encoded without some of its length-delimited fields, which are spliced back in. */
export interface SplicedMessage {
  /**
   * The message's known fields except the spliced ones, as the library writes them: in
   * ascending field-number order, which is what tells where each spliced field belongs.
   */
  readonly known: Uint8Array;
  /** Its unknown fields, kept apart because the library writes them after every known field. */
  readonly unknown: Uint8Array;
  /** In any order; each field's values stay in their order. */
  readonly fields: readonly SplicedField[];
}

export interface SplicedField {
  readonly fieldNumber: number;
  /** One value for a singular field; each either encoded already or spliced in turn. */
  readonly values: readonly (Uint8Array | SplicedMessage)[];
}

/** protobuf's hard limit on a message (2 GiB - 1); ONNX files are bound by it too. */
export const MAX_MESSAGE_BYTES = 2 ** 31 - 1;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

/** Encodes `message` into a fresh buffer of exactly its size. */
export function encodeSpliced(message: SplicedMessage): Uint8Array {
  const sizes = new Map<SplicedMessage, number>();
  const total = measure(message, sizes);
  if (total > MAX_MESSAGE_BYTES) {
    throw new CarboncpError(
      ErrorCode.MODEL_TOO_LARGE,
      `the model would encode to ${total} bytes, above protobuf's limit of ${MAX_MESSAGE_BYTES} bytes (2 GiB); ONNX keeps weights that large in external data files, which carboncp does not write`,
      { details: { bytes: total, limit: MAX_MESSAGE_BYTES } },
    );
  }
  const out = new Uint8Array(total);
  const end = write(message, out, 0, sizes);
  if (end !== total) {
    throw new CarboncpError(ErrorCode.INTERNAL, `model encoder wrote ${end} bytes into a buffer sized ${total}`);
  }
  return out;
}

function measure(message: SplicedMessage, sizes: Map<SplicedMessage, number>): number {
  let size = message.known.byteLength + message.unknown.byteLength;
  for (const { fieldNumber, values } of message.fields) {
    const tagBytes = varintSize(tagOf(fieldNumber));
    for (const value of values) {
      const length = value instanceof Uint8Array ? value.byteLength : measure(value, sizes);
      size += tagBytes + varintSize(length) + length;
    }
  }
  sizes.set(message, size);
  return size;
}

function write(message: SplicedMessage, out: Uint8Array, start: number, sizes: Map<SplicedMessage, number>): number {
  const { known, unknown } = message;
  const fields = [...message.fields].sort((a, b) => a.fieldNumber - b.fieldNumber);
  let pos = start;
  let copied = 0;
  for (const { fieldNumber, values } of fields) {
    const at = insertionPoint(known, fieldNumber, copied);
    out.set(known.subarray(copied, at), pos);
    pos += at - copied;
    copied = at;
    const tag = tagOf(fieldNumber);
    for (const value of values) {
      const nested = !(value instanceof Uint8Array);
      const length = nested ? (sizes.get(value) ?? 0) : value.byteLength;
      pos = writeVarint(out, pos, tag);
      pos = writeVarint(out, pos, length);
      if (nested) {
        pos = write(value, out, pos, sizes);
      } else {
        out.set(value, pos);
        pos += length;
      }
    }
  }
  out.set(known.subarray(copied), pos);
  pos += known.byteLength - copied;
  out.set(unknown, pos);
  return pos + unknown.byteLength;
}

/**
 * Offset of the first field numbered above `fieldNumber` in `known` from `from` on (or its
 * end): fields are written in field-number order, a repeated field's values all together.
 */
export function insertionPoint(known: Uint8Array, fieldNumber: number, from = 0): number {
  let pos = from;
  while (pos < known.byteLength) {
    const fieldStart = pos;
    const [tag, afterTag] = readVarint(known, pos);
    if (Math.floor(tag / 8) > fieldNumber) return fieldStart;
    pos = afterTag;
    switch (tag % 8) {
      case WIRE_VARINT:
        pos = readVarint(known, pos)[1];
        break;
      case WIRE_FIXED64:
        pos += 8;
        break;
      case WIRE_FIXED32:
        pos += 4;
        break;
      case WIRE_LENGTH_DELIMITED: {
        const [length, afterLength] = readVarint(known, pos);
        pos = afterLength + length;
        break;
      }
      default:
        // Groups are a proto2 relic that ONNX never declares, so a known field cannot be one.
        throw new CarboncpError(ErrorCode.INTERNAL, `model encoder: unexpected wire type ${tag % 8} at byte ${fieldStart} of a known-field block`);
    }
  }
  if (pos !== known.byteLength) {
    throw new CarboncpError(ErrorCode.INTERNAL, `model encoder: the known-field block ends inside a field (${known.byteLength} bytes, field ends at ${pos})`);
  }
  return pos;
}

function tagOf(fieldNumber: number): number {
  return fieldNumber * 8 + WIRE_LENGTH_DELIMITED;
}

/** Arithmetic, not bit operators: those wrap at 32 bits, and lengths near 2 GiB must not. */
export function varintSize(value: number): number {
  let size = 1;
  for (let v = value; v >= 128; v = Math.floor(v / 128)) size++;
  return size;
}

function writeVarint(out: Uint8Array, start: number, value: number): number {
  let pos = start;
  let v = value;
  while (v >= 128) {
    out[pos++] = (v % 128) + 128;
    v = Math.floor(v / 128);
  }
  out[pos++] = v;
  return pos;
}

function readVarint(bytes: Uint8Array, start: number): [value: number, end: number] {
  let value = 0;
  let scale = 1;
  let pos = start;
  for (;;) {
    if (pos >= bytes.byteLength) {
      throw new CarboncpError(ErrorCode.INTERNAL, `model encoder: a varint runs past the end of a ${bytes.byteLength}-byte known-field block`);
    }
    const byte = bytes[pos++];
    value += (byte & 127) * scale;
    if (byte < 128) return [value, pos];
    scale *= 128;
  }
}
