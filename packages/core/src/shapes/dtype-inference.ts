/**
 * Element types of node outputs from the element types of their inputs and their attributes, for
 * models whose value_info leaves them out (exporters often write none). A dtype is fixed by the
 * model itself, unlike a shape, so this is exact wherever a rule exists; ops without a rule (and
 * ops of other domains, including model-local functions) give undefined: unknown, never a guess.
 */
import { dtypeOfElemType, tensorTypeInfo, type DType } from '../onnx/dtype.js';
import type { GraphProto, NodeProto } from '../onnx/proto.js';
import { isDefaultDomain } from '../onnx/domains.js';

/** dtype of the node's explicit input i, undefined when unknown or the input is omitted. */
export type InputDtype = (index: number) => DType | undefined;

type Rule = (node: NodeProto, input: InputDtype, output: number) => DType | undefined;

const sameAs =
  (index: number): Rule =>
  (_node, input) =>
    input(index);

const fixed =
  (dtype: DType): Rule =>
  () =>
    dtype;

/** One rule per output index; outputs beyond the list are unknown. */
const perOutput =
  (...rules: Rule[]): Rule =>
  (node, input, output) =>
    rules[output]?.(node, input, output);

/** The element type an int attribute names (Cast's `to`, RandomNormal's `dtype`), else the fallback rule. */
const typeAttribute =
  (name: string, fallback: Rule): Rule =>
  (node, input, output) => {
    const attr = node.attribute.find((a) => a.name === name);
    return attr ? dtypeOfElemType(Number(attr.i)) : fallback(node, input, output);
  };

/** The dtype of a tensor-valued attribute (ConstantOfShape's `value`), else the fallback. */
const tensorAttribute =
  (name: string, fallback: DType): Rule =>
  (node) => {
    const tensor = node.attribute.find((a) => a.name === name)?.t;
    return tensor ? dtypeOfElemType(tensor.dataType) : fallback;
  };

const CONSTANT_VALUE_TYPES: Record<string, DType> = {
  value_float: 'FP32',
  value_floats: 'FP32',
  value_int: 'INT64',
  value_ints: 'INT64',
  value_string: 'BYTES',
  value_strings: 'BYTES',
};

const constant: Rule = (node) => {
  for (const attr of node.attribute) {
    if (attr.name === 'value' && attr.t) return dtypeOfElemType(attr.t.dataType);
    if (attr.name === 'sparse_value' && attr.sparseTensor?.values) return dtypeOfElemType(attr.sparseTensor.values.dataType);
    if (attr.name in CONSTANT_VALUE_TYPES) return CONSTANT_VALUE_TYPES[attr.name];
  }
  return undefined;
};

/** Output `index + skip` of a subgraph attribute, as the subgraph declares it. */
const subgraphOutput =
  (attribute: string, skip: number): Rule =>
  (node, _input, output) => {
    const graph: GraphProto | undefined = node.attribute.find((a) => a.name === attribute)?.g;
    return tensorTypeInfo(graph?.output[output + skip]?.type)?.dtype;
  };

/** Ops whose every output has the element type of their first (data) input. */
const SAME_AS_FIRST_INPUT = [
  // Element-wise arithmetic and activations.
  'Abs', 'Acos', 'Acosh', 'Add', 'Asin', 'Asinh', 'Atan', 'Atanh', 'BitShift', 'BitwiseAnd', 'BitwiseNot', 'BitwiseOr',
  'BitwiseXor', 'Ceil', 'Celu', 'Clip', 'Cos', 'Cosh', 'Div', 'Elu', 'Erf', 'Exp', 'Floor', 'Gelu', 'HardSigmoid',
  'HardSwish', 'Hardmax', 'Identity', 'LeakyRelu', 'Log', 'LogSoftmax', 'Max', 'Mean', 'Min', 'Mish', 'Mod', 'Mul',
  'Neg', 'Pow', 'PRelu', 'Reciprocal', 'Relu', 'Round', 'Selu', 'Shrink', 'Sigmoid', 'Sign', 'Sin', 'Sinh', 'Softmax',
  'Softplus', 'Softsign', 'Sqrt', 'Sub', 'Sum', 'Tan', 'Tanh', 'ThresholdedRelu',
  // Linear algebra, convolution, pooling, normalisation, recurrent layers.
  'AveragePool', 'Conv', 'ConvTranspose', 'CumSum', 'Det', 'Einsum', 'Gemm', 'GlobalAveragePool', 'GlobalLpPool',
  'GlobalMaxPool', 'GroupNormalization', 'GRU', 'InstanceNormalization', 'LpNormalization', 'LpPool', 'LRN', 'LSTM',
  'MatMul', 'MaxRoiPool', 'MaxUnpool', 'MeanVarianceNormalization', 'RMSNormalization', 'RNN', 'RoiAlign', 'DFT', 'STFT',
  // Reductions keep the element type.
  'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean', 'ReduceMin', 'ReduceProd',
  'ReduceSum', 'ReduceSumSquare',
  // Data movement: the output is (part of) the data input.
  'AffineGrid', 'CenterCropPad', 'Col2Im', 'Compress', 'Concat', 'DepthToSpace', 'Expand', 'Flatten', 'Gather',
  'GatherElements', 'GatherND', 'GridSample', 'Pad', 'Reshape', 'Resize', 'ReverseSequence', 'Scatter',
  'ScatterElements', 'ScatterND', 'Slice', 'SpaceToDepth', 'Split', 'Squeeze', 'Tile', 'Transpose', 'Trilu', 'Unsqueeze',
  'Upsample',
];

const BOOL_OUTPUT = ['And', 'Equal', 'Greater', 'GreaterOrEqual', 'IsInf', 'IsNaN', 'Less', 'LessOrEqual', 'Not', 'Or', 'Xor'];

const INT64_OUTPUT = ['ArgMax', 'ArgMin', 'NonMaxSuppression', 'NonZero', 'Shape', 'Size'];

const RULES: Record<string, Rule> = {
  ...Object.fromEntries(SAME_AS_FIRST_INPUT.map((op) => [op, sameAs(0)])),
  ...Object.fromEntries(BOOL_OUTPUT.map((op) => [op, fixed('BOOL')])),
  ...Object.fromEntries(INT64_OUTPUT.map((op) => [op, fixed('INT64')])),
  // Second outputs: indices or masks.
  TopK: perOutput(sameAs(0), fixed('INT64')),
  MaxPool: perOutput(sameAs(0), fixed('INT64')),
  Unique: perOutput(sameAs(0), fixed('INT64'), fixed('INT64'), fixed('INT64')),
  Dropout: perOutput(sameAs(0), fixed('BOOL')),
  BatchNormalization: perOutput(sameAs(0), sameAs(3), sameAs(4)),
  LayerNormalization: perOutput(sameAs(0), typeAttribute('stash_type', fixed('FP32')), typeAttribute('stash_type', fixed('FP32'))),
  // The output type is named by an attribute or taken from another input.
  Cast: typeAttribute('to', () => undefined),
  CastLike: sameAs(1),
  Where: sameAs(1),
  Range: sameAs(0),
  OneHot: sameAs(2),
  ConstantOfShape: tensorAttribute('value', 'FP32'),
  Constant: constant,
  EyeLike: typeAttribute('dtype', sameAs(0)),
  RandomNormal: typeAttribute('dtype', fixed('FP32')),
  RandomUniform: typeAttribute('dtype', fixed('FP32')),
  RandomNormalLike: typeAttribute('dtype', sameAs(0)),
  RandomUniformLike: typeAttribute('dtype', sameAs(0)),
  Bernoulli: typeAttribute('dtype', sameAs(0)),
  Multinomial: typeAttribute('dtype', fixed('INT32')),
  // Quantisation: the zero point names the quantised type (UINT8 when omitted); dequantised
  // values take the scale's type (FP32 before opset 19, when nothing else was allowed).
  QuantizeLinear: (node, input, output) => input(2) ?? typeAttribute('output_dtype', fixed('UINT8'))(node, input, output),
  DequantizeLinear: (_node, input) => input(1) ?? 'FP32',
  DynamicQuantizeLinear: perOutput(fixed('UINT8'), fixed('FP32'), fixed('UINT8')),
  QLinearConv: sameAs(7),
  QLinearMatMul: sameAs(7),
  ConvInteger: fixed('INT32'),
  MatMulInteger: fixed('INT32'),
  // Control flow: what the subgraph declares (Loop's body output 0 is its condition).
  If: subgraphOutput('then_branch', 0),
  Loop: subgraphOutput('body', 1),
  Scan: subgraphOutput('body', 0),
};

/**
 * The element type of each output of `node` (same order as node.output), undefined where no
 * rule applies or an input it depends on is unknown.
 */
export function inferOutputDtypes(node: NodeProto, input: InputDtype): (DType | undefined)[] {
  // The rules describe the default domain only.
  const rule = isDefaultDomain(node.domain) ? RULES[node.opType] : undefined;
  return node.output.map((_name, output) => {
    const dtype = rule?.(node, input, output);
    // Element type 0 is onnx's UNDEFINED (a Cast without `to`, an undeclared subgraph output).
    return dtype === undefined || dtype === 'UNKNOWN' || dtype === dtypeOfElemType(0) ? undefined : dtype;
  });
}

/** The ops with a rule, for documentation and tests. */
export function opsWithDtypeRules(): string[] {
  return Object.keys(RULES).sort();
}
