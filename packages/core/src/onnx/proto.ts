/**
 * The only module that knows which ONNX protobuf library carboncp uses. onnx-buf (ONNX 1.20
 * schema on @bufbuild/protobuf) keeps every field, including ones newer than the reader, so a
 * model read and written back is byte-identical; swap the library here and nowhere else.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType,
  FunctionProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  SparseTensorProtoSchema,
  StringStringEntryProtoSchema,
  TensorProtoSchema,
  TensorProto_DataLocation,
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
  SparseTensorProto,
  TensorProto,
  TypeProto,
  ValueInfoProto,
} from 'onnx-buf';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { encodeSpliced, type SplicedField, type SplicedMessage } from './model-encoder.js';

export type {
  AttributeProto,
  FunctionProto,
  GraphProto,
  ModelProto,
  NodeProto,
  OperatorSetIdProto,
  SparseTensorProto,
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
  SparseTensorProtoSchema,
  StringStringEntryProtoSchema,
  TensorProtoSchema,
  TensorProto_DataLocation,
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
    throw new CarboncpError(ErrorCode.BAD_MODEL, 'not an ONNX model: the file is empty');
  }
  let model: ModelProto;
  try {
    model = fromBinary(ModelProtoSchema, bytes);
  } catch (cause) {
    throw new CarboncpError(
      ErrorCode.BAD_MODEL,
      `not an ONNX model (or truncated): protobuf decoding failed: ${(cause as Error).message}`,
      { cause },
    );
  }
  if (!model.graph || model.graph.node.length === 0 || model.opsetImport.length === 0) {
    throw new CarboncpError(
      ErrorCode.BAD_MODEL,
      'not an ONNX model: the bytes decode, but there is no graph, no node or no opset import',
    );
  }
  return model;
}

/**
 * Encodes a model into one buffer of exactly its size, byte-identical to protobuf-es' toBinary
 * but without toBinary's growing buffer and final copy, which briefly took up to 3x the
 * weights (see model-encoder.ts). Above protobuf's 2 GiB limit: CARBONCP_MODEL_TOO_LARGE.
 */
export function encodeModel(model: ModelProto): Uint8Array {
  if (!model.graph) return toBinary(ModelProtoSchema, model);
  return encodeSpliced(spliced(ModelProtoSchema, model, { graph: [graphPart(model.graph)] }));
}

// Weights sit in raw_data, of initializers or of Constant nodes' tensor attributes (Paddle and
// some PyTorch exports), also inside subgraphs: the parts below reach exactly those, and leave
// every other message whole to toBinary, being small.

function graphPart(graph: GraphProto): SplicedMessage {
  return spliced(GraphProtoSchema, graph, { node: graph.node.map(nodePart), initializer: graph.initializer.map(tensorPart) });
}

function nodePart(node: NodeProto): Uint8Array | SplicedMessage {
  if (!node.attribute.some(holdsTensorsOrGraphs)) return toBinary(NodeProtoSchema, node);
  return spliced(NodeProtoSchema, node, { attribute: node.attribute.map(attributePart) });
}

function attributePart(attribute: AttributeProto): Uint8Array | SplicedMessage {
  if (!holdsTensorsOrGraphs(attribute)) return toBinary(AttributeProtoSchema, attribute);
  return spliced(AttributeProtoSchema, attribute, {
    t: attribute.t ? [tensorPart(attribute.t)] : [],
    g: attribute.g ? [graphPart(attribute.g)] : [],
    tensors: attribute.tensors.map(tensorPart),
    graphs: attribute.graphs.map(graphPart),
  });
}

function holdsTensorsOrGraphs(attribute: AttributeProto): boolean {
  return attribute.t !== undefined || attribute.g !== undefined || attribute.tensors.length > 0 || attribute.graphs.length > 0;
}

function tensorPart(tensor: TensorProto): Uint8Array | SplicedMessage {
  if (tensor.rawData.byteLength === 0) return toBinary(TensorProtoSchema, tensor);
  return spliced(TensorProtoSchema, tensor, { rawData: [tensor.rawData] });
}

/**
 * `message` encoded without the fields named in `parts`, whose values are given instead (a
 * singular field unset: no value). Only a shallow copy is encoded: the caller's message is
 * never touched. Unknown fields are encoded apart, as the encoder writes them last.
 */
function spliced<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
  parts: { [K in keyof MessageShape<Desc>]?: (Uint8Array | SplicedMessage)[] },
): SplicedMessage {
  const shell: Record<string, unknown> = { ...message, $unknown: undefined };
  const fields: SplicedField[] = [];
  for (const [localName, values] of Object.entries(parts) as [string, (Uint8Array | SplicedMessage)[]][]) {
    const field = schema.field[localName] as DescMessage['fields'][number] | undefined;
    if (!field) throw new CarboncpError(ErrorCode.INTERNAL, `model encoder: ${schema.typeName} has no field '${localName}'`);
    // An undefined singular field or an empty list is one that toBinary does not write.
    shell[localName] = field.fieldKind === 'list' ? [] : undefined;
    fields.push({ fieldNumber: field.number, values });
  }
  const unknownFields = message.$unknown;
  return {
    known: toBinary(schema, shell as MessageShape<Desc>),
    unknown: unknownFields?.length ? toBinary(schema, Object.assign(create(schema), { $unknown: unknownFields })) : new Uint8Array(0),
    fields,
  };
}
