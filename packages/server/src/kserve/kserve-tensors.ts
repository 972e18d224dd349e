/**
 * Tensors of a KServe v2 body as carboncp WireTensors, both ways. A tensor's data is either JSON
 * (`data`: the elements row-major, flat or nested) or binary (`parameters.binary_data_size`: its
 * bytes follow the JSON, little-endian, in entry order). Datatype names are KServe's own, the
 * names of @carboncp/protocol's element-type table; the datatypes the carboncp wire carries are
 * the ones accepted here (BYTES, FP64 and the like are refused by name).
 */
import {
  CarboncpError,
  DATATYPES,
  ErrorCode,
  float16BitsToFloat32,
  float32ToFloat16,
  isDataType,
  tensorFromArray,
  tensorToArray,
  validateTensorHeader,
  type DataType,
  type TensorArray,
  type WireTensor,
} from '@carboncp/protocol';

function badTensor(message: string): CarboncpError {
  return new CarboncpError(ErrorCode.BAD_TENSOR, message);
}

/** The inclusive integer range of each integer datatype that JSON numbers can carry exactly. */
const INTEGER_RANGE: Partial<Record<DataType, [number, number]>> = {
  INT8: [-128, 127],
  UINT8: [0, 255],
  INT32: [-(2 ** 31), 2 ** 31 - 1],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

/** Flattens nested JSON arrays (at most `depth` levels: a tensor's rank bounds the nesting). */
function flatten(data: unknown[], depth: number, at: string): unknown[] {
  if (!data.some(Array.isArray)) return data;
  if (depth <= 1) throw badTensor(`${at}.data is nested deeper than the tensor's rank`);
  const out: unknown[] = [];
  for (const item of data) {
    if (Array.isArray(item)) out.push(...flatten(item, depth - 1, at));
    else out.push(item);
  }
  return out;
}

function typedFromJson(datatype: DataType, values: unknown[], at: string): TensorArray {
  const bad = (i: number, want: string) => badTensor(`${at}.data[${i}] must be ${want}, got ${JSON.stringify(values[i])?.slice(0, 40)}`);
  if (datatype === 'BOOL') {
    return Uint8Array.from(values, (v, i) => {
      if (typeof v !== 'boolean') throw bad(i, 'true or false');
      return v ? 1 : 0;
    });
  }
  const numbers = values.map((v, i) => {
    if (typeof v !== 'number') throw bad(i, `a number (${datatype})`);
    const range = INTEGER_RANGE[datatype];
    if (range && (!Number.isInteger(v) || v < range[0] || v > range[1])) throw bad(i, `an integer in ${range[0]}..${range[1]} (${datatype})`);
    return v;
  });
  switch (datatype) {
    case 'FP32':
      return Float32Array.from(numbers);
    case 'FP16':
      return Uint16Array.from(numbers, (v) => float32ToFloat16(v));
    case 'INT8':
      return Int8Array.from(numbers);
    case 'UINT8':
      return Uint8Array.from(numbers);
    case 'INT32':
      return Int32Array.from(numbers);
    case 'INT64':
      return BigInt64Array.from(numbers, (v) => BigInt(v));
  }
}

/**
 * The tensors of a request's `inputs` (or a response's `outputs`), binary data taken from
 * `binary` in entry order. Every byte of `binary` must belong to a tensor. Throws
 * CARBONCP_BAD_TENSOR naming the entry.
 */
export function decodeTensorEntries(entries: unknown, binary: Uint8Array, what: 'inputs' | 'outputs'): WireTensor[] {
  if (!Array.isArray(entries)) throw badTensor(`${what} must be an array of tensors`);
  let offset = 0;
  const tensors = entries.map((entry: unknown, i): WireTensor => {
    const at = `${what}[${i}]`;
    if (entry === null || typeof entry !== 'object') throw badTensor(`${at} must be an object`);
    const { name, datatype, shape, data, parameters } = entry as Record<string, unknown>;
    if (!isDataType(datatype)) {
      throw badTensor(`${at}.datatype must be one of ${DATATYPES.join(', ')} (the datatypes carboncp carries), got ${JSON.stringify(datatype)?.slice(0, 40)}`);
    }
    const size = (parameters as { binary_data_size?: unknown } | undefined)?.binary_data_size;
    if (size !== undefined) {
      if (data !== undefined) throw badTensor(`${at} has both data and parameters.binary_data_size; give one`);
      const header = validateTensorHeader(entry, at);
      const bytes = header.parameters.binary_data_size as number;
      if (offset + bytes > binary.byteLength) {
        throw badTensor(`${at}: binary_data_size ${bytes} runs past the end of the body (${binary.byteLength - offset} binary bytes left)`);
      }
      const tensor: WireTensor = { name: header.name, datatype, shape: [...(header.shape as number[])], data: binary.subarray(offset, offset + bytes), parameters: { ...header.parameters } };
      offset += bytes;
      return tensor;
    }
    if (!Array.isArray(data)) throw badTensor(`${at} needs data (an array) or parameters.binary_data_size`);
    if (typeof name !== 'string' || name.length === 0) throw badTensor(`${at}.name must be a non-empty string`);
    const rank = Array.isArray(shape) ? shape.length : 0;
    return tensorFromArray(name, typedFromJson(datatype, flatten(data, rank, at), at), shape as number[], datatype);
  });
  if (offset !== binary.byteLength) {
    throw badTensor(`the body has ${binary.byteLength - offset} binary bytes that no tensor's binary_data_size accounts for`);
  }
  return tensors;
}

/** A tensor's elements as JSON values: numbers (FP16 as its value, INT64 as a number), BOOL as booleans. */
function jsonData(tensor: WireTensor): number[] | boolean[] {
  const array = tensorToArray(tensor);
  if (tensor.datatype === 'BOOL') return Array.from(array as Uint8Array, (v) => v !== 0);
  if (tensor.datatype === 'FP16') return Array.from(float16BitsToFloat32(array as Uint16Array));
  if (array instanceof BigInt64Array) return Array.from(array, (v) => Number(v));
  return Array.from(array as Exclude<TensorArray, BigInt64Array>);
}

/**
 * One tensor entry of a body: binary (its bytes appended to `chunks`, the entry carrying
 * `parameters.binary_data_size`) or JSON data.
 */
export function encodeTensorEntry(tensor: WireTensor, binary: boolean, chunks: Uint8Array[]): Record<string, unknown> {
  const head = { name: tensor.name, datatype: tensor.datatype, shape: [...tensor.shape] };
  if (!binary) return { ...head, data: jsonData(tensor) };
  chunks.push(tensor.data);
  return { ...head, parameters: { binary_data_size: tensor.data.byteLength } };
}
