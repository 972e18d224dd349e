import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { elemTypeOfDtype, type DType } from '../onnx/dtype.js';
import { tensorValueInfo } from '../onnx/model-builder.js';
import type { ValueInfoProto } from '../onnx/proto.js';

/** A tensor ValueInfoProto; numbers become dim_value, strings dim_param, an undefined shape stays unranked. */
export function makeValueInfoFor(name: string, dtype: DType, shape: (number | string)[] | undefined): ValueInfoProto {
  const elemType = elemTypeOfDtype(dtype);
  if (elemType === undefined) {
    throw new CarboncpError(ErrorCode.SHAPE_UNKNOWN, `tensor '${name}' has a type carboncp cannot declare: ${dtype}`);
  }
  return tensorValueInfo(name, elemType, shape ?? null);
}
