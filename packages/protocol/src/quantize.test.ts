import { describe, expect, it } from 'vitest';
import { CarboncpError } from './errors.js';
import { chooseUint8Parameters, dequantize, quantizeUint8 } from './quantize.js';
import { seededRandom } from './fixtures/samples.js';

/** Max |x - dequantised| must stay within scale/2, plus the float32 rounding of the result. */
function expectWithinHalfStep(x: Float32Array): { scale: number; zeroPoint: number } {
  const { data, scale, zeroPoint } = quantizeUint8(x);
  const back = dequantize(data, { scale, zeroPoint });
  for (let i = 0; i < x.length; i++) {
    const bound = scale / 2 + Math.abs(x[i]) * 2 ** -23;
    const error = Math.abs(back[i] - x[i]);
    if (error > bound) expect({ i, value: x[i], error }).toEqual({ i, value: x[i], error: bound });
  }
  return { scale, zeroPoint };
}

describe('8-bit affine quantisation', () => {
  it('stays within scale/2 on seeded random tensors of several distributions', () => {
    const random = seededRandom(3);
    const shapes: (() => number)[] = [
      () => random() * 2 - 1, // symmetric
      () => Math.max(0, random() * 6 - 1), // ReLU-like, many exact zeros
      () => -5 - random() * 10, // all negative
      () => 100 + random(), // far from zero
      () => (random() - 0.5) * 1e-30, // tiny
      () => (random() - 0.5) * 3e38, // near the float32 limit
    ];
    for (const draw of shapes) {
      const x = new Float32Array(5000).map(draw);
      const { scale, zeroPoint } = expectWithinHalfStep(x);
      expect(scale).toBeGreaterThan(0);
      expect(Number.isInteger(zeroPoint) && zeroPoint >= 0 && zeroPoint <= 255).toBe(true);
    }
  });

  it('gives back zeros exactly', () => {
    const x = new Float32Array([0, -1.3, 0, 2.7, 0]);
    const { data, scale, zeroPoint } = quantizeUint8(x);
    const back = dequantize(data, { scale, zeroPoint });
    expect([back[0], back[2], back[4]]).toEqual([0, 0, 0]);
  });

  it('handles constant tensors, including all-zero ones with scale 0', () => {
    const zeros = quantizeUint8(new Float32Array(10));
    expect(zeros.scale).toBe(0);
    expect(Array.from(dequantize(zeros.data, zeros))).toEqual(new Array(10).fill(0));
    expect(chooseUint8Parameters(new Float32Array(0))).toEqual({ scale: 0, zeroPoint: 0 });
    for (const c of [3.25, -7, 1e-20]) {
      const x = new Float32Array(8).fill(c);
      const { scale } = expectWithinHalfStep(x);
      expect(scale).toBeCloseTo(Math.abs(c) / 255, 10);
    }
  });

  it('dequantises INT8 storage with a signed zero point', () => {
    const back = dequantize(new Int8Array([-128, 0, 127]), { scale: 0.5, zeroPoint: -10 });
    expect(Array.from(back)).toEqual([-59, 5, 68.5]);
  });

  it('refuses NaN and Infinity, naming the element', () => {
    for (const [value, text] of [
      [Number.NaN, 'NaN'],
      [Infinity, 'Infinity'],
      [-Infinity, '-Infinity'],
    ] as const) {
      const x = new Float32Array([1, 2, value, 3]);
      let error: unknown;
      try {
        quantizeUint8(x);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(CarboncpError);
      expect((error as CarboncpError).code).toBe('CARBONCP_BAD_TENSOR');
      expect((error as CarboncpError).message).toContain(`element 2 is ${text}`);
    }
  });
});
