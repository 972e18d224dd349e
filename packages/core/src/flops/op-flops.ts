/**
 * Per-op FLOP estimates for one sample (batch dimension = 1). A multiply-add counts as 2 FLOPs.
 * Formulas (out = number of output elements, in = number of elements of the first input):
 *   Conv            2 * out * (C_in / group) * prod(kernel)   (+ out for a bias)
 *   ConvTranspose   2 * in * (C_out / group) * prod(kernel)   (+ out for a bias)
 *   Gemm            2 * M * N * K                             (+ M * N for C)
 *   MatMul          2 * out * K   (batched: every leading dim of the output counts)
 *   Max/AveragePool out * prod(kernel);  GlobalAverage/GlobalMaxPool: in
 *   element-wise    out per input beyond the first (Add, Mul, Where, ...)
 *   activations     1 per element for piecewise-linear ones (Relu, Clip, ...), 4 for ones built
 *                   on exp/erf/tanh (Sigmoid, Tanh, Gelu, ...), 3 for HardSwish
 *   BatchNorm       2 per element (inference: a fused scale and shift)
 *   Layer/Instance/GroupNormalization  8 per element (mean, variance, normalise, scale, shift)
 *   Softmax         8 per element (max, subtract, exp, sum, divide)
 *   Reduce*         in;  Resize: out (nearest) or 4 * out (linear/cubic)
 * com.microsoft FusedConv, FusedGemm and FusedMatMul count as Conv, Gemm and MatMul.
 * Data movement (Reshape, Transpose, Concat, Gather, Slice, Cast, ...), unknown ops and ops of
 * domains other than the default one and com.microsoft (custom ops, model-local functions) count 0.
 * NaN means a shape the formula needs is unknown.
 */
import type { NodeProto } from '../onnx/proto.js';
import { MICROSOFT_DOMAIN, isDefaultDomain } from '../onnx/domains.js';
import { intAttr, intsAttr, stringAttr } from './attributes.js';

export interface FlopsContext {
  node: NodeProto;
  /** Per-sample dims of explicit input i ('' inputs are undefined), undefined when unknown. */
  input(i: number): number[] | undefined;
  output(i: number): number[] | undefined;
}

const product = (dims: number[]): number => dims.reduce((p, d) => p * d, 1);

const PIECEWISE_LINEAR = new Set(['Relu', 'LeakyRelu', 'PRelu', 'Clip', 'HardSigmoid', 'ThresholdedRelu', 'Abs', 'Neg', 'Sign', 'Floor', 'Ceil', 'Round', 'Not', 'Reciprocal', 'Shrink']);
const TRANSCENDENTAL = new Set(['Sigmoid', 'Tanh', 'Gelu', 'Erf', 'Exp', 'Log', 'Sqrt', 'Softplus', 'Softsign', 'Elu', 'Selu', 'Celu', 'Mish', 'Swish', 'Sin', 'Cos', 'Tan', 'Atan', 'Asin', 'Acos', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh', 'QuickGelu', 'FastGelu']);
const ELEMENTWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Mod', 'Where', 'Equal', 'Greater', 'GreaterOrEqual', 'Less', 'LessOrEqual', 'And', 'Or', 'Xor', 'BitShift', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor']);
const NORMALISATION = new Set(['LayerNormalization', 'InstanceNormalization', 'GroupNormalization', 'SimplifiedLayerNormalization', 'SkipLayerNormalization', 'LpNormalization', 'MeanVarianceNormalization']);
const REDUCTION = new Set(['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare', 'ArgMax', 'ArgMin', 'CumSum', 'TopK']);

// onnxruntime's optimiser fuses an activation (FusedConv, FusedGemm) or transposes and a scale
// (FusedMatMul) into these contrib ops: their arithmetic is the base op's.
const FUSED_CONTRIB_OPS: Record<string, string> = { FusedConv: 'Conv', FusedGemm: 'Gemm', FusedMatMul: 'MatMul' };

/** The op whose formula applies: default-domain ops and com.microsoft contrib ops; other domains (custom ops, model-local functions) are unknown. */
function formulaOp(node: NodeProto): string | undefined {
  if (isDefaultDomain(node.domain)) return node.opType;
  if (node.domain === MICROSOFT_DOMAIN) return FUSED_CONTRIB_OPS[node.opType] ?? node.opType;
  return undefined;
}

export function nodeFlops(ctx: FlopsContext): number {
  const { node } = ctx;
  const op = formulaOp(node);
  if (op === undefined) return 0;
  const out = ctx.output(0);
  const outCount = out ? product(out) : Number.NaN;

  switch (op) {
    case 'Conv': {
      const w = ctx.input(1);
      if (!w || !out) return Number.NaN;
      return 2 * outCount * product(w.slice(1)) + (node.input[2] ? outCount : 0);
    }
    case 'ConvTranspose': {
      const x = ctx.input(0);
      const w = ctx.input(1);
      if (!x || !w || !out) return Number.NaN;
      return 2 * product(x) * product(w.slice(1)) + (node.input[2] ? outCount : 0);
    }
    case 'Gemm': {
      const a = ctx.input(0);
      const b = ctx.input(1);
      if (!a || !b || a.length !== 2 || b.length !== 2) return Number.NaN;
      const [m, k] = intAttr(node, 'transA', 0) ? [a[1], a[0]] : [a[0], a[1]];
      const n = intAttr(node, 'transB', 0) ? b[0] : b[1];
      return 2 * m * n * k + (node.input[2] ? m * n : 0);
    }
    case 'MatMul':
    case 'MatMulInteger':
    case 'QLinearMatMul': {
      const a = ctx.input(0);
      if (!a || !out) return Number.NaN;
      // FusedMatMul may transpose A (transA), which moves K to the second-to-last dim.
      const k = intAttr(node, 'transA', 0) && a.length >= 2 ? a[a.length - 2] : a[a.length - 1];
      return 2 * outCount * k;
    }
    case 'MaxPool':
    case 'AveragePool':
    case 'LpPool': {
      const kernel = intsAttr(node, 'kernel_shape');
      if (!kernel || !out) return Number.NaN;
      return outCount * product(kernel);
    }
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
    case 'GlobalLpPool': {
      const x = ctx.input(0);
      return x ? product(x) : Number.NaN;
    }
    case 'BatchNormalization':
      return 2 * outCount;
    case 'Softmax':
    case 'LogSoftmax':
      return 8 * outCount;
    case 'HardSwish':
      return 3 * outCount;
    case 'Resize':
    case 'Upsample': {
      const mode = stringAttr(node, 'mode', 'nearest');
      return (mode === 'nearest' ? 1 : 4) * outCount;
    }
  }
  if (NORMALISATION.has(op)) return 8 * outCount;
  if (PIECEWISE_LINEAR.has(op)) return outCount;
  if (TRANSCENDENTAL.has(op)) return 4 * outCount;
  if (ELEMENTWISE.has(op)) {
    const operands = node.input.filter((i) => i !== '').length;
    return outCount * Math.max(1, operands - 1);
  }
  if (REDUCTION.has(op)) {
    const x = ctx.input(0);
    return x ? product(x) : Number.NaN;
  }
  return 0;
}
