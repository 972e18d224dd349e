/**
 * A small fluent builder for valid ONNX models, used by the model zoo generators and by tests
 * that need a graph of a particular shape. It sits on top of proto.ts (the only module that
 * knows the protobuf library) and writes tensors as little-endian raw_data, which is what every
 * ONNX runtime reads fastest and what makes the output bytes deterministic.
 */
// FP16 data rounds to nearest, ties to even, as IEEE 754 and onnxruntime do: protocol's conversion.
import { CarboncpError, ErrorCode, float32ToFloat16 } from '@carboncp/protocol';
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  TensorProtoSchema,
  TensorShapeProtoSchema,
  TensorShapeProto_DimensionSchema,
  TypeProtoSchema,
  TypeProto_TensorSchema,
  ValueInfoProtoSchema,
  create,
  encodeModel,
} from './proto.js';
import type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from './proto.js';
import { seededNormal, seededUniform } from '../random.js';
import { bytesPerElement, elemTypeOfDtype } from './dtype.js';

/** Element types by their KServe names (plus FP64, which KServe also names). */
export type ElemType = 'FP32' | 'FP16' | 'FP64' | 'INT8' | 'UINT8' | 'INT16' | 'INT32' | 'INT64' | 'BOOL';
/** A dimension: a fixed size or a symbolic name such as 'N'. */
export type Dim = number | string;

/** The element types the builder can write data for; their ONNX numbers and sizes are protocol's table. */
const BUILDER_TYPES: ReadonlySet<string> = new Set<ElemType>(['FP32', 'FP16', 'FP64', 'INT8', 'UINT8', 'INT16', 'INT32', 'INT64', 'BOOL']);

export function elemTypeCode(dtype: ElemType): number {
  const code = BUILDER_TYPES.has(dtype) ? elemTypeOfDtype(dtype) : undefined;
  if (code === undefined) {
    throw new CarboncpError(
      ErrorCode.BAD_DTYPE,
      `unknown element type '${String(dtype)}'; expected one of ${[...BUILDER_TYPES].join(', ')}`,
    );
  }
  return code;
}

export function elemTypeBytes(dtype: ElemType): number {
  elemTypeCode(dtype);
  return bytesPerElement(dtype);
}

// ---------------------------------------------------------------------------------------------
// Tensors

/** Seeded random float data: normal(mean, std) or uniform(low, high). */
export type RandomSpec = { seed: number; std: number; mean?: number } | { seed: number; uniform: [number, number] };

export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | (number | bigint)[]
  | boolean[]
  | RandomSpec;

function isRandomSpec(data: TensorData): data is RandomSpec {
  return !Array.isArray(data) && !ArrayBuffer.isView(data) && typeof data === 'object' && 'seed' in data;
}

function elementCount(dims: number[]): number {
  return dims.reduce((product, d) => product * d, 1);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Little-endian raw bytes of `data` as `dtype`, checked against the element count. */
function encodeTensorData(name: string, dtype: ElemType, dims: number[], data: TensorData): Uint8Array<ArrayBuffer> {
  const count = elementCount(dims);
  const values = isRandomSpec(data)
    ? 'uniform' in data
      ? seededUniform(data.seed, count, data.uniform[0], data.uniform[1])
      : seededNormal(data.seed, count, data.mean ?? 0, data.std)
    : data;
  if (values.length !== count) {
    throw new CarboncpError(
      ErrorCode.BAD_TENSOR,
      `tensor '${name}': ${values.length} values given, but dims [${dims.join(', ')}] hold ${count}`,
    );
  }
  if (dtype === 'FP32' && values instanceof Float32Array && LITTLE_ENDIAN) {
    const copy = new Uint8Array(values.byteLength);
    copy.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    return copy;
  }
  if (dtype.startsWith('INT') || dtype === 'UINT8') {
    for (let i = 0; i < count; i++) {
      const v = values[i];
      if (typeof v === 'number' && !Number.isInteger(v)) {
        throw new CarboncpError(ErrorCode.BAD_TENSOR, `tensor '${name}': element ${i} is ${v}, not an integer, but the type is ${dtype}`);
      }
    }
  }
  const bytes = new Uint8Array(count * elemTypeBytes(dtype));
  const view = new DataView(bytes.buffer);
  const at = (i: number): number => Number(values[i]);
  for (let i = 0; i < count; i++) {
    switch (dtype) {
      case 'FP32': view.setFloat32(i * 4, at(i), true); break;
      case 'FP64': view.setFloat64(i * 8, at(i), true); break;
      case 'FP16': view.setUint16(i * 2, float32ToFloat16(at(i)), true); break;
      case 'INT8': view.setInt8(i, at(i)); break;
      case 'UINT8': view.setUint8(i, at(i)); break;
      case 'BOOL': view.setUint8(i, at(i) ? 1 : 0); break;
      case 'INT16': view.setInt16(i * 2, at(i), true); break;
      case 'INT32': view.setInt32(i * 4, at(i), true); break;
      case 'INT64': view.setBigInt64(i * 8, BigInt(values[i] as number | bigint), true); break;
    }
  }
  return bytes;
}

/** A TensorProto with raw_data; use it for initializers, Constant values and tensor attributes. */
export function makeTensor(name: string, dtype: ElemType, dims: number[], data: TensorData): TensorProto {
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) {
      throw new CarboncpError(ErrorCode.BAD_TENSOR, `tensor '${name}': dims must be non-negative integers, got [${dims.join(', ')}]`);
    }
  }
  return create(TensorProtoSchema, {
    name,
    dataType: elemTypeCode(dtype),
    dims: dims.map((d) => BigInt(d)),
    rawData: encodeTensorData(name, dtype, dims, data),
  });
}

export function makeValueInfo(name: string, dtype: ElemType, shape: Dim[] | null): ValueInfoProto {
  for (const d of shape ?? []) {
    if (typeof d === 'number' && (!Number.isInteger(d) || d < 0)) {
      throw new CarboncpError(ErrorCode.BAD_SHAPE, `value '${name}': dimension ${d} is not a non-negative integer`);
    }
  }
  return tensorValueInfo(name, elemTypeCode(dtype), shape);
}

/**
 * A tensor ValueInfoProto of an ONNX element type code (no checks): numbers become dim_value,
 * strings dim_param, a null shape stays unranked.
 */
export function tensorValueInfo(name: string, elemType: number, shape: readonly Dim[] | null): ValueInfoProto {
  const tensorType = create(TypeProto_TensorSchema, { elemType });
  if (shape !== null) {
    tensorType.shape = create(TensorShapeProtoSchema, {
      dim: shape.map((d) =>
        create(TensorShapeProto_DimensionSchema, {
          value: typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : { case: 'dimParam', value: d },
        }),
      ),
    });
  }
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, { value: { case: 'tensorType', value: tensorType } }),
  });
}

// ---------------------------------------------------------------------------------------------
// Attributes

/**
 * Attribute values. A plain JS number is an INT when it is an integer and a FLOAT otherwise;
 * wrap it with `float()` / `floats()` where ONNX wants a float that happens to be whole
 * (Gemm's alpha = 1.0, for instance: onnxruntime rejects an INT there).
 */
export type AttrValue =
  | number
  | bigint
  | string
  | Uint8Array
  | number[]
  | bigint[]
  | string[]
  | TensorProto
  | GraphProto
  | TensorProto[]
  | GraphProto[]
  | TypedAttr;

export type TypedAttr =
  | { readonly attrType: 'float'; readonly value: number }
  | { readonly attrType: 'floats'; readonly value: number[] }
  | { readonly attrType: 'int'; readonly value: number | bigint }
  | { readonly attrType: 'ints'; readonly value: (number | bigint)[] };

export const float = (value: number): TypedAttr => ({ attrType: 'float', value });
export const floats = (value: number[]): TypedAttr => ({ attrType: 'floats', value });
export const int = (value: number | bigint): TypedAttr => ({ attrType: 'int', value });
export const ints = (value: (number | bigint)[]): TypedAttr => ({ attrType: 'ints', value });

function isMessage(value: unknown, typeName: string): boolean {
  return typeof value === 'object' && value !== null && (value as { $typeName?: string }).$typeName === typeName;
}

function toInt(name: string, value: number | bigint): bigint {
  if (typeof value === 'number' && !Number.isInteger(value)) {
    throw new CarboncpError(ErrorCode.BAD_ATTRIBUTE, `attribute '${name}': ${value} is not an integer`);
  }
  return BigInt(value);
}

export function makeAttribute(name: string, value: AttrValue): AttributeProto {
  const T = AttributeProto_AttributeType;
  const attr = create(AttributeProtoSchema, { name });
  if (typeof value === 'number') {
    if (Number.isInteger(value)) Object.assign(attr, { type: T.INT, i: BigInt(value) });
    else Object.assign(attr, { type: T.FLOAT, f: value });
  } else if (typeof value === 'bigint') {
    Object.assign(attr, { type: T.INT, i: value });
  } else if (typeof value === 'string') {
    Object.assign(attr, { type: T.STRING, s: new TextEncoder().encode(value) });
  } else if (value instanceof Uint8Array) {
    Object.assign(attr, { type: T.STRING, s: Uint8Array.from(value) });
  } else if (isMessage(value, 'onnx.TensorProto')) {
    Object.assign(attr, { type: T.TENSOR, t: value });
  } else if (isMessage(value, 'onnx.GraphProto')) {
    Object.assign(attr, { type: T.GRAPH, g: value });
  } else if (Array.isArray(value)) {
    const list: unknown[] = value;
    if (list.length === 0) {
      throw new CarboncpError(ErrorCode.BAD_ATTRIBUTE, `attribute '${name}': an empty list has no type; use ints([]) or floats([])`);
    }
    if (list.every((v) => typeof v === 'string')) {
      Object.assign(attr, { type: T.STRINGS, strings: (list as string[]).map((s) => new TextEncoder().encode(s)) });
    } else if (list.every((v) => isMessage(v, 'onnx.TensorProto'))) {
      Object.assign(attr, { type: T.TENSORS, tensors: list });
    } else if (list.every((v) => isMessage(v, 'onnx.GraphProto'))) {
      Object.assign(attr, { type: T.GRAPHS, graphs: list });
    } else if (list.every((v) => typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v)))) {
      Object.assign(attr, { type: T.INTS, ints: (list as (number | bigint)[]).map((v) => toInt(name, v)) });
    } else if (list.every((v) => typeof v === 'number')) {
      Object.assign(attr, { type: T.FLOATS, floats: list });
    } else {
      throw new CarboncpError(ErrorCode.BAD_ATTRIBUTE, `attribute '${name}': a list must hold values of one kind`);
    }
  } else if (typeof value === 'object' && value !== null && 'attrType' in value) {
    switch (value.attrType) {
      case 'float': Object.assign(attr, { type: T.FLOAT, f: value.value }); break;
      case 'floats': Object.assign(attr, { type: T.FLOATS, floats: [...value.value] }); break;
      case 'int': Object.assign(attr, { type: T.INT, i: toInt(name, value.value) }); break;
      case 'ints': Object.assign(attr, { type: T.INTS, ints: value.value.map((v) => toInt(name, v)) }); break;
    }
  } else {
    throw new CarboncpError(ErrorCode.BAD_ATTRIBUTE, `attribute '${name}': unsupported value ${String(value)}`);
  }
  return attr;
}

// ---------------------------------------------------------------------------------------------
// Graphs and models

/**
 * Builds one graph: the main graph of a model, or a subgraph (an If branch, a Loop body).
 * Subgraphs may read names of the enclosing graph without declaring them as inputs.
 */
export class GraphBuilder {
  protected readonly inputs: ValueInfoProto[] = [];
  protected readonly outputs: ValueInfoProto[] = [];
  protected readonly valueInfos: ValueInfoProto[] = [];
  protected readonly initializers: TensorProto[] = [];
  protected readonly nodes: NodeProto[] = [];
  private readonly names = new Set<string>();
  private nodeCounter = 0;

  constructor(readonly name: string) {}

  /** Every value name produced so far (inputs, initializers, node outputs). */
  has(name: string): boolean {
    return this.names.has(name);
  }

  private define(name: string, what: string): void {
    if (name === '') throw new CarboncpError(ErrorCode.BAD_GRAPH, `graph '${this.name}': a ${what} needs a non-empty name`);
    if (this.names.has(name)) {
      throw new CarboncpError(ErrorCode.BAD_GRAPH, `graph '${this.name}': '${name}' is defined twice (again as a ${what})`);
    }
    this.names.add(name);
  }

  input(name: string, dtype: ElemType, shape: Dim[] | null): this {
    this.define(name, 'graph input');
    this.inputs.push(makeValueInfo(name, dtype, shape));
    return this;
  }

  initializer(name: string, dtype: ElemType, dims: number[], data: TensorData): this {
    this.define(name, 'initializer');
    this.initializers.push(makeTensor(name, dtype, dims, data));
    return this;
  }

  /**
   * Adds a node. `inputs` may contain '' for an omitted optional input. The node name defaults
   * to `<opType>_<n>`.
   */
  node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}, name?: string, domain = ''): this {
    for (const output of outputs) if (output !== '') this.define(output, `output of ${opType}`);
    this.nodes.push(
      create(NodeProtoSchema, {
        name: name ?? `${opType}_${this.nodeCounter}`,
        opType,
        domain,
        input: inputs,
        output: outputs,
        attribute: Object.entries(attrs).map(([key, value]) => makeAttribute(key, value)),
      }),
    );
    this.nodeCounter++;
    return this;
  }

  /** Declares the type and shape of an intermediate value (so tools need no shape probe). */
  valueInfo(name: string, dtype: ElemType, shape: Dim[] | null): this {
    this.valueInfos.push(makeValueInfo(name, dtype, shape));
    return this;
  }

  output(name: string, dtype: ElemType, shape: Dim[] | null): this {
    this.outputs.push(makeValueInfo(name, dtype, shape));
    return this;
  }

  buildGraph(): GraphProto {
    if (this.outputs.length === 0) {
      throw new CarboncpError(ErrorCode.BAD_GRAPH, `graph '${this.name}' has no output`);
    }
    return create(GraphProtoSchema, {
      name: this.name,
      node: [...this.nodes],
      initializer: [...this.initializers],
      input: [...this.inputs],
      output: [...this.outputs],
      valueInfo: [...this.valueInfos],
    });
  }
}

export interface ModelBuilderOptions {
  name: string;
  /** Default-domain opset; 17 unless given. */
  opset?: number;
  /** ONNX IR version; 8 unless given (onnxruntime reads up to 10 and more). */
  irVersion?: number;
  producer?: string;
  producerVersion?: string;
  docString?: string;
  /** Extra opset imports, e.g. { 'com.microsoft': 1 }. */
  extraOpsets?: Record<string, number>;
}

export class ModelBuilder extends GraphBuilder {
  private readonly options: Required<Omit<ModelBuilderOptions, 'extraOpsets' | 'docString'>> & Pick<ModelBuilderOptions, 'extraOpsets' | 'docString'>;

  constructor(options: ModelBuilderOptions) {
    super(options.name);
    this.options = {
      opset: 17,
      irVersion: 8,
      producer: 'carboncp',
      producerVersion: '0.1.0',
      ...options,
    };
  }

  build(): ModelProto {
    if (this.nodes.length === 0) {
      throw new CarboncpError(ErrorCode.BAD_GRAPH, `model '${this.options.name}' has no node`);
    }
    const opsetImport = [create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(this.options.opset) })];
    for (const [domain, version] of Object.entries(this.options.extraOpsets ?? {})) {
      opsetImport.push(create(OperatorSetIdProtoSchema, { domain, version: BigInt(version) }));
    }
    return create(ModelProtoSchema, {
      irVersion: BigInt(this.options.irVersion),
      opsetImport,
      producerName: this.options.producer,
      producerVersion: this.options.producerVersion,
      docString: this.options.docString ?? '',
      graph: this.buildGraph(),
    });
  }

  toBytes(): Uint8Array {
    return encodeModel(this.build());
  }
}
