import { CarboncpError } from '@carboncp/protocol';
import { elemTypeOfDtype, type DType } from '../onnx/dtype.js';
import {
  TensorShapeProtoSchema,
  TensorShapeProto_DimensionSchema,
  TypeProtoSchema,
  TypeProto_TensorSchema,
  ValueInfoProtoSchema,
  create,
  type ValueInfoProto,
} from '../onnx/proto.js';

/** A tensor ValueInfoProto; numbers become dim_value, strings dim_param, an undefined shape stays unranked. */
export function makeValueInfoFor(name: string, dtype: DType, shape: (number | string)[] | undefined): ValueInfoProto {
  const elemType = elemTypeOfDtype(dtype);
  if (elemType === undefined) {
    throw new CarboncpError('CARBONCP_SHAPE_UNKNOWN', `tensor '${name}' has a type carboncp cannot declare: ${dtype}`);
  }
  const tensorType = create(TypeProto_TensorSchema, { elemType });
  if (shape) {
    tensorType.shape = create(TensorShapeProtoSchema, {
      dim: shape.map((d) =>
        create(TensorShapeProto_DimensionSchema, {
          value: typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : { case: 'dimParam', value: d },
        }),
      ),
    });
  }
  return create(ValueInfoProtoSchema, { name, type: create(TypeProtoSchema, { value: { case: 'tensorType', value: tensorType } }) });
}
