import { describe, expect, it } from 'vitest';
import type { LatencyDistribution, ModelProfile, PlanProfile } from '@carboncp/core';
import { candidateId, candidatesFromProfile, checkCandidates, compressedBytesPerSample } from './candidate.js';

const dist = (medianMs: number): LatencyDistribution => ({ medianMs, p10Ms: medianMs * 0.9, p90Ms: medianMs * 1.2, meanMs: medianMs, sdMs: 1, n: 20 });
const plan = (id: string, bytesPerSample: number, headMs: number, tailMs: number): PlanProfile => ({
  id,
  digest: 'a'.repeat(64),
  bytesPerSample,
  k: 0,
  head: dist(headMs),
  tail: dist(tailMs),
});

function profile(plans: PlanProfile[]): ModelProfile {
  return {
    schemaVersion: 1,
    modelDigest: 'b'.repeat(64),
    modelName: 'tiny',
    measuredAt: '2026-01-01T00:00:00Z',
    device: { cpu: 'test', cores: 4, os: 'linux', onnxruntime: '1.0', executionProvider: 'cpu', threads: null, graphOptimizationLevel: 'all' },
    inputShapes: { x: [1, 3, 8, 8] },
    method: { kind: 'node-profiling', runs: 20, warmup: 2, fullModel: dist(50), attributedMs: 45, unattributedMs: 1, overheadMs: 4, fixedOverheadMs: 1, fusedPositions: 0 },
    plans,
  };
}

const DEVICE_PROFILE = profile([plan('server', 768, 0, 50), plan('split-2', 4000, 10, 40), plan('device', 0, 50, 0)]);

describe('candidates', () => {
  it('names a candidate by plan, compression, variant and site', () => {
    expect(candidateId({ planId: 'split-3', compression: 'int8' })).toBe('split-3/int8');
    expect(candidateId({ planId: 'server', compression: 'none', variant: 'small', site: 'eu-west' })).toBe('server/none/small@eu-west');
  });

  it('offers every plan with every compression (device: none only), bytes shrinking as FP32 does', () => {
    const list = candidatesFromProfile(DEVICE_PROFILE, { compressions: ['none', 'fp16', 'int8'], samples: 2, outputBytesPerSample: 40, outputError: (planId, c) => (c === 'fp16' ? 1e-3 : planId === 'split-2' ? 0.02 : undefined) });
    expect(list.map((c) => c.id)).toEqual(['server/none', 'server/fp16', 'server/int8', 'split-2/none', 'split-2/fp16', 'split-2/int8', 'device/none']);
    const byId = Object.fromEntries(list.map((c) => [c.id, c]));
    expect(byId['split-2/none']).toMatchObject({ kind: 'split', bytesUp: 8000, bytesDown: 80, maxAbsError: 0, tailSource: 'device-profile' });
    expect(byId['split-2/fp16']).toMatchObject({ bytesUp: 4000, maxAbsError: 1e-3 });
    expect(byId['split-2/int8']).toMatchObject({ bytesUp: 2000, maxAbsError: 0.02 });
    expect(byId['server/int8']!.maxAbsError).toBeUndefined();
    expect(byId['server/none']!.head.medianMs).toBe(0);
    expect(byId['server/none']!.tail.medianMs).toBe(50);
    expect(byId['device/none']).toMatchObject({ kind: 'device', bytesUp: 0, bytesDown: 0 });
    expect(byId['device/none']!.head.medianMs).toBe(50);
    expect(byId['device/none']!.tail.medianMs).toBe(0);
    expect(() => checkCandidates(list)).not.toThrow();
  });

  it("takes tails from the server's profile, and bytes from the plans' dtypes where given", () => {
    const serverProfile = profile([plan('server', 768, 0, 5), plan('split-2', 4000, 1, 4), plan('device', 0, 5, 0)]);
    const plans = [
      { id: 'split-2', crossing: [{ name: 'a', dtype: 'FP32', shape: ['N', 750], bytesPerSample: 3000, source: 'head' as const }, { name: 'ids', dtype: 'INT64', shape: ['N', 125], bytesPerSample: 1000, source: 'input' as const }] },
    ];
    expect(compressedBytesPerSample(plans[0]!, 'int8')).toBe(750 + 1000);
    const list = candidatesFromProfile(DEVICE_PROFILE, { compressions: ['int8'], serverProfile, plans, planIds: ['split-2'] });
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: 'split-2/int8', bytesUp: 1750, tailSource: 'server-profile' });
    expect(list[0]!.tail.medianMs).toBe(4);
    expect(list[0]!.head.medianMs).toBe(10);
  });

  it('refuses unknown bytes (unless given), unknown plans and compressions, and bad candidate lists', () => {
    const unknown = profile([plan('split-1', Number.NaN, 1, 1)]);
    expect(() => candidatesFromProfile(unknown)).toThrow(/plan 'split-1': bytes per sample are unknown/);
    expect(candidatesFromProfile(unknown, { bytesPerSample: { 'split-1': 123 } })[0]!.bytesUp).toBe(123);
    expect(() => candidatesFromProfile(DEVICE_PROFILE, { planIds: ['split-9'] })).toThrow(/plan 'split-9' is not in the profile/);
    expect(() => candidatesFromProfile(DEVICE_PROFILE, { compressions: ['zip' as never] })).toThrow(/unknown compression/);
    const [a] = candidatesFromProfile(DEVICE_PROFILE, { planIds: ['split-2'] });
    expect(() => checkCandidates([])).toThrow(/at least one candidate/);
    expect(() => checkCandidates([a!, a!])).toThrow(/appears twice/);
    expect(() => checkCandidates([{ ...a!, bytesUp: -1 }])).toThrow(/bytesUp must be a finite number >= 0/);
    expect(() => checkCandidates([{ ...a!, maxAbsError: -1 }])).toThrow(/maxAbsError must be >= 0/);
  });
});
