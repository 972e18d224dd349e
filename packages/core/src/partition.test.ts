import { describe, expect, it } from 'vitest';
import { GraphBuilder, ModelBuilder, makeTensor } from './onnx/model-builder.js';
import { decodeModel, encodeModel } from './onnx/proto.js';
import { loadModel, type LoadedModel } from './model/load-model.js';
import { getPlan, partition } from './partition.js';
import type { Partition } from './plan/plan-types.js';
import { partitionWithProbe } from './node/partition-with-probe.js';
import { verifyPlans } from './node/verify.js';
import { ocrModelPath } from './node/ocr-model-path.js';
import { readModelFile } from './node/read-model.js';

/** Crossing sets of the split plans, keyed by id, for compact assertions. */
function crossingSets(p: Partition): Record<string, string[]> {
  return Object.fromEntries(p.plans.filter((plan) => plan.kind === 'split').map((plan) => [plan.id, plan.crossing.map((c) => c.name)]));
}

/** Every plan, head then tail, equals the full model on seeded inputs. */
async function expectAllPlansEquivalent(p: Partition, inputShapes?: Record<string, number[]>): Promise<void> {
  const results = await verifyPlans(p, { tol: 1e-5, seed: 7, inputShapes });
  expect(results.map((r) => r.planId)).toEqual(p.plans.map((plan) => plan.id));
  for (const r of results) expect(r, r.planId).toMatchObject({ ok: true });
  for (const r of results) expect(r.maxAbsDiff).toBeLessThan(1e-5);
}

function chain(): ModelBuilder {
  return new ModelBuilder({ name: 'chain' })
    .input('x', 'FP32', ['N', 4])
    .initializer('w1', 'FP32', [4, 6], { seed: 1, std: 0.5 })
    .initializer('w2', 'FP32', [6, 3], { seed: 2, std: 0.5 })
    .node('MatMul', ['x', 'w1'], ['h'])
    .node('Relu', ['h'], ['r'])
    .node('MatMul', ['r', 'w2'], ['y'])
    .valueInfo('h', 'FP32', ['N', 6])
    .valueInfo('r', 'FP32', ['N', 6])
    .output('y', 'FP32', ['N', 3]);
}

async function load(builder: ModelBuilder, name?: string): Promise<LoadedModel> {
  return loadModel(builder.toBytes(), name);
}

describe('cut enumeration on hand-built graphs', () => {
  it('chain: one tensor per cut, sizes and FLOPs from the declared shapes, no probe needed', async () => {
    const model = await load(chain());
    const p = await partition(model);
    expect(p.plans.map((plan) => plan.id)).toEqual(['server', 'split-1', 'split-2', 'device']);
    expect(crossingSets(p)).toEqual({ 'split-1': ['h'], 'split-2': ['r'] });
    const split1 = getPlan(p, 'split-1');
    expect(split1.crossing[0]).toEqual({ name: 'h', dtype: 'FP32', shape: ['N', 6], bytesPerSample: 24, source: 'head' });
    // MatMul [1,4]x[4,6]: 2*6*4 = 48; Relu: 6; MatMul [1,6]x[6,3]: 2*3*6 = 36.
    expect(split1.headFlops).toBe(48);
    expect(split1.tailFlops).toBe(42);
    expect(split1.headParamBytes).toBe(4 * 6 * 4);
    expect(split1.tailParamBytes).toBe(6 * 3 * 4);
    expect(getPlan(p, 'server')).toMatchObject({ crossing: [{ name: 'x', source: 'input', bytesPerSample: 16 }], headFlops: 0, tailFlops: 90, tailOutputs: ['y'] });
    expect(getPlan(p, 'device')).toMatchObject({ crossing: [], bytesPerSample: 0, headFlops: 90, headOutputs: ['y'], tailOutputs: [] });
    await expectAllPlansEquivalent(p);
  });

  it('a file whose node order is not topological is sorted stably', async () => {
    const model = chain().build();
    model.graph!.node.reverse();
    const p = await partition(await loadModel(encodeModel(model)));
    expect(crossingSets(p)).toEqual({ 'split-1': ['h'], 'split-2': ['r'] });
    await expectAllPlansEquivalent(p);
  });

  it('residual block: the skip tensor crosses with the branch, and width limits the cuts', async () => {
    const builder = new ModelBuilder({ name: 'residual' })
      .input('x', 'FP32', ['N', 8])
      .initializer('w0', 'FP32', [8, 8], { seed: 3, std: 0.3 })
      .initializer('w1', 'FP32', [8, 8], { seed: 4, std: 0.3 })
      .node('MatMul', ['x', 'w0'], ['h'])
      .node('Relu', ['h'], ['r'])
      .node('MatMul', ['r', 'w1'], ['m'])
      .node('Add', ['m', 'h'], ['s'])
      .node('Relu', ['s'], ['y'])
      .output('y', 'FP32', ['N', 8]);
    const model = await load(builder);
    const p = await partitionWithProbe(model);
    expect(crossingSets(p)).toEqual({ 'split-1': ['h'], 'split-2': ['h', 'r'], 'split-3': ['h', 'm'], 'split-4': ['s'] });
    expect(getPlan(p, 'split-2').crossing.map((c) => c.shape)).toEqual([['N', 8], ['N', 8]]);
    expect(getPlan(p, 'split-2').bytesPerSample).toBe(64);
    await expectAllPlansEquivalent(p);
    const narrow = await partitionWithProbe(model, { maxWidth: 1 });
    expect(Object.keys(crossingSets(narrow))).toEqual(['split-1', 'split-4']);
  });

  it('multi-branch: a graph input the tail still needs crosses with source input', async () => {
    const builder = new ModelBuilder({ name: 'branches' })
      .input('x', 'FP32', ['N', 4])
      .initializer('wa', 'FP32', [4, 2], { seed: 5, std: 0.5 })
      .initializer('wb', 'FP32', [4, 2], { seed: 6, std: 0.5 })
      .initializer('wc', 'FP32', [4, 2], { seed: 7, std: 0.5 })
      .node('MatMul', ['x', 'wa'], ['a'])
      .node('MatMul', ['x', 'wb'], ['b'])
      .node('MatMul', ['x', 'wc'], ['c'])
      .node('Concat', ['a', 'b', 'c'], ['y'], { axis: 1 })
      .output('y', 'FP32', ['N', 6]);
    const p = await partitionWithProbe(await load(builder));
    expect(crossingSets(p)).toEqual({ 'split-1': ['x', 'a'], 'split-2': ['x', 'a', 'b'], 'split-3': ['a', 'b', 'c'] });
    expect(getPlan(p, 'split-1').crossing.map((c) => c.source)).toEqual(['input', 'head']);
    await expectAllPlansEquivalent(p);
    const two = await partitionWithProbe(await load(builder), { maxWidth: 2 });
    expect(Object.keys(crossingSets(two))).toEqual(['split-1']);
  });

  it('constant subgraphs (Constant, Shape/ReduceProd/Concat on initializers) are copied, not cut', async () => {
    const builder = new ModelBuilder({ name: 'constants' })
      .input('x', 'FP32', ['N', 2, 3])
      .initializer('template', 'FP32', [3, 2], { seed: 8, std: 1 })
      .initializer('w', 'FP32', [6, 4], { seed: 9, std: 0.5 })
      .node('Shape', ['template'], ['template_shape'])
      .node('ReduceProd', ['template_shape'], ['features'], { keepdims: 1 })
      .node('Constant', [], ['minus_one'], { value: makeTensor('minus_one', 'INT64', [1], [-1]) })
      .node('Concat', ['minus_one', 'features'], ['target'], { axis: 0 })
      .node('Relu', ['x'], ['r'])
      .node('Reshape', ['r', 'target'], ['flat'])
      .node('MatMul', ['flat', 'w'], ['y'])
      .output('y', 'FP32', ['N', 4]);
    const model = await load(builder);
    const p = await partitionWithProbe(model);
    // Only Relu, Reshape and MatMul are compute nodes.
    expect(p.plans.map((plan) => plan.id)).toEqual(['server', 'split-1', 'split-2', 'device']);
    expect(crossingSets(p)).toEqual({ 'split-1': ['r'], 'split-2': ['flat'] });
    expect(getPlan(p, 'split-2').crossing[0]).toMatchObject({ shape: ['N', 6], bytesPerSample: 24 });
    // The Reshape target is built from 'template' (24 bytes) and a Constant (8 bytes) on the side that reshapes.
    expect(getPlan(p, 'split-1').tailParamBytes).toBe(24 + 8 + 96);
    expect(getPlan(p, 'split-2').headParamBytes).toBe(24 + 8);
    await expectAllPlansEquivalent(p);
  });

  it('several inputs and outputs: outputs made in the head are head outputs', async () => {
    const builder = new ModelBuilder({ name: 'multi-io' })
      .input('a', 'FP32', ['N', 4])
      .input('b', 'FP32', ['N', 4])
      .node('Relu', ['a'], ['ra'])
      .node('Add', ['ra', 'b'], ['o1'])
      .node('Sigmoid', ['o1'], ['o2'])
      .output('o1', 'FP32', ['N', 4])
      .output('o2', 'FP32', ['N', 4]);
    const p = await partitionWithProbe(await load(builder));
    expect(crossingSets(p)).toEqual({ 'split-1': ['b', 'ra'], 'split-2': ['o1'] });
    expect(getPlan(p, 'split-1')).toMatchObject({ headOutputs: [], tailOutputs: ['o1', 'o2'] });
    expect(getPlan(p, 'split-2')).toMatchObject({ headOutputs: ['o1'], tailOutputs: ['o2'] });
    expect(getPlan(p, 'server').crossing.map((c) => c.name)).toEqual(['a', 'b']);
    await expectAllPlansEquivalent(p);
  });

  it('If node: names its branches capture from the outer graph are dependencies', async () => {
    const thenBranch = new GraphBuilder('then').node('Mul', ['h', 'scale'], ['t']).output('t', 'FP32', ['N', 4]).buildGraph();
    const elseBranch = new GraphBuilder('else').node('Sub', ['h', 'scale'], ['e']).output('e', 'FP32', ['N', 4]).buildGraph();
    const builder = new ModelBuilder({ name: 'branchy' })
      .input('x', 'FP32', ['N', 4])
      .input('flag', 'BOOL', [])
      .initializer('scale', 'FP32', [4], { seed: 10, std: 1 })
      .node('Relu', ['x'], ['h'])
      .node('If', ['flag'], ['chosen'], { then_branch: thenBranch, else_branch: elseBranch })
      .node('Sigmoid', ['chosen'], ['y'])
      .output('y', 'FP32', ['N', 4]);
    const p = await partitionWithProbe(await load(builder));
    // 'h' is read only inside the branches; without capture analysis split-1 would send just 'flag'.
    expect(crossingSets(p)).toEqual({ 'split-1': ['flag', 'h'], 'split-2': ['chosen'] });
    expect(getPlan(p, 'split-1').crossing[0]).toMatchObject({ dtype: 'BOOL', shape: [], bytesPerSample: 1, source: 'input' });
    // 'scale' is read by the If node only, through its branches.
    expect(getPlan(p, 'split-1').tailParamBytes).toBe(16);
    expect(getPlan(p, 'split-1').headParamBytes).toBe(0);
    for (const seed of [1, 2]) {
      const results = await verifyPlans(p, { tol: 1e-5, seed });
      expect(results.every((r) => r.ok)).toBe(true);
    }
  });

  it('digests are stable for the same bytes and differ across cuts and models', async () => {
    const bytes = chain().toBytes();
    const one = await partition(await loadModel(bytes));
    const two = await partition(await loadModel(Uint8Array.from(bytes)));
    expect(two.plans.map((p) => p.digest)).toEqual(one.plans.map((p) => p.digest));
    expect(new Set(one.plans.map((p) => p.digest)).size).toBe(one.plans.length);
    const changed = decodeModel(bytes);
    changed.producerVersion = '9.9.9';
    const other = await partition(await loadModel(encodeModel(changed)));
    expect(other.model.digest).not.toBe(one.model.digest);
    for (const [i, plan] of other.plans.entries()) expect(plan.digest).not.toBe(one.plans[i].digest);
  });

  it('digests depend on the model bytes and the cut only: not on input shapes, nor on a probe', async () => {
    const cls = await readModelFile(ocrModelPath('ch_ppocr_mobile_v2.0_cls_infer.onnx'));
    const small = await partitionWithProbe(cls, { inputShapes: { x: [1, 3, 48, 192] } });
    const large = await partitionWithProbe(cls, { inputShapes: { x: [2, 3, 64, 256] } });
    const bare = await partition(cls);
    const split = small.plans.find((p) => p.kind === 'split' && p.crossing[0].source === 'head')!;
    // The probes really did measure different crossing shapes...
    expect(getPlan(large, split.id).crossing[0].shape).not.toEqual(split.crossing[0].shape);
    expect(getPlan(bare, split.id).crossing[0].shape).toBeNull();
    // ...and the digests are the same.
    expect(large.plans.map((p) => [p.id, p.digest])).toEqual(small.plans.map((p) => [p.id, p.digest]));
    expect(bare.plans.map((p) => [p.id, p.digest])).toEqual(small.plans.map((p) => [p.id, p.digest]));
    expect(new Set(small.plans.map((p) => p.digest)).size).toBe(small.plans.length);
    const changed = decodeModel(cls.bytes);
    changed.producerVersion = 'changed';
    const other = await partition(await loadModel(encodeModel(changed), cls.name));
    expect(other.plans.map((p) => p.id)).toEqual(small.plans.map((p) => p.id));
    for (const [i, plan] of other.plans.entries()) expect(plan.digest).not.toBe(small.plans[i].digest);
  });

  it('unknown plan ids are CARBONCP_UNKNOWN_PLAN listing the valid ones', async () => {
    const p = await partition(await load(chain()));
    expect(() => getPlan(p, 'split-99')).toThrow(/no plan 'split-99'; valid ids: server, split-1, split-2, device/);
    expect(() => getPlan(p, 'split-99')).toThrow(expect.objectContaining({ code: 'CARBONCP_UNKNOWN_PLAN' }));
  });
});
