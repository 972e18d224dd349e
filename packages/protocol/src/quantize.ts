import { CarboncpError } from './errors.js';
import { ErrorCode } from './error-codes.js';

const FLOAT32_MAX = 3.4028234663852886e38;

/** real = scale * (q - zeroPoint), the ONNX QuantizeLinear / KServe convention. */
export interface AffineParameters {
  scale: number;
  zeroPoint: number;
}

/**
 * Affine UINT8 parameters for a float tensor, as ONNX dynamic quantisation chooses them: the range
 * is widened to contain 0 so that zeros (ReLU outputs, padding) come back exactly and the zero
 * point is an integer in [0, 255]. Every finite value then comes back within scale / 2. An
 * all-zero or empty tensor gets scale 0.
 */
export function chooseUint8Parameters(x: Float32Array): AffineParameters {
  let min = 0;
  let max = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    // One comparison pair rejects NaN and both infinities.
    if (!(v >= -FLOAT32_MAX && v <= FLOAT32_MAX)) throwNonFinite(i, v);
    if (v < min) min = v;
    else if (v > max) max = v;
  }
  const scale = (max - min) / 255;
  if (scale === 0) return { scale: 0, zeroPoint: 0 };
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-min / scale)));
  return { scale, zeroPoint };
}

function throwNonFinite(index: number, value: number): never {
  throw new CarboncpError(
    ErrorCode.BAD_TENSOR,
    `int8 compression needs finite values, but element ${index} is ${value}; send this tensor with fp16 or no compression`,
    { details: { index } },
  );
}

/** Quantises float32 values to UINT8 with the parameters of chooseUint8Parameters. */
export function quantizeUint8(x: Float32Array): { data: Uint8Array } & AffineParameters {
  const { scale, zeroPoint } = chooseUint8Parameters(x);
  const data = new Uint8Array(x.length);
  if (scale === 0) return { data, scale, zeroPoint };
  // floor(v + zeroPoint + 0.5) is Math.round(v) + zeroPoint for integer zero points, and cheaper.
  const offset = zeroPoint + 0.5;
  for (let i = 0; i < x.length; i++) {
    // Division rather than multiplying by 1/scale: the reciprocal's rounding could push a value
    // just over a rounding boundary and break the scale / 2 bound.
    const q = Math.floor(x[i] / scale + offset);
    data[i] = q < 0 ? 0 : q > 255 ? 255 : q;
  }
  return { data, scale, zeroPoint };
}

/** Restores float32 values from 8-bit affine quantised ones (INT8 or UINT8 storage). */
export function dequantize(q: Uint8Array | Int8Array, { scale, zeroPoint }: AffineParameters): Float32Array {
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = (q[i] - zeroPoint) * scale;
  return out;
}
