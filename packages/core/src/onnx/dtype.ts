/**
 * ONNX element types by their KServe v2 names. The table itself (ONNX number, KServe name,
 * onnxruntime name, size) is protocol's ELEMENT_TYPES; this module looks it up from ONNX's side.
 */
import { ELEMENT_TYPES, bytesPerElement, elementTypeOf } from '@carboncp/protocol';
import type { TypeProto } from './proto.js';

export { bytesPerElement };

export type DType = 'FP32' | 'FP16' | 'INT8' | 'UINT8' | 'INT32' | 'INT64' | 'BOOL' | string;

const BY_ONNX = new Map<number, string>(ELEMENT_TYPES.map((type) => [type.onnx, type.dtype]));
const BY_ORT = new Map<string, string>(ELEMENT_TYPES.map((type) => [type.ort, type.dtype]));

export function dtypeOfElemType(elemType: number): DType {
  return BY_ONNX.get(elemType) ?? `ONNX_TYPE_${elemType}`;
}

export function elemTypeOfDtype(dtype: DType): number | undefined {
  return elementTypeOf(dtype)?.onnx;
}

export function dtypeOfOrtType(ortType: string): DType {
  return BY_ORT.get(ortType) ?? `ORT_${ortType}`;
}

export function ortTypeOfDtype(dtype: DType): string | undefined {
  return elementTypeOf(dtype)?.ort;
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
