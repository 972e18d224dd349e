/**
 * A shape-aware layer vocabulary over @carboncp/core's ModelBuilder. Every helper knows the
 * shape of what it produces and records it as value_info, so the partitioner can size every
 * crossing tensor of a generated model without a probe run. The batch dimension stays 'N'.
 */
import { CarboncpError, ModelBuilder, float, seedFromString, ErrorCode } from '@carboncp/core';
import type { AttrValue, Dim, ElemType, ModelBuilderOptions, TensorData } from '@carboncp/core';

export type Shape = Dim[];

export interface Value {
  name: string;
  dtype: ElemType;
  shape: Shape;
}

export interface ConvOptions {
  outChannels: number;
  kernel: number;
  stride?: number;
  pad?: number;
  group?: number;
  bias?: boolean;
}

function convOut(size: Dim, kernel: number, stride: number, pad: number): Dim {
  if (typeof size !== 'number') return `${size}_conv`;
  return Math.floor((size + 2 * pad - kernel) / stride) + 1;
}

function count(dims: number[]): number {
  return dims.reduce((product, d) => product * d, 1);
}

export class Net {
  readonly builder: ModelBuilder;
  /** Learnable parameters, counted like PyTorch's `sum(p.numel() for p in model.parameters())`. */
  parameters = 0;
  /** Non-learnable state (BatchNorm running statistics) and shape constants. */
  buffers = 0;
  private readonly seed: number;

  constructor(options: ModelBuilderOptions & { seed: number }) {
    const { seed, ...builderOptions } = options;
    this.builder = new ModelBuilder(builderOptions);
    this.seed = seed;
  }

  input(name: string, dtype: ElemType, shape: Shape): Value {
    this.builder.input(name, dtype, shape);
    return { name, dtype, shape };
  }

  output(value: Value): void {
    this.builder.output(value.name, value.dtype, value.shape);
  }

  /** A learnable float weight with seeded random (or given) values. */
  weight(name: string, dims: number[], init: { std: number; mean?: number } | { uniform: [number, number] } | TensorData): string {
    const seed = seedFromString(name, this.seed);
    const data: TensorData = 'std' in init ? { seed, std: init.std, mean: init.mean ?? 0 } : 'uniform' in init ? { seed, uniform: init.uniform } : init;
    this.builder.initializer(name, 'FP32', dims, data);
    this.parameters += count(dims);
    return name;
  }

  /** A non-learnable initializer (running statistics, shape and scale constants). */
  constant(name: string, dtype: ElemType, dims: number[], data: TensorData): string {
    this.builder.initializer(name, dtype, dims, data);
    this.buffers += count(dims);
    return name;
  }

  /** Adds one node with a single output whose shape the caller computed; records value_info. */
  op(opType: string, inputs: string[], output: string, shape: Shape, attrs: Record<string, AttrValue> = {}, dtype: ElemType = 'FP32'): Value {
    this.builder.node(opType, inputs, [output], attrs, output);
    this.builder.valueInfo(output, dtype, shape);
    return { name: output, dtype, shape };
  }

  // ---- convolutional layers ------------------------------------------------------------------

  conv(name: string, x: Value, options: ConvOptions): Value {
    const { outChannels, kernel, stride = 1, pad = 0, group = 1, bias = false } = options;
    const [n, inChannels, h, w] = x.shape;
    if (typeof inChannels !== 'number' || inChannels % group !== 0) {
      throw new CarboncpError(ErrorCode.BAD_GRAPH, `${name}: ${String(inChannels)} input channels do not split into ${group} groups`);
    }
    const fanOut = (outChannels / group) * kernel * kernel;
    // Kaiming normal, mode fan_out, as torchvision initialises its convolutions.
    const inputs = [x.name, this.weight(`${name}.weight`, [outChannels, inChannels / group, kernel, kernel], { std: Math.sqrt(2 / fanOut) })];
    if (bias) inputs.push(this.weight(`${name}.bias`, [outChannels], { std: 0.01 }));
    return this.op('Conv', inputs, name, [n, outChannels, convOut(h, kernel, stride, pad), convOut(w, kernel, stride, pad)], {
      kernel_shape: [kernel, kernel],
      strides: [stride, stride],
      pads: [pad, pad, pad, pad],
      dilations: [1, 1],
      group,
    });
  }

  /**
   * Inference-mode BatchNormalization with plausible trained statistics: the scale keeps
   * activations of order one through deep stacks, so head-then-tail comparisons at 1e-4 test
   * the partition rather than float rounding of huge numbers.
   */
  batchNorm(name: string, x: Value): Value {
    const channels = x.shape[1] as number;
    const inputs = [
      x.name,
      this.weight(`${name}.weight`, [channels], { uniform: [0.4, 0.8] }),
      this.weight(`${name}.bias`, [channels], { std: 0.05 }),
      this.constant(`${name}.running_mean`, 'FP32', [channels], { seed: seedFromString(`${name}.running_mean`, this.seed), std: 0.1 }),
      this.constant(`${name}.running_var`, 'FP32', [channels], { seed: seedFromString(`${name}.running_var`, this.seed), uniform: [0.8, 1.5] }),
    ];
    return this.op('BatchNormalization', inputs, name, x.shape, { epsilon: 1e-5, momentum: 0.9 });
  }

  relu(name: string, x: Value): Value {
    return this.op('Relu', [x.name], name, x.shape);
  }

  /** ReLU6 as exported by PyTorch: Clip(x, 0, 6) with scalar bound inputs (opset >= 11). */
  relu6(name: string, x: Value): Value {
    const low = this.sharedConstant('relu6.min', 'FP32', [], [0]);
    const high = this.sharedConstant('relu6.max', 'FP32', [], [6]);
    return this.op('Clip', [x.name, low, high], name, x.shape);
  }

  maxPool(name: string, x: Value, kernel: number, stride: number, pad: number): Value {
    const [n, c, h, w] = x.shape;
    return this.op('MaxPool', [x.name], name, [n, c, convOut(h, kernel, stride, pad), convOut(w, kernel, stride, pad)], {
      kernel_shape: [kernel, kernel],
      strides: [stride, stride],
      pads: [pad, pad, pad, pad],
    });
  }

  globalAveragePool(name: string, x: Value): Value {
    const [n, c] = x.shape;
    return this.op('GlobalAveragePool', [x.name], name, [n, c, 1, 1]);
  }

  flatten(name: string, x: Value): Value {
    const [n, ...rest] = x.shape;
    const size = rest.every((d) => typeof d === 'number') ? count(rest as number[]) : `${name}_size`;
    return this.op('Flatten', [x.name], name, [n, size], { axis: 1 });
  }

  /** Fully connected layer as PyTorch exports nn.Linear on 2-D input: Gemm with transB. */
  linear(name: string, x: Value, outFeatures: number, std?: number): Value {
    const inFeatures = x.shape[x.shape.length - 1] as number;
    const bound = 1 / Math.sqrt(inFeatures);
    const init = std === undefined ? { uniform: [-bound, bound] as [number, number] } : { std };
    const weight = this.weight(`${name}.weight`, [outFeatures, inFeatures], init);
    const bias = this.weight(`${name}.bias`, [outFeatures], std === undefined ? { uniform: [-bound, bound] as [number, number] } : { std: 0 });
    return this.op('Gemm', [x.name, weight, bias], name, [x.shape[0], outFeatures], { alpha: float(1), beta: float(1), transB: 1 });
  }

  add(name: string, a: Value, b: Value): Value {
    return this.op('Add', [a.name, b.name], name, broadcast(a.shape, b.shape));
  }

  // ---- transformer layers --------------------------------------------------------------------

  /** x @ W + b for x of rank >= 2, as PyTorch exports nn.Linear on 3-D input. */
  dense(name: string, x: Value, outFeatures: number, std: number): Value {
    const inFeatures = x.shape[x.shape.length - 1] as number;
    const weight = this.weight(`${name}.weight`, [inFeatures, outFeatures], { std });
    const bias = this.weight(`${name}.bias`, [outFeatures], { std: std / 10 });
    const product = this.op('MatMul', [x.name, weight], `${name}.matmul`, [...x.shape.slice(0, -1), outFeatures]);
    return this.op('Add', [product.name, bias], name, product.shape);
  }

  layerNorm(name: string, x: Value): Value {
    const width = x.shape[x.shape.length - 1] as number;
    const scale = this.weight(`${name}.weight`, [width], { uniform: [0.9, 1.1] });
    const bias = this.weight(`${name}.bias`, [width], { std: 0.02 });
    return this.op('LayerNormalization', [x.name, scale, bias], name, x.shape, { axis: -1, epsilon: 1e-12 });
  }

  /** GELU as 0.5 * x * (1 + erf(x / sqrt(2))), which is how PyTorch exports it below opset 20. */
  gelu(name: string, x: Value): Value {
    const invSqrt2 = this.sharedConstant('gelu.inv_sqrt2', 'FP32', [], [Math.SQRT1_2]);
    const one = this.sharedConstant('gelu.one', 'FP32', [], [1]);
    const half = this.sharedConstant('gelu.half', 'FP32', [], [0.5]);
    const scaled = this.op('Mul', [x.name, invSqrt2], `${name}.scaled`, x.shape);
    const erf = this.op('Erf', [scaled.name], `${name}.erf`, x.shape);
    const shifted = this.op('Add', [erf.name, one], `${name}.shifted`, x.shape);
    const gated = this.op('Mul', [x.name, shifted.name], `${name}.gated`, x.shape);
    return this.op('Mul', [gated.name, half], name, x.shape);
  }

  /** An initializer shared by many nodes, made on first use. */
  sharedConstant(name: string, dtype: ElemType, dims: number[], data: TensorData): string {
    if (!this.builder.has(name)) this.constant(name, dtype, dims, data);
    return name;
  }

  toBytes(): Uint8Array {
    return this.builder.toBytes();
  }
}

/** NumPy broadcasting of two shapes (symbolic dims must match exactly or meet a 1). */
export function broadcast(a: Shape, b: Shape): Shape {
  const rank = Math.max(a.length, b.length);
  const out: Shape = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else throw new CarboncpError(ErrorCode.BAD_GRAPH, `shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
  }
  return out;
}
