import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { maxAbsDiff, maxAbsDiffOfOutputs } from './max-abs-diff.js';

const f32 = (values: number[], dims = [values.length]) => new ort.Tensor('float32', Float32Array.from(values), dims);

describe('maxAbsDiff', () => {
  it('is the largest absolute difference, 0 for equal tensors, and compares int64 as numbers', () => {
    expect(maxAbsDiff(f32([1, 2, 3]), f32([1, 2, 3]))).toBe(0);
    expect(maxAbsDiff(f32([1, 2, 3]), f32([1.5, 0, 3]))).toBe(2);
    expect(maxAbsDiff(f32([-4]), f32([4]))).toBe(8);
    const a = new ort.Tensor('int64', BigInt64Array.from([1n, 10n]), [2]);
    const b = new ort.Tensor('int64', BigInt64Array.from([1n, 7n]), [2]);
    expect(maxAbsDiff(a, b)).toBe(3);
  });

  it('is Infinity when the shapes differ, even with the same number of elements', () => {
    expect(maxAbsDiff(f32([1, 2, 3]), f32([1, 2]))).toBe(Infinity);
    expect(maxAbsDiff(f32([1, 2, 3, 4], [2, 2]), f32([1, 2, 3, 4], [4]))).toBe(Infinity);
    expect(maxAbsDiff(f32([1, 2, 3, 4], [2, 2]), f32([1, 2, 3, 4], [1, 4]))).toBe(Infinity);
  });

  it('is Infinity for NaN on one side, wherever it is; NaN on both sides is equal unless equalNaN is false', () => {
    expect(maxAbsDiff(f32([NaN, 2]), f32([1, 2]))).toBe(Infinity);
    expect(maxAbsDiff(f32([1, 2, 3]), f32([1, 2, NaN]))).toBe(Infinity);
    // A NaN after a large difference must not be hidden by it, nor one before a later difference.
    expect(maxAbsDiff(f32([100, NaN]), f32([0, 1]))).toBe(Infinity);
    expect(maxAbsDiff(f32([NaN, 100]), f32([1, 0]))).toBe(Infinity);
    expect(maxAbsDiff(f32([NaN, 1]), f32([NaN, 1.25]))).toBe(0.25);
    expect(maxAbsDiff(f32([NaN, 1]), f32([NaN, 1.25]), { equalNaN: false })).toBe(Infinity);
  });

  it('counts infinities of the same sign as equal (Inf - Inf is NaN), of opposite signs or against a number as Infinity', () => {
    expect(maxAbsDiff(f32([Infinity, -Infinity, 1]), f32([Infinity, -Infinity, 1.5]))).toBe(0.5);
    expect(maxAbsDiff(f32([Infinity]), f32([Infinity]), { equalNaN: false })).toBe(0);
    expect(maxAbsDiff(f32([Infinity]), f32([-Infinity]))).toBe(Infinity);
    expect(maxAbsDiff(f32([Infinity]), f32([3e38]))).toBe(Infinity);
    expect(maxAbsDiff(f32([-Infinity, 0]), f32([NaN, 0]))).toBe(Infinity);
  });
});

describe('maxAbsDiffOfOutputs', () => {
  it('is the worst over every expected output and ignores outputs only the actual side has', () => {
    const expected = { a: f32([1, 2]), b: f32([0]) };
    expect(maxAbsDiffOfOutputs({ a: f32([1, 2.5]), b: f32([-0.25]), extra: f32([9]) }, expected)).toBe(0.5);
    expect(maxAbsDiffOfOutputs({ a: f32([1, 2]), b: f32([0]) }, expected)).toBe(0);
  });

  it('is Infinity when an output is missing, a size differs or a NaN appears', () => {
    const expected = { a: f32([1, 2]), b: f32([0]) };
    expect(maxAbsDiffOfOutputs({ a: f32([1, 2]) }, expected)).toBe(Infinity);
    expect(maxAbsDiffOfOutputs({ a: f32([1, 2, 3]), b: f32([0]) }, expected)).toBe(Infinity);
    expect(maxAbsDiffOfOutputs({ a: f32([1, NaN]), b: f32([0]) }, expected)).toBe(Infinity);
    expect(maxAbsDiffOfOutputs({ a: f32([NaN]), b: f32([0]) }, { a: f32([NaN]), b: f32([0]) }, { equalNaN: false })).toBe(Infinity);
    expect(maxAbsDiffOfOutputs({}, {})).toBe(0);
  });
});
