/**
 * Wire datatypes (KServe names, see @carboncp/protocol) and the onnxruntime tensor types that
 * hold them, for the device and the server, which both turn wire tensors into onnxruntime ones
 * and back. FP16 is a 'float16' tensor over the raw half bits on both sides. Neutral: the names
 * are onnxruntime-common's (`Tensor.Type`), shared by onnxruntime-node and onnxruntime-web.
 */
import { DATATYPES, type DataType } from '@carboncp/protocol';
import { ortTypeOfDtype } from './dtype.js';

/** onnxruntime-common's `Tensor.Type` names that a wire datatype can map to. */
export type OrtTensorType = 'float32' | 'uint8' | 'int8' | 'uint16' | 'int16' | 'int32' | 'int64' | 'bool' | 'float16' | 'float64' | 'uint32' | 'uint64';

// The wire datatypes are a subset of the ONNX element types; dtype.ts knows their onnxruntime names.
const ORT_TYPE_OF = Object.fromEntries(
  DATATYPES.map((datatype) => [datatype, ortTypeOfDtype(datatype) as OrtTensorType]),
) as Readonly<Record<DataType, OrtTensorType>>;

const WIRE_TYPE_OF = new Map<string, DataType>(DATATYPES.map((datatype) => [ORT_TYPE_OF[datatype], datatype]));

/** The onnxruntime tensor types that can cross the wire, in the order of DATATYPES. */
export const WIRE_ORT_TYPES: readonly OrtTensorType[] = DATATYPES.map((datatype) => ORT_TYPE_OF[datatype]);

/** onnxruntime's tensor type for a wire datatype; undefined for anything that is not one. */
export function ortTypeOf(datatype: DataType): OrtTensorType | undefined {
  return Object.hasOwn(ORT_TYPE_OF, datatype) ? ORT_TYPE_OF[datatype] : undefined;
}

/** The wire datatype of an onnxruntime tensor type; undefined for types the wire does not carry (float64, string, ...). */
export function wireTypeOf(ortType: string): DataType | undefined {
  return WIRE_TYPE_OF.get(ortType);
}
