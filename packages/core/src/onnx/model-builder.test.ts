import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { CarboncpError } from '@carboncp/protocol';
import {
  GraphBuilder,
  ModelBuilder,
  float,
  makeAttribute,
  makeTensor,
} from './model-builder.js';
import { AttributeProto_AttributeType, decodeModel } from './proto.js';
import { mulberry32 } from '../random.js';

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

describe('ModelBuilder', () => {
  it('builds a Conv + Relu + Reshape model that onnxruntime runs, with the expected numbers', async () => {
    // A 1x1 convolution with known weights, so the result can be computed by hand.
    const weights = [1, -1, 0.5, 2, 0, -3]; // [out=2, in=3, 1, 1]
    const bias = [0.25, -0.5];
    const bytes = new ModelBuilder({ name: 'tiny', opset: 17, irVersion: 8, producer: 'carboncp' })
      .input('x', 'FP32', ['N', 3, 2, 2])
      .initializer('w', 'FP32', [2, 3, 1, 1], weights)
      .initializer('b', 'FP32', [2], new Float32Array(bias))
      .initializer('flat_shape', 'INT64', [2], [0, -1])
      .node('Conv', ['x', 'w', 'b'], ['conv'], { kernel_shape: [1, 1], pads: [0, 0, 0, 0], strides: [1, 1] })
      .valueInfo('conv', 'FP32', ['N', 2, 2, 2])
      .node('Relu', ['conv'], ['relu'])
      .valueInfo('relu', 'FP32', ['N', 2, 2, 2])
      .node('Reshape', ['relu', 'flat_shape'], ['y'])
      .output('y', 'FP32', ['N', 8])
      .toBytes();

    const rand = mulberry32(1);
    const x = Float32Array.from({ length: 2 * 3 * 4 }, () => rand() * 2 - 1);
    const { y } = await run(bytes, { x: new ort.Tensor('float32', x, [2, 3, 2, 2]) });
    expect(y.dims).toEqual([2, 8]);
    const got = y.data as Float32Array;
    for (let n = 0; n < 2; n++) {
      for (let o = 0; o < 2; o++) {
        for (let p = 0; p < 4; p++) {
          let sum = bias[o];
          for (let c = 0; c < 3; c++) sum += weights[o * 3 + c] * x[n * 12 + c * 4 + p];
          expect(got[n * 8 + o * 4 + p]).toBeCloseTo(Math.max(0, sum), 5);
        }
      }
    }
  });

  it('writes seeded random initializers deterministically', () => {
    const make = (seed: number) =>
      new ModelBuilder({ name: 'rand' })
        .input('x', 'FP32', [4])
        .initializer('w', 'FP32', [4], { seed, std: 0.1 })
        .node('Add', ['x', 'w'], ['y'])
        .output('y', 'FP32', [4])
        .toBytes();
    expect(Buffer.compare(Buffer.from(make(5)), Buffer.from(make(5)))).toBe(0);
    expect(Buffer.compare(Buffer.from(make(5)), Buffer.from(make(6)))).not.toBe(0);
  });

  it('builds If with subgraph branches and Constant tensor attributes', async () => {
    const thenBranch = new GraphBuilder('then')
      .node('Constant', [], ['two'], { value: makeTensor('two', 'FP32', [1], [2]) })
      .node('Mul', ['x', 'two'], ['then_out'])
      .output('then_out', 'FP32', [3])
      .buildGraph();
    const elseBranch = new GraphBuilder('else')
      .node('Neg', ['x'], ['else_out'])
      .output('else_out', 'FP32', [3])
      .buildGraph();
    const bytes = new ModelBuilder({ name: 'branchy', opset: 17 })
      .input('x', 'FP32', [3])
      .input('cond', 'BOOL', [])
      .node('If', ['cond'], ['y'], { then_branch: thenBranch, else_branch: elseBranch })
      .node('Clip', ['y', 'lo', 'hi'], ['z'])
      .initializer('lo', 'FP32', [], [-1])
      .initializer('hi', 'FP32', [], [5])
      .output('z', 'FP32', [3])
      .toBytes();
    const x = new ort.Tensor('float32', new Float32Array([1, -2, 3]), [3]);
    const yes = await run(bytes, { x, cond: new ort.Tensor('bool', new Uint8Array([1]), []) });
    expect(Array.from(yes.z.data as Float32Array)).toEqual([2, -1, 5]);
    const no = await run(bytes, { x, cond: new ort.Tensor('bool', new Uint8Array([0]), []) });
    expect(Array.from(no.z.data as Float32Array)).toEqual([-1, 2, -1]);
    const model = decodeModel(bytes);
    expect(model.graph?.node[0].attribute.map((a) => a.type)).toEqual([
      AttributeProto_AttributeType.GRAPH,
      AttributeProto_AttributeType.GRAPH,
    ]);
  });

  it('writes FP16 and INT64 initializers that onnxruntime reads back', async () => {
    // Normal, negative, largest finite, subnormal (6e-6) and an inexact value; fp16 keeps 11 bits.
    const values = [0, 1, -2.5, 65504, 6e-6, 0.1, -1234.5];
    const bytes = new ModelBuilder({ name: 'fp16' })
      .input('x', 'FP32', [values.length])
      .initializer('h', 'FP16', [values.length], values)
      .initializer('i', 'INT64', [2], [-3n, 2 ** 40])
      .node('Cast', ['h'], ['hf'], { to: 1 })
      .node('Add', ['x', 'hf'], ['y'])
      .node('Identity', ['i'], ['ints'])
      .output('y', 'FP32', [values.length])
      .output('ints', 'INT64', [2])
      .toBytes();
    const out = await run(bytes, { x: new ort.Tensor('float32', new Float32Array(values.length), [values.length]) });
    const got = Array.from(out.y.data as Float32Array);
    values.forEach((v, i) => expect(Math.abs(got[i] - v)).toBeLessThanOrEqual(Math.max(Math.abs(v) * 2 ** -11, 2 ** -24)));
    expect(Array.from(out.ints.data as BigInt64Array)).toEqual([-3n, 2n ** 40n]);
  });

  it('writes FP16 data rounded to nearest, ties to even: the bits onnxruntime\'s Cast gives', async () => {
    // Known bit patterns: ties (normal and subnormal), the subnormal range, overflow, NaN, -0.
    const known: [number, number][] = [
      [1 + 2 ** -11, 0x3c00], // tie: even mantissa 0 (rounding half up would give 0x3c01)
      [1 + 3 * 2 ** -11, 0x3c02], // tie: even mantissa 2
      [2 ** -25, 0x0000], // tie between 0 and the smallest subnormal: 0
      [3 * 2 ** -25, 0x0002], // tie between subnormals 1 and 2: 2
      [2 ** -24, 0x0001],
      [2 ** -14 - 2 ** -25, 0x0400], // rounds up out of the subnormals
      [65504, 0x7bff],
      [65519.99, 0x7bff],
      [65520, 0x7c00], // overflows to Infinity
      [-1e6, 0xfc00],
      [-0, 0x8000],
    ];
    const random = mulberry32(16);
    // Seeded values with ties placed on purpose: a random half mantissa plus exactly half an ulp.
    const ties = Array.from({ length: 200 }, () => (1 + (Math.floor(random() * 1024) + 0.5) / 1024) * 2 ** Math.floor(random() * 20 - 10));
    const values = [...known.map(([v]) => v), Number.NaN, ...ties, ...Array.from({ length: 800 }, () => (random() - 0.5) * 200)];
    const n = values.length;
    const bytes = new ModelBuilder({ name: 'fp16', opset: 17 })
      .input('x', 'FP32', [n])
      .initializer('w', 'FP16', [n], values)
      .node('Cast', ['x'], ['cast'], { to: 10 })
      .node('Identity', ['w'], ['written'])
      .output('cast', 'FP16', [n])
      .output('written', 'FP16', [n])
      .toBytes();
    const out = await run(bytes, { x: new ort.Tensor('float32', Float32Array.from(values), [n]) });
    const cast = out.cast.data as Uint16Array;
    const written = out.written.data as Uint16Array;
    known.forEach(([value, bits], i) => expect([value, written[i]]).toEqual([value, bits]));
    expect(written[known.length] & 0x7e00).toBe(0x7e00); // NaN stays NaN
    const differ = values.flatMap((value, i) => (written[i] === cast[i] || Number.isNaN(value) ? [] : [[value, written[i], cast[i]]]));
    expect(differ).toEqual([]);
  });

  it('types attributes: integers, floats, forced floats, strings, lists', () => {
    const T = AttributeProto_AttributeType;
    expect(makeAttribute('a', 3).type).toBe(T.INT);
    expect(makeAttribute('a', 0.5).type).toBe(T.FLOAT);
    expect(makeAttribute('a', float(1)).type).toBe(T.FLOAT);
    expect(makeAttribute('a', 'NOTSET').type).toBe(T.STRING);
    expect(makeAttribute('a', [1, 2]).type).toBe(T.INTS);
    expect(makeAttribute('a', [1, 2.5]).type).toBe(T.FLOATS);
    expect(makeAttribute('a', ['x', 'y']).type).toBe(T.STRINGS);
    expect(makeAttribute('a', [7n]).ints).toEqual([7n]);
  });

  it('rejects bad input with clear CarboncpErrors', () => {
    expect(() => makeTensor('w', 'FP32', [2, 2], [1, 2, 3])).toThrow(/'w': 3 values given, but dims \[2, 2\] hold 4/);
    expect(() => makeTensor('w', 'FP32', [-1], [])).toThrow(CarboncpError);
    expect(() => makeTensor('shape', 'INT64', [2], [1, 2.5])).toThrow(/element 1 is 2.5, not an integer, but the type is INT64/);
    expect(() => makeTensor('w', 'NOPE' as never, [1], [1])).toThrow(/unknown element type 'NOPE'/);
    expect(() => makeAttribute('a', [])).toThrow(/empty list/);
    expect(() => new ModelBuilder({ name: 'dup' }).input('x', 'FP32', [1]).input('x', 'FP32', [1])).toThrow(/'x' is defined twice/);
    expect(() => new ModelBuilder({ name: 'empty' }).input('x', 'FP32', [1]).output('x', 'FP32', [1]).build()).toThrow(/has no node/);
    expect(() => new GraphBuilder('g').node('Relu', ['x'], ['y']).buildGraph()).toThrow(/has no output/);
  });
});
