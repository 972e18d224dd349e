import type * as ort from 'onnxruntime-node';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';

export interface MaxAbsDiffOptions {
  /**
   * Whether NaN on both sides at the same element counts as equal (default true, like numpy's
   * assert_allclose). false: any NaN gives Infinity, so a run whose outputs are NaN where the
   * reference's are too (say, from garbage inputs) cannot pass a tolerance check.
   */
  equalNaN?: boolean;
}

function toNumbers(tensor: ort.Tensor): ArrayLike<number> {
  const data = tensor.data;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Array.from(data, Number);
  if (Array.isArray(data)) throw new CarboncpError(ErrorCode.UNSUPPORTED_DTYPE, `cannot compare string tensors`);
  return data as ArrayLike<number>;
}

/**
 * Largest |a - b| over two same-shaped tensors; Infinity when the shapes differ or one side has
 * NaN where the other has none (or any NaN, with equalNaN false). Elements that are exactly
 * equal count 0, infinities of the same sign included (their difference would be NaN).
 */
export function maxAbsDiff(a: ort.Tensor, b: ort.Tensor, options: MaxAbsDiffOptions = {}): number {
  if (a.dims.length !== b.dims.length || a.dims.some((d, i) => d !== b.dims[i])) return Number.POSITIVE_INFINITY;
  const equalNaN = options.equalNaN ?? true;
  const x = toNumbers(a);
  const y = toNumbers(b);
  let max = 0;
  for (let i = 0; i < x.length; i++) {
    if (x[i] === y[i]) continue;
    if (equalNaN && Number.isNaN(x[i]) && Number.isNaN(y[i])) continue;
    const diff = Math.abs(x[i] - y[i]);
    if (!(diff <= max)) max = Number.isNaN(diff) ? Number.POSITIVE_INFINITY : diff;
  }
  return max;
}

/**
 * Largest maxAbsDiff over every output of `expected`; Infinity when `actual` lacks one of them.
 * Outputs only `actual` has are not compared.
 */
export function maxAbsDiffOfOutputs(
  actual: Record<string, ort.Tensor>,
  expected: Record<string, ort.Tensor>,
  options: MaxAbsDiffOptions = {},
): number {
  let worst = 0;
  for (const [name, reference] of Object.entries(expected)) {
    const got = actual[name];
    if (!got) return Number.POSITIVE_INFINITY;
    worst = Math.max(worst, maxAbsDiff(got, reference, options));
  }
  return worst;
}
