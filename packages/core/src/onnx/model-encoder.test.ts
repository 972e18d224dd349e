import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from 'vitest';
import { isCarboncpError } from '@carboncp/protocol';
import { MAX_MESSAGE_BYTES, encodeSpliced, insertionPoint, varintSize, type SplicedMessage } from './model-encoder.js';

/** protobuf-es' own writer is the oracle: whatever it writes in one go, splicing must match. */
type Field = [no: number, value: number | Uint8Array | Field[]];
function writeFields(writer: BinaryWriter, fields: Field[]): BinaryWriter {
  for (const [no, value] of fields) {
    if (typeof value === 'number') writer.tag(no, WireType.Varint).uint64(value);
    else if (value instanceof Uint8Array) writer.tag(no, WireType.LengthDelimited).bytes(value);
    else writeFields(writer.tag(no, WireType.LengthDelimited).fork(), value).join();
  }
  return writer;
}
const encode = (fields: Field[]): Uint8Array => writeFields(new BinaryWriter(), fields).finish();
const bytesOf = (length: number, seed: number): Uint8Array => Uint8Array.from({ length }, (_, i) => (i * 31 + seed) % 251);

describe('encodeSpliced', () => {
  it('puts a spliced field between the known fields numbered below and above it, unknown fields last', () => {
    const payload = bytesOf(5, 1);
    const message: SplicedMessage = {
      known: encode([[1, 150], [2, bytesOf(3, 2)], [9, 7], [12, bytesOf(2, 3)]]),
      unknown: encode([[3, 4]]),
      fields: [{ fieldNumber: 5, values: [payload] }],
    };
    expect(encodeSpliced(message)).toEqual(encode([[1, 150], [2, bytesOf(3, 2)], [5, payload], [9, 7], [12, bytesOf(2, 3)], [3, 4]]));
  });

  it('writes at the start, at the end, and when the message has no known field', () => {
    const v = bytesOf(4, 5);
    expect(encodeSpliced({ known: encode([[3, 1]]), unknown: new Uint8Array(), fields: [{ fieldNumber: 2, values: [v] }] })).toEqual(encode([[2, v], [3, 1]]));
    expect(encodeSpliced({ known: encode([[3, 1]]), unknown: new Uint8Array(), fields: [{ fieldNumber: 4, values: [v] }] })).toEqual(encode([[3, 1], [4, v]]));
    // An unknown field numbered below the spliced one still follows it, as protobuf-es writes it.
    expect(encodeSpliced({ known: new Uint8Array(), unknown: encode([[1, 9]]), fields: [{ fieldNumber: 4, values: [v] }] })).toEqual(encode([[4, v], [1, 9]]));
  });

  it('splices several fields, given in any order, including two at the same point', () => {
    const [a, b, c] = [bytesOf(3, 1), bytesOf(4, 2), bytesOf(5, 3)];
    const message: SplicedMessage = {
      known: encode([[2, 8], [6, 9]]),
      unknown: new Uint8Array(),
      fields: [
        { fieldNumber: 9, values: [c] },
        { fieldNumber: 4, values: [b, a] },
        { fieldNumber: 3, values: [a] },
        { fieldNumber: 1, values: [] },
      ],
    };
    expect(encodeSpliced(message)).toEqual(encode([[2, 8], [3, a], [4, b], [4, a], [6, 9], [9, c]]));
  });

  it('writes a repeated field value by value, nested splices included, with multi-byte tags and lengths', () => {
    // Lengths of 127, 128 and 16,384 bytes take one, two and three bytes of length prefix;
    // field 25 (ModelProto.functions) takes a two-byte tag.
    const small = bytesOf(127, 7);
    const medium = bytesOf(128, 8);
    const large = bytesOf(16_384, 9);
    const inner: SplicedMessage = { known: encode([[8, bytesOf(6, 10)], [10, 3]]), unknown: encode([[15, 2]]), fields: [{ fieldNumber: 9, values: [large] }] };
    const message: SplicedMessage = {
      known: encode([[1, 1], [30, 2]]),
      unknown: new Uint8Array(),
      fields: [{ fieldNumber: 25, values: [small, inner, medium, new Uint8Array()] }],
    };
    const innerFields: Field[] = [[8, bytesOf(6, 10)], [9, large], [10, 3], [15, 2]];
    expect(encodeSpliced(message)).toEqual(encode([[1, 1], [25, small], [25, innerFields], [25, medium], [25, new Uint8Array()], [30, 2]]));
  });

  it('skips 64- and 32-bit fields and 10-byte varints when looking for the insertion point', () => {
    const writer = new BinaryWriter();
    writer.tag(1, WireType.Bit64).double(1.5);
    writer.tag(2, WireType.Bit32).float(2.5);
    writer.tag(3, WireType.Varint).int64(-1n);
    writer.tag(7, WireType.Varint).int32(1);
    const known = writer.finish();
    expect(insertionPoint(known, 5)).toBe(known.byteLength - 2);
    expect(insertionPoint(known, 0)).toBe(0);
    expect(insertionPoint(known, 7)).toBe(known.byteLength);
  });

  it('refuses a truncated known-field block with CARBONCP_INTERNAL', () => {
    const known = encode([[1, bytesOf(10, 1)]]);
    expect(() => insertionPoint(known.subarray(0, 5), 3)).toThrow(/ends inside a field/);
    expect(() => insertionPoint(Uint8Array.of(0x80), 3)).toThrow(/runs past the end/);
  });

  it('measures varints across the 7-bit boundaries, up to 2 GiB', () => {
    expect([0, 127, 128, 16_383, 16_384, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, MAX_MESSAGE_BYTES, 2 ** 35].map(varintSize)).toEqual([
      1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6,
    ]);
  });

  it('refuses a message above 2 GiB with CARBONCP_MODEL_TOO_LARGE before allocating it', () => {
    // 65 references to one 32 MiB buffer: 2 GiB + a bit of encoded size, 32 MiB of memory.
    const chunk = new Uint8Array(32 * 1024 * 1024);
    const message: SplicedMessage = { known: new Uint8Array(), unknown: new Uint8Array(), fields: [{ fieldNumber: 9, values: Array.from({ length: 65 }, () => chunk) }] };
    let error: unknown;
    try {
      encodeSpliced(message);
    } catch (e) {
      error = e;
    }
    expect(isCarboncpError(error, 'CARBONCP_MODEL_TOO_LARGE')).toBe(true);
    const size = 65 * (1 + varintSize(chunk.byteLength) + chunk.byteLength);
    expect((error as Error).message).toContain(`${size} bytes, above protobuf's limit of ${2 ** 31 - 1}`);
  });
});
