import { describe, expect, it } from 'vitest';
import { NodeProtoSchema, create } from '../onnx/proto.js';
import { makeAttribute, type AttrValue } from '../onnx/model-builder.js';
import { nodeFlops } from './op-flops.js';

function flops(opType: string, inputs: (number[] | undefined)[], output: number[], attrs: Record<string, AttrValue> = {}, domain = ''): number {
  const node = create(NodeProtoSchema, {
    opType,
    domain,
    input: inputs.map((shape, i) => (shape ? `in${i}` : '')),
    output: ['out'],
    attribute: Object.entries(attrs).map(([k, v]) => makeAttribute(k, v)),
  });
  return nodeFlops({ node, input: (i) => inputs[i], output: () => output });
}

describe('per-op FLOPs (multiply-add = 2)', () => {
  it('Conv: 2 * out * Cin/group * kernel, plus the bias', () => {
    // 16 x 8 x 8 outputs, each 3*3*3 = 27 multiply-adds, plus one bias add each.
    expect(flops('Conv', [[1, 3, 8, 8], [16, 3, 3, 3], [16]], [1, 16, 8, 8], { pads: [1, 1, 1, 1] })).toBe(2 * 1024 * 27 + 1024);
    expect(flops('Conv', [[1, 3, 8, 8], [16, 3, 3, 3]], [1, 16, 8, 8])).toBe(55296);
    // Depthwise: group 8, weights [8, 1, 3, 3]: 512 outputs * 9 MACs.
    expect(flops('Conv', [[1, 8, 8, 8], [8, 1, 3, 3]], [1, 8, 8, 8], { group: 8 })).toBe(9216);
    expect(Number.isNaN(flops('Conv', [[1, 3, 8, 8], undefined], [1, 16, 8, 8]))).toBe(true);
  });
  it('Conv: strides, dilations and pads change only the output size; groups divide the input channels', () => {
    // 3x3 kernel, dilation 2, stride 2, pads 2: a 9x9 input gives a 5x5 output; 8 outputs channels, 2 groups of 2 input channels.
    const attrs = { strides: [2, 2], dilations: [2, 2], pads: [2, 2, 2, 2], group: 2 };
    expect(flops('Conv', [[1, 4, 9, 9], [8, 2, 3, 3]], [1, 8, 5, 5], attrs)).toBe(2 * 200 * 2 * 9);
  });

  it("com.microsoft FusedConv / FusedGemm / FusedMatMul count as Conv / Gemm / MatMul; other domains' ops count 0", () => {
    const ms = 'com.microsoft';
    expect(flops('FusedConv', [[1, 3, 8, 8], [16, 3, 3, 3], [16]], [1, 16, 8, 8], { activation: 'Relu' }, ms)).toBe(2 * 1024 * 27 + 1024);
    expect(flops('FusedGemm', [[1, 64], [10, 64], [10]], [1, 10], { transB: 1 }, ms)).toBe(2 * 10 * 64 + 10);
    expect(flops('FusedMatMul', [[2, 4, 6], [4, 5]], [2, 6, 5], { transA: 1 }, ms)).toBe(2 * 60 * 4);
    expect(flops('FusedMatMul', [[2, 6, 4], [4, 5]], [2, 6, 5], {}, ms)).toBe(2 * 60 * 4);
    expect(flops('Gelu', [[1, 100]], [1, 100], {}, ms)).toBe(400);
    expect(flops('Conv', [[1, 3, 8, 8], [16, 3, 3, 3]], [1, 16, 8, 8], {}, 'ai.onnx')).toBe(55296);
    // A model-local function or custom op that happens to be called Conv is not one.
    expect(flops('Conv', [[1, 3, 8, 8], [16, 3, 3, 3]], [1, 16, 8, 8], {}, 'my.custom')).toBe(0);
  });

  it('ConvTranspose: 2 * input * Cout/group * kernel', () => {
    // [1, 4, 5, 5] input, weights [4, 2, 3, 3]: 100 inputs, each scattered to 2*9 outputs.
    expect(flops('ConvTranspose', [[1, 4, 5, 5], [4, 2, 3, 3]], [1, 2, 7, 7])).toBe(2 * 100 * 18);
  });
  it('Gemm: 2 * M * N * K (+ M * N for C), honouring transA/transB', () => {
    expect(flops('Gemm', [[1, 64], [10, 64], [10]], [1, 10], { transB: 1 })).toBe(2 * 10 * 64 + 10);
    expect(flops('Gemm', [[64, 1], [64, 10]], [1, 10], { transA: 1 })).toBe(1280);
  });
  it('MatMul: 2 * out * K, including batched attention-style products', () => {
    expect(flops('MatMul', [[1, 4], [4, 6]], [1, 6])).toBe(48);
    // Q K^T over 4 heads: [1, 4, 16, 32] x [1, 4, 32, 16] -> [1, 4, 16, 16].
    expect(flops('MatMul', [[1, 4, 16, 32], [1, 4, 32, 16]], [1, 4, 16, 16])).toBe(2 * 1024 * 32);
    // Broadcasting: a [3, 1, 5, 8] x [4, 8, 2] product is [3, 4, 5, 2], each element K = 8 multiply-adds.
    expect(flops('MatMul', [[3, 1, 5, 8], [4, 8, 2]], [3, 4, 5, 2])).toBe(2 * 120 * 8);
    // 1-D operands: a vector times a matrix, a matrix times a vector.
    expect(flops('MatMul', [[8], [8, 3]], [3])).toBe(2 * 3 * 8);
    expect(flops('MatMul', [[3, 8], [8]], [3])).toBe(2 * 3 * 8);
  });
  it('pooling: out * kernel, global pooling: input elements', () => {
    expect(flops('MaxPool', [[1, 16, 8, 8]], [1, 16, 4, 4], { kernel_shape: [2, 2], strides: [2, 2] })).toBe(1024);
    expect(flops('AveragePool', [[1, 16, 8, 8]], [1, 16, 6, 6], { kernel_shape: [3, 3] })).toBe(16 * 36 * 9);
    expect(flops('GlobalAveragePool', [[1, 16, 4, 4]], [1, 16, 1, 1])).toBe(256);
  });
  it('element-wise, normalisation, softmax, activations and data movement', () => {
    expect(flops('Add', [[1, 10], [1, 10]], [1, 10])).toBe(10);
    expect(flops('Sum', [[1, 10], [1, 10], [1, 10]], [1, 10])).toBe(20);
    expect(flops('BatchNormalization', [[1, 4, 2, 2]], [1, 4, 2, 2])).toBe(32);
    expect(flops('LayerNormalization', [[1, 8, 16]], [1, 8, 16])).toBe(8 * 128);
    expect(flops('InstanceNormalization', [[1, 4, 2, 2]], [1, 4, 2, 2])).toBe(128);
    expect(flops('Softmax', [[1, 100]], [1, 100])).toBe(800);
    expect(flops('Relu', [[1, 100]], [1, 100])).toBe(100);
    expect(flops('Sigmoid', [[1, 100]], [1, 100])).toBe(400);
    expect(flops('Reshape', [[1, 100], [2]], [10, 10])).toBe(0);
    expect(flops('Transpose', [[1, 100]], [100, 1])).toBe(0);
  });
});
