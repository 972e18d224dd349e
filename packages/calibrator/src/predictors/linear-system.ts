import { lusolve } from 'mathjs';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';

/**
 * Solves A b = r for the small symmetric system of a weighted least-squares or Newton step
 * ((d+1) x (d+1), d the feature count; A row-major). A Cholesky factorisation first: at this size
 * it costs well under a microsecond, where a mathjs call costs tens (its dispatch, not its
 * arithmetic), and the refits run it at every step. When A is not numerically positive definite
 * (a degenerate window), mathjs's LU with partial pivoting takes over.
 */
export function solveSymmetric(a: Float64Array, r: Float64Array, size: number): Float64Array {
  const l = new Float64Array(size * size);
  let positiveDefinite = true;
  for (let i = 0; i < size && positiveDefinite; i += 1) {
    for (let j = 0; j <= i; j += 1) {
      let s = a[i * size + j]!;
      for (let k = 0; k < j; k += 1) s -= l[i * size + k]! * l[j * size + k]!;
      if (i === j) {
        if (!(s > 1e-300 && s > 1e-14 * Math.abs(a[i * size + i]!))) {
          positiveDefinite = false;
          break;
        }
        l[i * size + i] = Math.sqrt(s);
      } else {
        l[i * size + j] = s / l[j * size + j]!;
      }
    }
  }
  if (!positiveDefinite) return solveByLu(a, r, size);
  const b = new Float64Array(size);
  for (let i = 0; i < size; i += 1) {
    let s = r[i]!;
    for (let k = 0; k < i; k += 1) s -= l[i * size + k]! * b[k]!;
    b[i] = s / l[i * size + i]!;
  }
  for (let i = size - 1; i >= 0; i -= 1) {
    let s = b[i]!;
    for (let k = i + 1; k < size; k += 1) s -= l[k * size + i]! * b[k]!;
    b[i] = s / l[i * size + i]!;
  }
  return b;
}

function solveByLu(a: Float64Array, r: Float64Array, size: number): Float64Array {
  const rows = Array.from({ length: size }, (_, i) => Array.from(a.subarray(i * size, (i + 1) * size)));
  let solution: Float64Array;
  try {
    const column = lusolve(rows, Array.from(r, (v) => [v])) as number[][];
    solution = Float64Array.from(column, (row) => row[0]!);
  } catch (cause) {
    throw new CarboncpError(ErrorCode.INTERNAL, 'a least-squares step met a singular system', { cause });
  }
  if (!solution.every(Number.isFinite)) {
    throw new CarboncpError(ErrorCode.INTERNAL, 'a least-squares step gave a non-finite solution');
  }
  return solution;
}

/** Refuses a feature vector of the wrong length or with a non-finite entry. */
export function checkFeatureVector(x: ArrayLike<number>, dimensions: number): void {
  if (x.length !== dimensions) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `expected ${dimensions} features, got ${x.length}`);
  }
  for (let i = 0; i < x.length; i += 1) {
    if (!Number.isFinite(x[i])) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `features must be finite, got ${x[i]}`);
  }
}

/** w0 + w . x, intercept first. */
export function linearValue(weights: ArrayLike<number>, x: ArrayLike<number>, offset = 0, dimensions = x.length): number {
  let value = weights[0]!;
  for (let i = 0; i < dimensions; i += 1) value += weights[i + 1]! * x[offset + i]!;
  return value;
}

/**
 * Adds v z z^T to the lower triangle of A (row-major, size d+1) and t z to r, z = (1, x) read
 * from x at offset: one observation's share of weighted normal equations.
 */
export function accumulateNormalEquations(a: Float64Array, r: Float64Array, x: ArrayLike<number>, offset: number, dimensions: number, v: number, t: number): void {
  const size = dimensions + 1;
  for (let j = 0; j < size; j += 1) {
    const zj = j === 0 ? 1 : x[offset + j - 1]!;
    r[j] += zj * t;
    const vz = v * zj;
    a[j * size] += vz;
    for (let k = 1; k <= j; k += 1) a[j * size + k] += vz * x[offset + k - 1]!;
  }
}

/** Copies A's lower triangle onto its upper one. */
export function symmetrise(a: Float64Array, size: number): void {
  for (let j = 0; j < size; j += 1) for (let k = 0; k < j; k += 1) a[k * size + j] = a[j * size + k]!;
}

/** Refuses a count that is not an integer >= 1. */
export function checkPositiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${name} must be an integer >= 1, got ${value}`);
  }
  return value;
}
