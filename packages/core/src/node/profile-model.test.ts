import { describe, expect, it } from 'vitest';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { ModelBuilder } from '../onnx/model-builder.js';
import { loadModel } from '../model/load-model.js';
import { partition } from '../partition.js';
import { mulberry32 } from '../random.js';
import { profileFromJson } from '../plan/profile.js';
import { profileModel, spreadCuts } from './profile-model.js';
import { jsonNumbers } from './plan-files.js';

// Relu, MatMul, Relu, MatMul, Relu on [128, 512]: the two MatMuls (33M multiply-adds each) cost
// hundreds of times what a Relu (64K elements) does, so their segments must hold the time.
async function matmulChain() {
  const next = mulberry32(7);
  const weights = () => Float32Array.from({ length: 512 * 512 }, () => next() - 0.5);
  const bytes = new ModelBuilder({ name: 'matmul-chain' })
    .input('x', 'FP32', [128, 512])
    .initializer('w1', 'FP32', [512, 512], weights())
    .initializer('w2', 'FP32', [512, 512], weights())
    .node('Relu', ['x'], ['a'])
    .node('MatMul', ['a', 'w1'], ['b'])
    .node('Relu', ['b'], ['c'])
    .node('MatMul', ['c', 'w2'], ['d'])
    .node('Relu', ['d'], ['y'])
    .output('y', 'FP32', [128, 512])
    .toBytes();
  return partition(await loadModel(bytes, 'matmul-chain'));
}

describe('profileModel', () => {
  it('puts node time on the segments that hold it, and the device plan head is the full run', async () => {
    const parts = await matmulChain();
    expect(parts.plans.map((p) => p.id)).toEqual(['server', 'split-1', 'split-2', 'split-3', 'split-4', 'device']);
    const profile = await profileModel(parts, { runs: 9, warmup: 1, threads: 1, checkCuts: 2, checkRuns: 3 });
    expect(profile.modelDigest).toBe(parts.model.digest);
    expect(profile.device).toMatchObject({ executionProvider: 'cpu', threads: 1, graphOptimizationLevel: 'all', onnxruntime: '1.30.0' });
    expect(profile.method.unattributedMs).toBe(0);
    const plan = (id: string) => profile.plans.find((p) => p.id === id)!;
    expect(plan('server').head.n).toBe(0);
    expect(plan('server').tail.n).toBe(9);
    expect(plan('device').tail.n).toBe(0);
    // Per run, the device head is the run's wall time by construction (overhead + all node time).
    expect(plan('device').head.medianMs).toBeCloseTo(profile.method.fullModel.medianMs, 9);
    expect(plan('device').head.meanMs).toBeCloseTo(profile.method.fullModel.meanMs, 9);
    const overhead = profile.method.overheadMs;
    const relu1 = plan('split-1').head.medianMs - overhead;
    const matmul1 = plan('split-2').head.medianMs - plan('split-1').head.medianMs;
    const relu2 = plan('split-3').head.medianMs - plan('split-2').head.medianMs;
    const matmul2 = plan('split-4').head.medianMs - plan('split-3').head.medianMs;
    // Each Relu's share is a difference of medians a few tens of microseconds wide, so on a loaded
    // machine it is mostly scheduling noise (0.05 ms against a 0.5 ms MatMul once): the claim is
    // that the MatMuls' segments hold the node time, not a ratio to that noise.
    const nodeMs = plan('device').head.medianMs - overhead;
    expect(matmul1 + matmul2, JSON.stringify({ relu1, matmul1, relu2, matmul2, nodeMs })).toBeGreaterThan(0.7 * nodeMs);
    expect(Math.min(matmul1, matmul2)).toBeGreaterThan(3 * Math.max(relu1, relu2));
    // The server plan's tail takes and gives what the full run does: same overhead, same time.
    expect(plan('server').tail.meanMs).toBeCloseTo(profile.method.fullModel.meanMs, 9);
    // A cut's halves pay the fixed overhead twice and the byte-dependent part for the crossing twice.
    expect(profile.method.fixedOverheadMs).toBeGreaterThan(0);
    expect(profile.method.fixedOverheadMs).toBeLessThanOrEqual(overhead);
    for (const id of ['split-1', 'split-2', 'split-3', 'split-4']) {
      expect(plan(id).head.meanMs + plan(id).tail.meanMs).toBeGreaterThan(profile.method.fullModel.meanMs);
    }
    const check = profile.segmentCheck!;
    expect(check.gaps.map((g) => `${g.planId}:${g.half}`)).toEqual(['split-1:head', 'split-1:tail', 'split-4:head', 'split-4:tail']);
    for (const gap of check.gaps) {
      expect(gap.measuredMs).toBeGreaterThan(0);
      expect(gap.rawGap).toBeCloseTo((gap.predictedMs - gap.measuredMs) / gap.measuredMs, 12);
      const drift = gap.fullModelMs / profile.method.fullModel.medianMs;
      expect(gap.gap).toBeCloseTo((gap.predictedMs * drift - gap.measuredMs) / gap.measuredMs, 12);
    }
    expect(check.met).toBe(check.medianAbsGap <= 0.1);

    // It survives JSON and is refused for other bytes.
    const text = JSON.stringify(profile, jsonNumbers);
    expect(profileFromJson(text, { modelDigest: parts.model.digest, executionProvider: 'cpu' })).toEqual(profile);
    const other = 'f'.repeat(64);
    expect(() => profileFromJson(text, { modelDigest: other })).toThrow(expect.objectContaining({ code: ErrorCode.PROFILE_MISMATCH }));
  });

  it('spreads a fused Conv+BatchNormalization+Relu kernel (level all) over its nodes by FLOPs', async () => {
    const ones = new Float32Array(32).fill(1);
    const bytes = new ModelBuilder({ name: 'conv-bn-relu' })
      .input('x', 'FP32', [1, 32, 64, 64])
      .initializer('w', 'FP32', [32, 32, 3, 3], { seed: 3, std: 0.2 })
      .initializer('scale', 'FP32', [32], ones)
      .initializer('bias', 'FP32', [32], new Float32Array(32))
      .initializer('mean', 'FP32', [32], new Float32Array(32))
      .initializer('var', 'FP32', [32], ones)
      .node('Conv', ['x', 'w'], ['c'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })
      .node('BatchNormalization', ['c', 'scale', 'bias', 'mean', 'var'], ['b'])
      .node('Relu', ['b'], ['y'])
      .output('y', 'FP32', [1, 32, 64, 64])
      .toBytes();
    const parts = await partition(await loadModel(bytes, 'conv-bn-relu'));
    const profile = await profileModel(parts, { runs: 5, warmup: 1, threads: 1, checkCuts: 0 });
    // One fused kernel, named after its output 'y': Conv and BatchNormalization had none of their
    // own. The layout reorders onnxruntime adds around it name no node (unattributed, small).
    expect(profile.method.fusedPositions).toBe(2);
    // The two reorders of a 512 KiB tensor against a 0.6 ms conv: 15-25% of the attributed time on
    // this VM (0.10-0.20 ms), which made a 25% bound fail once in CI; the claim is that the kernel's
    // time is attributed, so the bound is that the reorders stay the smaller part.
    expect(profile.method.unattributedMs).toBeLessThan(0.5 * profile.method.attributedMs);
    const head = (id: string) => profile.plans.find((p) => p.id === id)!.head.medianMs - profile.method.overheadMs;
    // The Conv's 38M multiply-adds outweigh BatchNormalization and Relu (a few ops per element).
    expect(head('split-1')).toBeGreaterThan(0.9 * head('device'));
    expect(head('split-2')).toBeLessThan(head('device'));
  });

  it('refuses bad options before running anything', async () => {
    const parts = await matmulChain();
    await expect(profileModel(parts, { runs: 0 })).rejects.toThrow(CarboncpError);
    await expect(profileModel(parts, { threads: 1.5 })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
  });

  it('spreads checked cuts over the splits, first and last included', () => {
    const plans = ['server', ...Array.from({ length: 20 }, (_, i) => `split-${i + 1}`), 'device'].map((id) => ({ id }) as never);
    expect(spreadCuts(plans, 5).map((p: { id: string }) => p.id)).toEqual(['split-1', 'split-6', 'split-11', 'split-15', 'split-20']);
    expect(spreadCuts(plans.slice(0, 4), 5)).toHaveLength(3);
  });
});
