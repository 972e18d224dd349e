import { CarboncpError } from './errors.js';
import { ErrorCode } from './error-codes.js';
import type { DataType } from './messages.js';

/** One tensor element type: its names in each world carboncp talks to, and its size. */
export interface ElementType {
  /** KServe v2 name: what the wire carries and what every shape report uses. */
  readonly dtype: string;
  /** ONNX TensorProto.DataType number. */
  readonly onnx: number;
  /** onnxruntime's tensor type name. */
  readonly ort: string;
  /** Bytes per element; NaN for variable-size (string) elements. */
  readonly bytes: number;
  /** Whether the carboncp wire format carries it (the DataType union). */
  readonly wire: boolean;
}

/**
 * The one table of tensor element types. The ONNX numbers are written out because this package
 * imports nothing; core's dtype test checks them against onnx's own enum. The wire types come
 * first, in the order of DATATYPES.
 */
export const ELEMENT_TYPES = [
  { dtype: 'FP32', onnx: 1, ort: 'float32', bytes: 4, wire: true },
  { dtype: 'FP16', onnx: 10, ort: 'float16', bytes: 2, wire: true },
  { dtype: 'INT8', onnx: 3, ort: 'int8', bytes: 1, wire: true },
  { dtype: 'UINT8', onnx: 2, ort: 'uint8', bytes: 1, wire: true },
  { dtype: 'INT32', onnx: 6, ort: 'int32', bytes: 4, wire: true },
  { dtype: 'INT64', onnx: 7, ort: 'int64', bytes: 8, wire: true },
  { dtype: 'BOOL', onnx: 9, ort: 'bool', bytes: 1, wire: true },
  { dtype: 'UINT16', onnx: 4, ort: 'uint16', bytes: 2, wire: false },
  { dtype: 'INT16', onnx: 5, ort: 'int16', bytes: 2, wire: false },
  { dtype: 'BYTES', onnx: 8, ort: 'string', bytes: Number.NaN, wire: false },
  { dtype: 'FP64', onnx: 11, ort: 'float64', bytes: 8, wire: false },
  { dtype: 'UINT32', onnx: 12, ort: 'uint32', bytes: 4, wire: false },
  { dtype: 'UINT64', onnx: 13, ort: 'uint64', bytes: 8, wire: false },
  { dtype: 'BF16', onnx: 16, ort: 'bfloat16', bytes: 2, wire: false },
] as const satisfies readonly ElementType[];

type WireDtype = Extract<(typeof ELEMENT_TYPES)[number], { wire: true }>['dtype'];
// The table's wire types and the DataType union of messages.ts are the same set (compile-time check).
const wireTypesAreDataTypes: [WireDtype, DataType] extends [DataType, WireDtype] ? true : never = true;
void wireTypesAreDataTypes;

/** The datatypes the wire carries. */
export const DATATYPES: readonly DataType[] = ELEMENT_TYPES.filter((type) => type.wire).map((type) => type.dtype as DataType);

const BY_DTYPE: ReadonlyMap<string, ElementType> = new Map(ELEMENT_TYPES.map((type) => [type.dtype, type]));
const WIRE: ReadonlySet<string> = new Set(DATATYPES);

/** The typed array that holds each datatype: FP16 as raw IEEE half bits, BOOL as one byte (0/1). */
export type TensorArray = Float32Array | Uint16Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;

export function isDataType(value: unknown): value is DataType {
  return typeof value === 'string' && WIRE.has(value);
}

/** The table's entry for a KServe name; undefined for names it does not know. */
export function elementTypeOf(dtype: string): ElementType | undefined {
  return BY_DTYPE.get(dtype);
}

/**
 * Bytes per element of any element type in the table (FP64 and the other non-wire types too);
 * NaN for variable-size (BYTES) or unknown types, so a size computed from it is NaN, not wrong.
 */
export function bytesPerElement(dtype: string): number {
  return BY_DTYPE.get(dtype)?.bytes ?? Number.NaN;
}

/** Constructs the typed array of a datatype over existing memory (no copy). */
export function typedArrayView(datatype: DataType, buffer: ArrayBufferLike, byteOffset: number, length: number): TensorArray {
  switch (datatype) {
    case 'FP32':
      return new Float32Array(buffer, byteOffset, length);
    case 'FP16':
      return new Uint16Array(buffer, byteOffset, length);
    case 'INT8':
      return new Int8Array(buffer, byteOffset, length);
    case 'UINT8':
    case 'BOOL':
      return new Uint8Array(buffer, byteOffset, length);
    case 'INT32':
      return new Int32Array(buffer, byteOffset, length);
    case 'INT64':
      return new BigInt64Array(buffer, byteOffset, length);
  }
}

/** The datatype a typed array carries when the caller names none (Uint8Array means UINT8, not BOOL). */
export function datatypeOfArray(data: unknown): DataType | undefined {
  if (data instanceof Float32Array) return 'FP32';
  if (data instanceof Uint16Array) return 'FP16';
  if (data instanceof Int8Array) return 'INT8';
  if (data instanceof Uint8Array) return 'UINT8';
  if (data instanceof Int32Array) return 'INT32';
  if (data instanceof BigInt64Array) return 'INT64';
  return undefined;
}

/** Whether the typed array class can hold the datatype (UINT8 and BOOL share Uint8Array). */
export function arrayFitsDatatype(data: TensorArray, datatype: DataType): boolean {
  const natural = datatypeOfArray(data);
  return natural === datatype || (natural === 'UINT8' && datatype === 'BOOL');
}

/**
 * Number of elements of a shape, rejecting anything that is not an array of non-negative safe
 * integers or whose product leaves the safe integer range.
 */
export function elementCount(shape: unknown, what: string): number {
  if (!Array.isArray(shape)) {
    throw new CarboncpError(ErrorCode.BAD_TENSOR, `${what}.shape must be an array of dimensions, got ${describe(shape)}`);
  }
  let count = 1;
  let overflow = false;
  for (let i = 0; i < shape.length; i++) {
    const dim: unknown = shape[i];
    if (typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 0) {
      throw new CarboncpError(
        ErrorCode.BAD_TENSOR,
        `${what}.shape[${i}] must be a non-negative safe integer, got ${describe(dim)}`,
      );
    }
    count *= dim;
    if (!Number.isSafeInteger(count)) {
      overflow = true;
      count = 1;
    }
  }
  // A zero dimension anywhere makes an otherwise overflowing product a valid empty tensor.
  if (shape.includes(0)) return 0;
  if (overflow) {
    throw new CarboncpError(
      ErrorCode.BAD_TENSOR,
      `${what}.shape ${describeShape(shape)} overflows the element count (product exceeds 2^53 - 1)`,
    );
  }
  return count;
}

/**
 * Index of the first byte of BOOL tensor data that is neither 0 nor 1, or -1. onnxruntime copies
 * BOOL bytes into C++ bools, where any other value is undefined behaviour, so it never gets one.
 */
export function firstNonBooleanByte(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] > 1) return i;
  return -1;
}

/** A shape for error messages, bounded: a hostile header may declare thousands of dims. */
export function describeShape(shape: readonly unknown[]): string {
  const MAX_DIMS = 16;
  if (shape.length <= MAX_DIMS) return `[${shape.join(', ')}]`;
  return `[${shape.slice(0, MAX_DIMS).join(', ')}, ... (rank ${shape.length})]`;
}

/** A short, bounded rendering of an untrusted value for error messages. */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `array of length ${value.length}`;
  if (typeof value === 'bigint') return `bigint ${value}`;
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
