/**
 * The only module that knows which ONNX protobuf library carboncp uses. onnx-buf (ONNX 1.20
 * schema on @bufbuild/protobuf) keeps every field, including ones newer than the reader, so a
 * model read and written back is byte-identical; swap the library here and nowhere else.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType,
  FunctionProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
  TensorProtoSchema,
  TensorProto_DataType,
  TensorShapeProtoSchema,
  TensorShapeProto_DimensionSchema,
  TypeProtoSchema,
  TypeProto_TensorSchema,
  ValueInfoProtoSchema,
} from 'onnx-buf';
import type {
  AttributeProto,
  FunctionProto,
  GraphProto,
  ModelProto,
  NodeProto,
  OperatorSetIdProto,
  TensorProto,
  TypeProto,
  ValueInfoProto,
} from 'onnx-buf';
import { CarboncpError } from '@carboncp/protocol';

export type {
  AttributeProto,
  FunctionProto,
  GraphProto,
  ModelProto,
  NodeProto,
  OperatorSetIdProto,
  TensorProto,
  TypeProto,
  ValueInfoProto,
};
export {
  AttributeProtoSchema,
  AttributeProto_AttributeType,
  FunctionProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
  TensorProtoSchema,
  TensorProto_DataType,
  TensorShapeProtoSchema,
  TensorShapeProto_DimensionSchema,
  TypeProtoSchema,
  TypeProto_TensorSchema,
  ValueInfoProtoSchema,
  create,
};

/** Parses ONNX bytes; anything that is not a ModelProto with a graph is CARBONCP_BAD_MODEL. */
export function decodeModel(bytes: Uint8Array): ModelProto {
  if (bytes.byteLength === 0) {
    throw new CarboncpError('CARBONCP_BAD_MODEL', 'not an ONNX model: the file is empty');
  }
  let model: ModelProto;
  try {
    model = fromBinary(ModelProtoSchema, bytes);
  } catch (cause) {
    throw new CarboncpError(
      'CARBONCP_BAD_MODEL',
      `not an ONNX model (or truncated): protobuf decoding failed: ${(cause as Error).message}`,
      { cause },
    );
  }
  if (!model.graph || model.graph.node.length === 0 || model.opsetImport.length === 0) {
    throw new CarboncpError(
      'CARBONCP_BAD_MODEL',
      'not an ONNX model: the bytes decode, but there is no graph, no node or no opset import',
    );
  }
  return model;
}

export function encodeModel(model: ModelProto): Uint8Array {
  return toBinary(ModelProtoSchema, model);
}
