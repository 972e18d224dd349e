import { describe, expect, it } from 'vitest';
import { float16BitsToFloat32, float16BitsToFloat32Value, float32ToFloat16, float32ToFloat16Bits } from './float16.js';
import { seededRandom } from './fixtures/samples.js';

/** Reference: the nearest half by exhaustive search over the finite positive halves (ties to even). */
function nearestHalfBits(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  let best = 0;
  let bestError = Infinity;
  for (let h = 0; h < 0x7c00; h++) {
    const error = Math.abs(float16BitsToFloat32Value(h) - a);
    if (error < bestError || (error === bestError && (h & 1) === 0)) {
      best = h;
      bestError = error;
    }
  }
  // Past the largest half plus half an ulp, IEEE rounding gives Infinity.
  return sign | (a >= 65520 ? 0x7c00 : best);
}

describe('float16', () => {
  it('converts known values', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff],
      [65519.99, 0x7bff],
      [65520, 0x7c00],
      [1e6, 0x7c00],
      [-1e6, 0xfc00],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -14, 0x0400],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000],
      [2 ** -25 * 1.5, 0x0001],
      [3 * 2 ** -25, 0x0002], // tie between 1 and 2 ulps goes to even 2
      [1 + 2 ** -11, 0x3c00], // tie goes to even mantissa 0
      [1 + 3 * 2 ** -11, 0x3c02], // tie goes to even mantissa 2
      [2 ** -14 - 2 ** -25, 0x0400], // rounds up out of the subnormals
    ];
    for (const [value, bits] of cases) expect([value, float32ToFloat16(value)]).toEqual([value, bits]);
  });

  it('keeps NaN as NaN in both directions', () => {
    expect(float32ToFloat16(Number.NaN) & 0x7e00).toBe(0x7e00);
    expect(Number.isNaN(float16BitsToFloat32Value(0x7e00))).toBe(true);
    expect(Number.isNaN(float16BitsToFloat32Value(0xfd01))).toBe(true);
    const back = float16BitsToFloat32(float32ToFloat16Bits(new Float32Array([Number.NaN, 1])));
    expect(Number.isNaN(back[0])).toBe(true);
    expect(back[1]).toBe(1);
  });

  it('every half value survives half -> float32 -> half', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = float32ToFloat16Bits(float16BitsToFloat32(all));
    for (let h = 0; h < 65536; h++) {
      const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (isNaN) expect(back[h] & 0x7e00).toBe(0x7e00);
      else if (back[h] !== h) expect([h, back[h]]).toEqual([h, h]);
    }
  });

  it('relative error <= 2^-11 for random normal values', () => {
    const random = seededRandom(11);
    const x = new Float32Array(20000).map(() => (random() < 0.5 ? -1 : 1) * 2 ** (-14 + random() * 29.99));
    const back = float16BitsToFloat32(float32ToFloat16Bits(x));
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(back[i] - x[i]) / Math.abs(x[i]));
    expect(worst).toBeLessThanOrEqual(2 ** -11);
    expect(worst).toBeGreaterThan(2 ** -12); // the bound is tight, so a too-coarse converter would also show here
  });

  it('matches exhaustive nearest-even rounding on random subnormal and boundary values', () => {
    const random = seededRandom(5);
    const values = [
      ...Array.from({ length: 60 }, () => random() * 2 ** -14),
      ...Array.from({ length: 20 }, () => 65504 + random() * 32),
      ...Array.from({ length: 20 }, () => -random() * 4),
    ];
    const x = new Float32Array(values);
    const bits = float32ToFloat16Bits(x);
    for (let i = 0; i < x.length; i++) expect([x[i], bits[i]]).toEqual([x[i], nearestHalfBits(x[i])]);
  });
});
