/**
 * ONNX element types and their KServe v2 datatype names. KServe names are what travels on the
 * wire (see @carboncp/protocol), so every shape report uses them where one exists.
 */
import type { TypeProto } from './proto.js';

export type DType = 'FP32' | 'FP16' | 'INT8' | 'UINT8' | 'INT32' | 'INT64' | 'BOOL' | string;

interface ElementType {
  dtype: DType;
  bytes: number;
  /** onnxruntime's tensor type name. */
  ort: string;
}

// Indexed by onnx.TensorProto.DataType.
const ELEMENT_TYPES: Record<number, ElementType> = {
  1: { dtype: 'FP32', bytes: 4, ort: 'float32' },
  2: { dtype: 'UINT8', bytes: 1, ort: 'uint8' },
  3: { dtype: 'INT8', bytes: 1, ort: 'int8' },
  4: { dtype: 'UINT16', bytes: 2, ort: 'uint16' },
  5: { dtype: 'INT16', bytes: 2, ort: 'int16' },
  6: { dtype: 'INT32', bytes: 4, ort: 'int32' },
  7: { dtype: 'INT64', bytes: 8, ort: 'int64' },
  8: { dtype: 'BYTES', bytes: Number.NaN, ort: 'string' },
  9: { dtype: 'BOOL', bytes: 1, ort: 'bool' },
  10: { dtype: 'FP16', bytes: 2, ort: 'float16' },
  11: { dtype: 'FP64', bytes: 8, ort: 'float64' },
  12: { dtype: 'UINT32', bytes: 4, ort: 'uint32' },
  13: { dtype: 'UINT64', bytes: 8, ort: 'uint64' },
  16: { dtype: 'BF16', bytes: 2, ort: 'bfloat16' },
};

const BY_DTYPE = new Map(Object.entries(ELEMENT_TYPES).map(([code, type]) => [type.dtype, { code: Number(code), ...type }]));

export function dtypeOfElemType(elemType: number): DType {
  return ELEMENT_TYPES[elemType]?.dtype ?? `ONNX_TYPE_${elemType}`;
}

export function elemTypeOfDtype(dtype: DType): number | undefined {
  return BY_DTYPE.get(dtype)?.code;
}

/** Bytes per element; NaN for variable-size (string) or unknown types. */
export function bytesPerElement(dtype: DType): number {
  return BY_DTYPE.get(dtype)?.bytes ?? Number.NaN;
}

export function dtypeOfOrtType(ortType: string): DType {
  for (const value of Object.values(ELEMENT_TYPES)) {
    if (value.ort === ortType) return value.dtype;
  }
  return `ORT_${ortType}`;
}

export function ortTypeOfDtype(dtype: DType): string | undefined {
  return BY_DTYPE.get(dtype)?.ort;
}

/** dtype and shape of a tensor TypeProto; dims without value or name are '?'. */
export function tensorTypeInfo(type: TypeProto | undefined): { dtype: DType; shape: (number | string)[] | undefined } | undefined {
  if (type?.value.case !== 'tensorType') return undefined;
  const tensor = type.value.value;
  const shape = tensor.shape?.dim.map((dim): number | string => {
    if (dim.value.case === 'dimValue') return Number(dim.value.value);
    if (dim.value.case === 'dimParam' && dim.value.value !== '') return dim.value.value;
    return '?';
  });
  return { dtype: dtypeOfElemType(tensor.elemType), shape };
}
