import { describe, expect, it } from 'vitest';
import { mulberry32, seedFromString, seededNormal, seededUniform } from './random.js';

describe('seeded randomness', () => {
  it('mulberry32 repeats for a seed and differs between seeds', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const seqA = [a(), a(), a()];
    expect([b(), b(), b()]).toEqual(seqA);
    expect([c(), c(), c()]).not.toEqual(seqA);
    for (const v of seqA) expect(v >= 0 && v < 1).toBe(true);
  });
  it('seededNormal has the requested mean and standard deviation', () => {
    const values = seededNormal(7, 20_001, 0.5, 2);
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
    expect(Math.abs(Math.sqrt(variance) - 2)).toBeLessThan(0.05);
    expect(Array.from(seededNormal(7, 5, 0.5, 2))).toEqual(Array.from(values.subarray(0, 5)));
  });
  it('seededUniform stays in range and seedFromString is stable', () => {
    const values = seededUniform(3, 1000, -1, 2);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...values)).toBeLessThan(2);
    expect(seedFromString('conv1.weight')).toBe(seedFromString('conv1.weight'));
    expect(seedFromString('conv1.weight')).not.toBe(seedFromString('conv1.bias'));
  });
});
