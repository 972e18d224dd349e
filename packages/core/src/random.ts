/**
 * Seeded randomness, the one copy for every package that may import core: generated weights
 * must be the same on every machine and every run (so a generated model's bytes and digest never
 * change), and tests, seeded inputs and reconnect jitter must be reproducible.
 */

/** mulberry32: a 32-bit seeded PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` normally distributed floats (Box-Muller over mulberry32). */
export function seededNormal(seed: number, count: number, mean = 0, std = 1): Float32Array {
  const next = mulberry32(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    // 1 - next() is in (0, 1], so the logarithm is finite.
    const radius = Math.sqrt(-2 * Math.log(1 - next())) * std;
    const angle = 2 * Math.PI * next();
    out[i] = mean + radius * Math.cos(angle);
    if (i + 1 < count) out[i + 1] = mean + radius * Math.sin(angle);
  }
  return out;
}

/** `count` uniformly distributed floats in [low, high). */
export function seededUniform(seed: number, count: number, low = 0, high = 1): Float32Array {
  const next = mulberry32(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = low + (high - low) * next();
  return out;
}

/** Stable 32-bit seed from a string (FNV-1a), to give each weight its own stream. */
export function seedFromString(text: string, base = 0): number {
  let hash = (0x811c9dc5 ^ base) >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
