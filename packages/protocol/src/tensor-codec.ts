import {
  arrayFitsDatatype,
  bytesPerElement,
  datatypeOfArray,
  describe,
  describeShape,
  elementCount,
  firstNonBooleanByte,
  isDataType,
  typedArrayView,
  type TensorArray,
} from './datatypes.js';
import { CarboncpError } from './errors.js';
import { ErrorCode } from './error-codes.js';
import { float16BitsToFloat32, float32ToFloat16Bits } from './float16.js';
import { compressionList, isCompression, type Compression, type DataType, type TensorParameters, type WireTensor } from './messages.js';
import { dequantize, quantizeUint8 } from './quantize.js';
import { validateTensorHeader } from './validate-header.js';

// Typed arrays use the host's byte order and the wire is little-endian. Every platform Node and
// the browsers ship on is little-endian; refuse loudly rather than corrupt tensors elsewhere.
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function requireLittleEndianHost(): void {
  if (!HOST_IS_LITTLE_ENDIAN) {
    throw new CarboncpError(ErrorCode.INTERNAL, 'carboncp tensors need a little-endian host; this one is big-endian');
  }
}

function bytesOf(data: TensorArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Wraps a typed array as a wire tensor without copying: `data` aliases the array's memory. The
 * datatype defaults to the array's own (Uint16Array means FP16 bits; pass 'BOOL' for a
 * Uint8Array of 0/1). `parameters` may carry scale and zero_point for INT8/UINT8.
 */
export function tensorFromArray(
  name: string,
  data: TensorArray,
  shape: number[],
  datatype?: DataType,
  parameters?: TensorParameters,
): WireTensor {
  requireLittleEndianHost();
  const natural = datatypeOfArray(data);
  if (natural === undefined) {
    throw new CarboncpError(
      ErrorCode.BAD_TENSOR,
      `tensor ${describe(name)}: data must be a Float32Array, Uint16Array, Int8Array, Uint8Array, Int32Array or BigInt64Array, got ${describe(data)}`,
    );
  }
  const type = datatype ?? natural;
  if (!isDataType(type)) {
    throw new CarboncpError(ErrorCode.BAD_TENSOR, `tensor ${describe(name)}: unknown datatype ${describe(type)}`);
  }
  if (!arrayFitsDatatype(data, type)) {
    throw new CarboncpError(
      ErrorCode.BAD_TENSOR,
      `tensor ${describe(name)}: a ${data.constructor.name} cannot hold ${type} (it holds ${natural})`,
    );
  }
  const count = elementCount(shape, `tensor ${describe(name)}`);
  if (count !== data.length) {
    throw new CarboncpError(
      ErrorCode.BAD_TENSOR,
      `tensor ${describe(name)}: shape ${describeShape(shape)} has ${count} elements, but data has ${data.length}`,
    );
  }
  if (type === 'BOOL') {
    const at = firstNonBooleanByte(bytesOf(data));
    if (at >= 0) {
      throw new CarboncpError(
        ErrorCode.BAD_TENSOR,
        `tensor ${describe(name)}: BOOL data must hold only 0 and 1, but element ${at} is ${data[at]}`,
      );
    }
  }
  const tensor: WireTensor = {
    name,
    datatype: type,
    shape: [...shape],
    data: bytesOf(data),
    parameters: { ...parameters, binary_data_size: data.byteLength },
  };
  validateTensorHeader(tensor, 'tensor');
  return tensor;
}

/**
 * The tensor's elements as a typed array: a view of `data` when its byte offset suits the element
 * type, otherwise a copy (incoming buffers are never assumed aligned). FP16 comes back as raw
 * Uint16 bits, BOOL as a Uint8Array.
 */
export function tensorToArray(t: WireTensor): TensorArray {
  requireLittleEndianHost();
  if (!(t.data instanceof Uint8Array)) {
    throw new CarboncpError(ErrorCode.BAD_TENSOR, `tensor ${describe(t.name)}: data must be a Uint8Array, got ${describe(t.data)}`);
  }
  if (!isDataType(t.datatype)) {
    throw new CarboncpError(ErrorCode.BAD_TENSOR, `tensor ${describe(t.name)}: unknown datatype ${describe(t.datatype)}`);
  }
  const size = bytesPerElement(t.datatype);
  const count = elementCount(t.shape, `tensor ${describe(t.name)}`);
  if (t.data.byteLength !== count * size) {
    throw new CarboncpError(
      ErrorCode.BAD_TENSOR,
      `tensor ${describe(t.name)}: data is ${t.data.byteLength} bytes, but shape ${describeShape(t.shape)} of ${t.datatype} needs ${count * size}`,
    );
  }
  // new Uint8Array(view) always copies into a fresh buffer at offset 0. Not data.slice(): on a
  // Node Buffer (what a socket hands over) slice() is a view at the same unaligned offset.
  const bytes = t.data.byteOffset % size === 0 ? t.data : new Uint8Array(t.data);
  return typedArrayView(t.datatype, bytes.buffer, bytes.byteOffset, count);
}

const COMPRESSION_PARAMETERS = ['binary_data_size', 'scale', 'zero_point', 'original_datatype'];

function otherParameters(parameters: TensorParameters | undefined): TensorParameters {
  const rest: TensorParameters = {};
  for (const [key, value] of Object.entries(parameters ?? {})) {
    if (!COMPRESSION_PARAMETERS.includes(key)) rest[key] = value;
  }
  return rest;
}

/**
 * Compresses an FP32 tensor for the wire: 'fp16' to IEEE half (relative error <= 2^-11 in the
 * normal range, overflow past 65504 to Infinity), 'int8' to UINT8 with scale and zero_point
 * (error <= scale / 2; throws CARBONCP_BAD_TENSOR on NaN or Infinity). Both record
 * original_datatype 'FP32' for decompressTensor. 'none' and non-FP32 tensors come back unchanged.
 */
export function compressTensor(t: WireTensor, compression: Compression): WireTensor {
  if (!isCompression(compression)) {
    throw new CarboncpError(
      ErrorCode.INVALID_ARGUMENT,
      `unknown compression ${describe(compression)}; expected ${compressionList()}`,
    );
  }
  if (compression === 'none' || t.datatype !== 'FP32') return t;
  const values = tensorToArray(t) as Float32Array;
  const base = { name: t.name, shape: [...t.shape] };
  if (compression === 'fp16') {
    const bits = float32ToFloat16Bits(values);
    return {
      ...base,
      datatype: 'FP16',
      data: bytesOf(bits),
      parameters: { ...otherParameters(t.parameters), binary_data_size: bits.byteLength, original_datatype: 'FP32' },
    };
  }
  const { data, scale, zeroPoint } = quantizeUint8(values);
  return {
    ...base,
    datatype: 'UINT8',
    data,
    parameters: {
      ...otherParameters(t.parameters),
      binary_data_size: data.byteLength,
      scale,
      zero_point: zeroPoint,
      original_datatype: 'FP32',
    },
  };
}

/** Undoes compressTensor: restores FP32 when parameters.original_datatype is set, else returns t. */
export function decompressTensor(t: WireTensor): WireTensor {
  const original = t.parameters?.original_datatype;
  if (original === undefined) return t;
  const at = `tensor ${describe(t.name)}`;
  if (original !== 'FP32') {
    throw new CarboncpError(ErrorCode.BAD_TENSOR, `${at}: cannot restore original_datatype ${describe(original)}; only FP32 is supported`);
  }
  let values: Float32Array;
  if (t.datatype === 'FP16') {
    values = float16BitsToFloat32(tensorToArray(t) as Uint16Array);
  } else if (t.datatype === 'UINT8' || t.datatype === 'INT8') {
    const { scale, zero_point: zeroPoint } = t.parameters ?? {};
    // Checked here too, not only by the decoder: a tensor built in memory never went through it.
    const [low, high] = t.datatype === 'UINT8' ? [0, 255] : [-128, 127];
    if (
      typeof scale !== 'number' ||
      !(scale >= 0) ||
      !Number.isFinite(scale) ||
      typeof zeroPoint !== 'number' ||
      !Number.isInteger(zeroPoint) ||
      zeroPoint < low ||
      zeroPoint > high
    ) {
      throw new CarboncpError(
        ErrorCode.BAD_TENSOR,
        `${at}: a quantised ${t.datatype} tensor needs a finite scale >= 0 and an integer zero_point in ${low}..${high}, ` +
          `got scale ${describe(scale)}, zero_point ${describe(zeroPoint)}`,
      );
    }
    values = dequantize(tensorToArray(t) as Uint8Array | Int8Array, { scale, zeroPoint });
  } else {
    throw new CarboncpError(ErrorCode.BAD_TENSOR, `${at}: a ${t.datatype} tensor is not a compressed form of FP32`);
  }
  return {
    name: t.name,
    datatype: 'FP32',
    shape: [...t.shape],
    data: bytesOf(values),
    parameters: { ...otherParameters(t.parameters), binary_data_size: values.byteLength },
  };
}
