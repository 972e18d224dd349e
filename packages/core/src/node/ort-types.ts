/**
 * Wire datatypes (KServe names, see @carboncp/protocol) and the onnxruntime tensor types that
 * hold them, for the device and the server, which both turn wire tensors into onnxruntime ones
 * and back. FP16 is a 'float16' tensor over the raw half bits on both sides.
 */
import { DATATYPES, type DataType } from '@carboncp/protocol';
import type * as ort from 'onnxruntime-node';
import { ortTypeOfDtype } from '../onnx/dtype.js';

// The wire datatypes are a subset of the ONNX element types; dtype.ts knows their onnxruntime names.
const ORT_TYPE_OF = Object.fromEntries(
  DATATYPES.map((datatype) => [datatype, ortTypeOfDtype(datatype) as ort.Tensor.Type]),
) as Readonly<Record<DataType, ort.Tensor.Type>>;

const WIRE_TYPE_OF = new Map<string, DataType>(DATATYPES.map((datatype) => [ORT_TYPE_OF[datatype], datatype]));

/** The onnxruntime tensor types that can cross the wire, in the order of DATATYPES. */
export const WIRE_ORT_TYPES: readonly ort.Tensor.Type[] = DATATYPES.map((datatype) => ORT_TYPE_OF[datatype]);

/** onnxruntime's tensor type for a wire datatype; undefined for anything that is not one. */
export function ortTypeOf(datatype: DataType): ort.Tensor.Type | undefined {
  return Object.hasOwn(ORT_TYPE_OF, datatype) ? ORT_TYPE_OF[datatype] : undefined;
}

/** The wire datatype of an onnxruntime tensor type; undefined for types the wire does not carry (float64, string, ...). */
export function wireTypeOf(ortType: string): DataType | undefined {
  return WIRE_TYPE_OF.get(ortType);
}
