import type { CrossingTensor } from '@carboncp/core';
import { compressTensor, tensorFromArray, tensorToArray } from '@carboncp/protocol';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { batchKeyOf, checkCrossingInputs, concatBatch, splitBatch, tailIsBatchable } from './tail-tensors.js';

const crossing: CrossingTensor[] = [{ name: 'h', dtype: 'FP32', shape: ['N', 2, 3], bytesPerSample: 24, source: 'head' }];

function seeded(seed: number, count: number): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  });
}

describe('checkCrossingInputs', () => {
  it('accepts a matching tensor with any batch size', () => {
    const t = tensorFromArray('h', seeded(1, 18), [3, 2, 3]);
    expect(checkCrossingInputs(crossing, [t])[0].shape).toEqual([3, 2, 3]);
  });

  it('restores compressed tensors before checking', () => {
    const original = seeded(2, 6);
    const compressed = compressTensor(tensorFromArray('h', original, [1, 2, 3]), 'fp16');
    const [restored] = checkCrossingInputs(crossing, [compressed]);
    expect(restored.datatype).toBe('FP32');
    const values = tensorToArray(restored) as Float32Array;
    values.forEach((v, i) => expect(Math.abs(v - original[i])).toBeLessThan(1e-3));
  });

  it.each([
    ['a fixed dim differs', tensorFromArray('h', seeded(3, 12), [1, 2, 6]), /axis 2 must be 3/],
    ['the rank differs', tensorFromArray('h', seeded(3, 6), [1, 6]), /rank 2.*rank 3/],
    ['the dtype differs', tensorFromArray('h', new Int32Array(6), [1, 2, 3], 'INT32'), /datatype INT32, expected FP32/],
    ['the name differs', tensorFromArray('g', seeded(3, 6), [1, 2, 3]), /unexpected input\(s\) 'g'/],
  ])('refuses a tensor when %s', (_what, tensor, pattern) => {
    expect(() => checkCrossingInputs(crossing, [tensor])).toThrow(pattern);
  });

  it('partitioned without input shapes: any rank and size passes, the dtype and byte count are still checked', () => {
    const unsized: CrossingTensor[] = [{ name: 'h', dtype: 'FP32', shape: null, bytesPerSample: Number.NaN, source: 'head' }];
    const partly: CrossingTensor[] = [{ name: 'h', dtype: 'FP32', shape: ['N', 2, 'H'], bytesPerSample: Number.NaN, source: 'head' }];
    expect(checkCrossingInputs(unsized, [tensorFromArray('h', seeded(8, 10), [5, 2])])[0].shape).toEqual([5, 2]);
    expect(checkCrossingInputs(unsized, [tensorFromArray('h', seeded(8, 6), [1, 2, 3])])[0].shape).toEqual([1, 2, 3]);
    expect(checkCrossingInputs(partly, [tensorFromArray('h', seeded(8, 14), [1, 2, 7])])[0].shape).toEqual([1, 2, 7]);
    expect(() => checkCrossingInputs(partly, [tensorFromArray('h', seeded(8, 7), [1, 7])])).toThrow(/expected \[N, 2, H\] \(rank 3\)/);
    expect(() => checkCrossingInputs(partly, [tensorFromArray('h', seeded(8, 21), [1, 3, 7])])).toThrow(/axis 1 must be 2/);
    expect(() => checkCrossingInputs(unsized, [tensorFromArray('h', new Int32Array(6), [1, 6], 'INT32')])).toThrow(/datatype INT32, expected FP32/);
    expect(() => checkCrossingInputs(unsized, [{ ...tensorFromArray('h', seeded(8, 6), [1, 6]), shape: [1, 7] }])).toThrow(/carries 24 bytes/);
    expect(() => checkCrossingInputs(unsized, [])).toThrow(/missing input 'h' \(FP32 \(rank unknown\)\)/);
    expect(tailIsBatchable(unsized, [{ name: 'y', dtype: 'FP32', shape: ['N', 5] }])).toBe(false);
  });

  it('refuses a tensor sent twice and a missing one', () => {
    const t = tensorFromArray('h', seeded(4, 6), [1, 2, 3]);
    expect(() => checkCrossingInputs(crossing, [t, t])).toThrow(/sent twice/);
    expect(() => checkCrossingInputs(crossing, [])).toThrow(/missing input 'h' \(FP32 \[N, 2, 3\]\)/);
  });
});

describe('batching helpers', () => {
  it('tailIsBatchable needs a shared symbolic batch dim in and out', () => {
    expect(tailIsBatchable(crossing, [{ name: 'y', dtype: 'FP32', shape: ['N', 5] }])).toBe(true);
    expect(tailIsBatchable(crossing, [{ name: 'y', dtype: 'FP32', shape: [1, 5] }])).toBe(false);
    expect(tailIsBatchable([{ ...crossing[0], shape: [1, 2, 3] }], [{ name: 'y', dtype: 'FP32', shape: ['N', 5] }])).toBe(false);
  });

  it('batchKeyOf groups equal non-batch dims only', () => {
    const a = batchKeyOf('m/p', [tensorFromArray('h', seeded(5, 6), [1, 2, 3])]);
    const b = batchKeyOf('m/p', [tensorFromArray('h', seeded(6, 12), [2, 2, 3])]);
    const c = batchKeyOf('m/p', [tensorFromArray('h', seeded(7, 8), [1, 2, 4])]);
    expect(a?.key).toBe(b?.key);
    expect(b?.samples).toBe(2);
    expect(c?.key).not.toBe(a?.key);
  });

  it('concatBatch then splitBatch gives back each request in order', () => {
    const parts = [seeded(8, 6), seeded(9, 12), seeded(10, 6)];
    const shapes = [[1, 2, 3], [2, 2, 3], [1, 2, 3]];
    const joined = concatBatch(parts.map((p, i) => tensorFromArray('h', p, shapes[i])));
    expect(joined.shape).toEqual([4, 2, 3]);
    const asOrt = new ort.Tensor('float32', tensorToArray(joined) as Float32Array, joined.shape);
    const split = splitBatch('h', asOrt, [1, 2, 1]);
    expect(split).not.toBeNull();
    split!.forEach((t, i) => {
      expect(t.shape).toEqual(shapes[i]);
      expect(Array.from(tensorToArray(t) as Float32Array)).toEqual(Array.from(parts[i]));
    });
    expect(splitBatch('h', asOrt, [1, 1])).toBeNull();
  });
});
