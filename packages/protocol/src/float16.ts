/**
 * IEEE 754 binary16 conversion, written out because Float16Array is not in Node 20 and the
 * protocol package may depend on nothing. Rounding is to nearest, ties to even, so the relative
 * error for values in the normal half range is at most 2^-11. Values from 65520 up become
 * Infinity, values below 2^-25 become signed zero, subnormal halves are produced and read back
 * exactly, and NaN stays NaN (quiet, sign and top payload bits kept).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Half bits of the float32 whose raw bits are `bits`. */
export function float32BitsToFloat16Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const abs = bits & 0x7fffffff;
  if (abs >= 0x7f800000) {
    // Infinity keeps a zero mantissa; NaN gets the quiet bit so it can never collapse to Infinity.
    return abs === 0x7f800000 ? sign | 0x7c00 : sign | 0x7e00 | ((abs >>> 13) & 0x3ff);
  }
  if (abs >= 0x47800000) return sign | 0x7c00; // >= 65536: past the largest half even after rounding
  if (abs < 0x38800000) {
    // Below the smallest normal half (2^-14): a subnormal half, mantissa = value * 2^24.
    if (abs <= 0x33000000) return sign; // <= 2^-25: rounds to zero (2^-25 itself ties to even 0)
    const exponent = abs >>> 23;
    const mantissa = (abs & 0x7fffff) | 0x800000;
    const shift = 126 - exponent;
    let half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    if (rest > midpoint || (rest === midpoint && (half & 1) === 1)) half++;
    return sign | half;
  }
  // Rebias the exponent (127 -> 15) and drop 13 mantissa bits; a carry out of the mantissa
  // correctly bumps the exponent, up to Infinity for 65520 <= |x| < 65536.
  let half = (abs - 0x38000000) >>> 13;
  const rest = abs & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

/** Float32 value of half bits `h` (exact: every half is representable as a float32). */
export function float16BitsToFloat32Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) {
    if (mantissa === 0) return sign * Infinity;
    f32[0] = 0;
    u32[0] = ((h & 0x8000) << 16) | 0x7f800000 | (mantissa << 13);
    return f32[0];
  }
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

export function float32ToFloat16(value: number): number {
  f32[0] = value;
  return float32BitsToFloat16Bits(u32[0]);
}

let halfTable: Float32Array | undefined;

/** All 65536 half values as float32 (256 KiB), built on first use: a lookup beats the arithmetic. */
function halfToFloatTable(): Float32Array {
  if (halfTable === undefined) {
    const table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = float16BitsToFloat32Value(h);
    halfTable = table;
  }
  return halfTable;
}

/** Converts float32 values to raw IEEE half bits. */
export function float32ToFloat16Bits(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  // A Float32Array is always 4-byte aligned, so its raw bits can be viewed without a copy.
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  for (let i = 0; i < bits.length; i++) out[i] = float32BitsToFloat16Bits(bits[i]);
  return out;
}

/** Converts raw IEEE half bits to float32 values. */
export function float16BitsToFloat32(x: Uint16Array): Float32Array {
  const table = halfToFloatTable();
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = table[x[i]];
  return out;
}
