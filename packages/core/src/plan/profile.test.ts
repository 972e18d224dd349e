import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@carboncp/protocol';
import { checkProfileFor, distributionOf, profileFromJson, profileKey, type ModelProfile } from './profile.js';

const dist = (ms: number) => distributionOf([ms, ms * 1.1, ms * 0.9]);
const sample = (): ModelProfile => ({
  schemaVersion: 1,
  modelDigest: 'a'.repeat(64),
  modelName: 'm',
  measuredAt: '2026-11-30T23:00:00.000Z',
  device: { cpu: 'AMD EPYC', cores: 2, os: 'linux 6 x64', onnxruntime: '1.30.0', executionProvider: 'cpu', threads: null, graphOptimizationLevel: 'basic' },
  inputShapes: { x: [1, 3, 224, 224] },
  method: { kind: 'node-profiling', runs: 3, warmup: 1, fullModel: dist(10), attributedMs: 9.5, unattributedMs: 0, overheadMs: 0.5, fixedOverheadMs: 0.05, fusedPositions: 0 },
  plans: [
    { id: 'server', digest: 'b'.repeat(64), bytesPerSample: 602112, k: 0, head: distributionOf([]), tail: dist(10) },
    { id: 'split-1', digest: 'c'.repeat(64), bytesPerSample: NaN, k: 1, head: dist(2), tail: dist(8.5) },
  ],
  segmentCheck: { runs: 3, gaps: [{ planId: 'split-1', half: 'head', predictedMs: 2, measuredMs: 2.2, fullModelMs: 10, gap: -0.2 / 2.2, rawGap: -0.2 / 2.2 }], medianAbsGap: 0.2 / 2.2, medianAbsRawGap: 0.2 / 2.2, maxAbsGap: 0.2 / 2.2, goal: 0.1, met: true },
});

describe('latency profile JSON', () => {
  it('computes distributions with interpolated quantiles and the sample deviation', () => {
    const d = distributionOf([5, 1, 4, 2, 3]);
    expect(d).toEqual({ medianMs: 3, p10Ms: expect.closeTo(1.4, 12), p90Ms: expect.closeTo(4.6, 12), meanMs: 3, sdMs: expect.closeTo(Math.sqrt(2.5), 12), n: 5 });
    expect(distributionOf([])).toEqual({ medianMs: 0, p10Ms: 0, p90Ms: 0, meanMs: 0, sdMs: 0, n: 0 });
  });

  it('round-trips through JSON text, an unknown size (NaN) as null', () => {
    const profile = sample();
    const text = JSON.stringify(profile, (_k, v: unknown) => (typeof v === 'number' && Number.isNaN(v) ? null : v));
    expect(text).toContain('"bytesPerSample":null');
    expect(profileFromJson(text)).toEqual(profile);
  });

  it('names the first field that does not fit', () => {
    const cases: [(p: Record<string, any>) => void, string][] = [
      [(p) => (p.schemaVersion = 2), '$.schemaVersion'],
      [(p) => (p.modelDigest = 'abc'), '$.modelDigest'],
      [(p) => (p.plans[1].head.medianMs = -1), '$.plans[1].head.medianMs'],
      [(p) => (p.plans[0].tail.n = 1.5), '$.plans[0].tail.n'],
      [(p) => delete p.device.executionProvider, '$.device.executionProvider'],
      [(p) => (p.segmentCheck.gaps[0].half = 'both'), '$.segmentCheck.gaps[0].half'],
      [(p) => (p.plans = []), '$.plans'],
    ];
    for (const [edit, path] of cases) {
      const json = JSON.parse(JSON.stringify(sample()));
      edit(json);
      expect(() => profileFromJson(json)).toThrow(expect.objectContaining({ code: ErrorCode.BAD_PROFILE, message: expect.stringContaining(path) }));
    }
    expect(() => profileFromJson('{')).toThrow(expect.objectContaining({ code: ErrorCode.BAD_PROFILE }));
  });

  it('refuses a profile for another model, provider or CPU', () => {
    const profile = sample();
    expect(() => checkProfileFor(profile, { modelDigest: 'a'.repeat(64), executionProvider: 'cpu', cpu: 'AMD EPYC' })).not.toThrow();
    for (const expect_ of [{ modelDigest: 'd'.repeat(64) }, { modelDigest: 'a'.repeat(64), executionProvider: 'cuda' }, { modelDigest: 'a'.repeat(64), cpu: 'Apple M2' }]) {
      expect(() => checkProfileFor(profile, expect_)).toThrow(expect.objectContaining({ code: ErrorCode.PROFILE_MISMATCH }));
    }
    expect(() => profileFromJson(JSON.parse(JSON.stringify(sample())), { modelDigest: 'd'.repeat(64) })).toThrow(expect.objectContaining({ code: ErrorCode.PROFILE_MISMATCH }));
  });

  it('keys a profile by model, device and provider', () => {
    const a = sample();
    const b = sample();
    b.device.executionProvider = 'cuda';
    expect(profileKey(a)).not.toBe(profileKey(b));
    expect(profileKey(a)).toBe(profileKey(sample()));
  });
});
