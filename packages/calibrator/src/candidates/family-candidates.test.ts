import { describe, expect, it } from 'vitest';
import type { LatencyDistribution, ModelFamily, ModelProfile, PlanProfile } from '@carboncp/core';
import { candidatesFromFamily } from './family-candidates.js';

const dist = (medianMs: number): LatencyDistribution => ({ medianMs, p10Ms: medianMs * 0.9, p90Ms: medianMs * 1.2, meanMs: medianMs, sdMs: 1, n: 20 });
const plan = (id: string, bytesPerSample: number, headMs: number, tailMs: number): PlanProfile => ({ id, digest: 'a'.repeat(64), bytesPerSample, k: 0, head: dist(headMs), tail: dist(tailMs) });

function profile(modelName: string, plans: PlanProfile[]): ModelProfile {
  return {
    schemaVersion: 1,
    modelDigest: 'b'.repeat(64),
    modelName,
    measuredAt: '2026-01-01T00:00:00Z',
    device: { cpu: 'test', cores: 4, os: 'linux', onnxruntime: '1.0', executionProvider: 'cpu', threads: null, graphOptimizationLevel: 'all' },
    inputShapes: { x: [1, 3, 8, 8] },
    method: { kind: 'node-profiling', runs: 20, warmup: 2, fullModel: dist(50), attributedMs: 45, unattributedMs: 1, overheadMs: 4, fixedOverheadMs: 1, fusedPositions: 0 },
    plans,
  };
}

const source = 'a paper, table 1 (test)';
const FAMILY: ModelFamily = {
  name: 'tiny-family',
  task: 'a test task',
  qualityMetric: 'top-1 accuracy, %',
  variants: [
    { name: 'small', model: 'tiny-small', quality: { value: 60, source, kind: 'declared' } },
    { name: 'large', model: 'tiny-large', quality: { value: 72.5, source, kind: 'declared' } },
  ],
};
const SMALL = profile('tiny-small', [plan('server', 768, 0, 20), plan('split-1', 1000, 4, 16), plan('device', 0, 20, 0)]);
const LARGE = profile('tiny-large', [plan('server', 768, 0, 50), plan('split-2', 4000, 10, 40), plan('device', 0, 50, 0)]);

describe('candidatesFromFamily', () => {
  it('gives variant x plan x compression, each with its variant and declared quality', () => {
    const list = candidatesFromFamily(FAMILY, { small: SMALL, 'tiny-large': LARGE }, { compressions: ['none', 'int8'], outputBytesPerSample: 4000 });
    expect(list.map((c) => c.id)).toEqual([
      'server/none/small', 'server/int8/small', 'split-1/none/small', 'split-1/int8/small', 'device/none/small',
      'server/none/large', 'server/int8/large', 'split-2/none/large', 'split-2/int8/large', 'device/none/large',
    ]);
    const byId = Object.fromEntries(list.map((c) => [c.id, c]));
    expect(byId['split-1/int8/small']).toMatchObject({ planId: 'split-1', variant: 'small', quality: 60, bytesUp: 250, bytesDown: 4000, compression: 'int8' });
    expect(byId['split-2/none/large']).toMatchObject({ variant: 'large', quality: 72.5, bytesUp: 4000 });
    expect(byId['split-2/none/large']!.head.medianMs).toBe(10);
    expect(byId['device/none/large']).toMatchObject({ kind: 'device', bytesUp: 0, bytesDown: 0, quality: 72.5 });
  });

  it('takes per-variant options and a subset of variants', () => {
    const list = candidatesFromFamily(FAMILY, { small: SMALL, large: LARGE }, { variants: ['large'], perVariant: { large: { planIds: ['split-2'], outputError: () => 0.5 } }, compressions: ['fp16'] });
    expect(list.map((c) => c.id)).toEqual(['split-2/fp16/large']);
    expect(list[0]!.maxAbsError).toBe(0.5);
  });

  it('refuses an unknown variant, a variant without a profile and a malformed family', () => {
    expect(() => candidatesFromFamily(FAMILY, { small: SMALL, large: LARGE }, { variants: ['medium'] })).toThrow(/no variant 'medium'/);
    expect(() => candidatesFromFamily(FAMILY, { small: SMALL })).toThrow(/no profile for variant 'large'/);
    expect(() => candidatesFromFamily({ ...FAMILY, variants: [] }, {})).toThrow(expect.objectContaining({ code: 'CARBONCP_BAD_MODEL_FAMILY' }));
  });
});
