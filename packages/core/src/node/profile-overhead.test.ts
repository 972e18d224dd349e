import { describe, expect, it } from 'vitest';
import type { Plan } from '../plan/plan-types.js';
import { fullRunBytes, halfBytes, measureFixedOverhead } from './profile-overhead.js';

const plan = (crossing: Plan['crossing'], headOutputs: string[], tailOutputs: string[]): Plan =>
  ({ id: 'split-3', kind: 'split', crossing, bytesPerSample: NaN, headFlops: 0, tailFlops: 0, headParamBytes: 0, tailParamBytes: 0, headOutputs, tailOutputs, digest: '' }) as Plan;

describe('per-run overhead by bytes', () => {
  const bytes = { inputs: new Map([['x', 4000], ['mask', 100]]), batch: 2 };

  it('counts what each half is fed', () => {
    expect(fullRunBytes(bytes)).toBe(4100);
    const cut = plan(
      [
        { name: 'mask', dtype: 'FP32', shape: ['N', 25], bytesPerSample: 50, source: 'input' },
        { name: 'h', dtype: 'FP32', shape: ['N', 30], bytesPerSample: 120, source: 'head' },
      ],
      ['aux'],
      ['logits'],
    );
    // Head: all inputs (4100). Tail: mask as fed (100) + h for 2 samples (240).
    expect(halfBytes(cut, bytes)).toEqual({ head: 4100, tail: 340 });
    const unknown = plan([{ name: 'h', dtype: 'FP32', shape: null, bytesPerSample: NaN, source: 'head' }], [], ['logits', 'aux']);
    expect(Number.isNaN(halfBytes(unknown, bytes).tail)).toBe(true);
  });

  it('measures a positive fixed overhead of a one-element run', async () => {
    const fixed = await measureFixedOverhead({ executionProviders: ['cpu'], logSeverityLevel: 3 }, 10);
    expect(fixed).toBeGreaterThan(0);
    expect(fixed).toBeLessThan(50);
  });
});
