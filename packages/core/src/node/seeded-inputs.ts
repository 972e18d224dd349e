import * as ort from 'onnxruntime-node';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { LoadedModel } from '../model/load-model.js';
import { mulberry32 } from '../random.js';
import { ortTypeOfDtype, type DType } from '../onnx/dtype.js';
import { resolveInputShapes } from '../shapes/input-shapes.js';

/** One seeded random tensor: floats uniform in [-1, 1), integers in [0, 10), booleans 0/1. */
export function seededTensor(dtype: DType, dims: number[], next: () => number, name = 'tensor'): ort.Tensor {
  const count = dims.reduce((p, d) => p * d, 1);
  const type = ortTypeOfDtype(dtype);
  switch (type) {
    case 'float32':
      return new ort.Tensor('float32', Float32Array.from({ length: count }, () => next() * 2 - 1), dims);
    case 'float64':
      return new ort.Tensor('float64', Float64Array.from({ length: count }, () => next() * 2 - 1), dims);
    case 'int32':
      return new ort.Tensor('int32', Int32Array.from({ length: count }, () => Math.floor(next() * 10)), dims);
    case 'int64':
      return new ort.Tensor('int64', BigInt64Array.from({ length: count }, () => BigInt(Math.floor(next() * 10))), dims);
    case 'uint8':
      return new ort.Tensor('uint8', Uint8Array.from({ length: count }, () => Math.floor(next() * 10)), dims);
    case 'int8':
      return new ort.Tensor('int8', Int8Array.from({ length: count }, () => Math.floor(next() * 10)), dims);
    case 'bool':
      return new ort.Tensor('bool', Uint8Array.from({ length: count }, () => (next() < 0.5 ? 0 : 1)), dims);
    default:
      throw new CarboncpError(ErrorCode.UNSUPPORTED_DTYPE, `cannot make seeded data for '${name}' of type ${dtype}`);
  }
}

/**
 * Deterministic inputs for every model input: the same seed gives the same values on every
 * machine. Shapes are the given ones, or the declared ones with a symbolic batch dim of 1.
 */
export function seededInputs(model: LoadedModel, inputShapes: Record<string, number[]> | undefined, seed: number): Record<string, ort.Tensor> {
  const shapes = resolveInputShapes(model, inputShapes);
  const next = mulberry32(seed);
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of model.inputs) feeds[input.name] = seededTensor(input.dtype, shapes[input.name], next, input.name);
  return feeds;
}
