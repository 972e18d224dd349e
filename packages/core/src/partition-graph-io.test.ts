// Graph inputs and outputs as real-world exporters write them: initializers listed among the
// inputs (IR < 4), omitted optional inputs and outputs (''), pass-through and constant outputs,
// dead values, unused inputs and names that are at once crossing tensors and graph outputs.
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { ModelBuilder, makeTensor, makeValueInfo } from './onnx/model-builder.js';
import { SparseTensorProtoSchema, create, decodeModel, encodeModel, type ModelProto } from './onnx/proto.js';
import { loadModel } from './model/load-model.js';
import { extractPlan, getPlan } from './partition.js';
import { inputsNeedingShapes } from './shapes/input-shapes.js';
import type { Partition } from './plan/plan-types.js';
import { tensorBytes } from './plan/analysis.js';
import { partitionWithProbe } from './node/partition-with-probe.js';
import { seededInputs } from './node/seeded-inputs.js';
import { verifyPlans } from './node/verify.js';

/** Extracts every split plan and returns each half's graph input and output names. */
function halvesIo(p: Partition): Record<string, { head: { inputs: string[]; outputs: string[] }; tail: { inputs: string[]; outputs: string[] } }> {
  const io = (bytes: Uint8Array | null) => {
    const graph = decodeModel(bytes!).graph!;
    return { inputs: graph.input.map((v) => v.name), outputs: graph.output.map((v) => v.name) };
  };
  const result: ReturnType<typeof halvesIo> = {};
  for (const plan of p.plans.filter((pl) => pl.kind === 'split')) {
    const { head, tail } = extractPlan(p, plan);
    result[plan.id] = { head: io(head), tail: io(tail) };
  }
  return result;
}

/** Initializer and Constant tensor bytes of a half: what a plan counts as its parameters. */
function parameterBytes(bytes: Uint8Array): number {
  const graph = decodeModel(bytes).graph!;
  const constants = graph.node.filter((n) => n.opType === 'Constant').map((n) => n.attribute.find((a) => a.name === 'value')?.t);
  return [...graph.initializer, ...constants].reduce((sum, t) => sum + (t ? tensorBytes(t) : 0), 0);
}

async function expectAllPlansEquivalent(p: Partition, inputShapes?: Record<string, number[]>): Promise<void> {
  const results = await verifyPlans(p, { tol: 1e-5, seed: 5, inputShapes });
  expect(results.map((r) => r.planId)).toEqual(p.plans.map((plan) => plan.id));
  for (const r of results) expect(r, r.planId).toMatchObject({ ok: true });
}

/** A chain whose weight 'w' is listed among the graph inputs too, as IR < 4 requires. */
function weightsAsInputs(irVersion: number, opset: number): ModelProto {
  const model = new ModelBuilder({ name: `ir${irVersion}`, irVersion, opset })
    .input('x', 'FP32', ['N', 4])
    .initializer('w', 'FP32', [4, 4], { seed: 1, std: 0.5 })
    .initializer('b', 'FP32', [4], { seed: 2, std: 0.5 })
    .node('MatMul', ['x', 'w'], ['h'])
    .node('Add', ['h', 'b'], ['a'])
    .node('Relu', ['a'], ['r'])
    .node('MatMul', ['r', 'w'], ['y'])
    .output('y', 'FP32', ['N', 4])
    .build();
  model.graph!.input.push(makeValueInfo('w', 'FP32', [4, 4]), makeValueInfo('b', 'FP32', [4]));
  return model;
}

describe('initializers listed among the graph inputs', () => {
  for (const [irVersion, opset] of [[3, 8], [8, 17]]) {
    it(`IR ${irVersion}: they are weights, never inputs the device feeds or sends`, async () => {
      const model = await loadModel(encodeModel(weightsAsInputs(irVersion, opset)));
      expect(model.inputs.map((i) => i.name)).toEqual(['x']);
      expect(Object.keys(seededInputs(model, undefined, 1))).toEqual(['x']);
      const p = await partitionWithProbe(model);
      expect(getPlan(p, 'server').crossing.map((c) => c.name)).toEqual(['x']);
      for (const plan of p.plans) expect(plan.crossing.map((c) => c.name).filter((name) => name === 'w' || name === 'b'), plan.id).toEqual([]);
      // 'w' is read on both sides of split-2 and counts on both; 'b' only in the head.
      expect(getPlan(p, 'split-2')).toMatchObject({ headParamBytes: 64 + 16, tailParamBytes: 64 });
      for (const [id, io] of Object.entries(halvesIo(p))) {
        // Each half keeps the defaults it reads, still listed as (defaulted) inputs...
        expect(io.head.inputs[0], id).toBe('x');
        expect(io.tail.inputs[0], id).toBe(getPlan(p, id).crossing[0].name);
        const { head } = extractPlan(p, id);
        // ...which onnxruntime does not ask for.
        const session = await ort.InferenceSession.create(head!, { logSeverityLevel: 3 });
        expect(session.inputNames, id).toEqual(['x']);
        await session.release();
      }
      await expectAllPlansEquivalent(p);
    });
  }

  it('a sparse initializer listed among the inputs is a weight too', async () => {
    const built = new ModelBuilder({ name: 'sparse' })
      .input('x', 'FP32', ['N', 4])
      .node('MatMul', ['x', 'w'], ['h'])
      .node('Relu', ['h'], ['y'])
      .output('y', 'FP32', ['N', 4])
      .build();
    // A diagonal [4, 4] weight stored as 4 values at linear indices 0, 5, 10, 15.
    built.graph!.sparseInitializer.push(
      create(SparseTensorProtoSchema, {
        values: makeTensor('w', 'FP32', [4], [1, -2, 3, -4]),
        indices: makeTensor('w_indices', 'INT64', [4], [0, 5, 10, 15]),
        dims: [4n, 4n],
      }),
    );
    built.graph!.input.push(makeValueInfo('w', 'FP32', [4, 4]));
    const model = await loadModel(encodeModel(built));
    expect(model.inputs.map((i) => i.name)).toEqual(['x']);
    const p = await partitionWithProbe(model);
    expect(p.plans.map((plan) => plan.crossing.map((c) => c.name))).toEqual([['x'], ['h'], []]);
    await expectAllPlansEquivalent(p);
  });
});

describe("omitted optional inputs and outputs ('')", () => {
  it("Resize(X, '', scales), Dropout without a mask, LSTM with only Y_h: '' never crosses nor becomes a half's input or output", async () => {
    const model = await loadModel(
      new ModelBuilder({ name: 'optional' })
        .input('x', 'FP32', [5, 2, 3])
        .initializer('scales', 'FP32', [3], [1, 1, 2])
        .initializer('W', 'FP32', [1, 16, 6], { seed: 3, std: 0.3 })
        .initializer('R', 'FP32', [1, 16, 4], { seed: 4, std: 0.3 })
        .node('Relu', ['x'], ['h'])
        .node('Resize', ['h', '', 'scales'], ['u'], { mode: 'nearest' })
        .node('Dropout', ['u'], ['d', ''])
        .node('LSTM', ['d', 'W', 'R', '', '', '', '', ''], ['', 'yh', ''], { hidden_size: 4 })
        .node('Tanh', ['yh'], ['y'])
        .output('y', 'FP32', [1, 2, 4])
        .toBytes(),
    );
    const p = await partitionWithProbe(model);
    expect(p.plans.map((plan) => plan.id)).toEqual(['server', 'split-1', 'split-2', 'split-3', 'split-4', 'device']);
    expect(p.plans.map((plan) => plan.crossing.map((c) => c.name))).toEqual([['x'], ['h'], ['u'], ['d'], ['yh'], []]);
    for (const [id, io] of Object.entries(halvesIo(p))) {
      for (const names of [io.head.inputs, io.head.outputs, io.tail.inputs, io.tail.outputs]) expect(names, id).not.toContain('');
    }
    // LSTM FLOPs are not modelled (0) and Dropout moves data; Resize (nearest) is one per output element.
    expect(getPlan(p, 'split-2').headFlops - getPlan(p, 'split-1').headFlops).toBe(5 * 2 * 6);
    await expectAllPlansEquivalent(p);
  });
});

describe('pass-through, constant, duplicated and dead outputs; unused inputs', () => {
  it('every split extracts, halves declare each name once, and head then tail equals the model', async () => {
    const model = await loadModel(
      new ModelBuilder({ name: 'odd-io' })
        .input('x', 'FP32', ['N', 4])
        .input('z', 'FP32', ['N', 2])
        .input('unused', 'FP32', ['N', 3])
        .initializer('w', 'FP32', [3], [1, 2, 3])
        .node('Constant', [], ['c'], { value: makeTensor('c', 'FP32', [2], [5, 6]) })
        .node('Relu', ['x'], ['h'])
        .node('Exp', ['h'], ['dead'])
        .node('TopK', ['h', 'k'], ['top', 'top_indices'], { axis: 1 })
        .initializer('k', 'INT64', [1], [4])
        .node('Sigmoid', ['top'], ['y'])
        .output('y', 'FP32', ['N', 4])
        .output('z', 'FP32', ['N', 2])
        .output('c', 'FP32', [2])
        .output('w', 'FP32', [3])
        .output('y', 'FP32', ['N', 4])
        .toBytes(),
    );
    const p = await partitionWithProbe(model);
    // The device sends every input when the server runs it all (onnxruntime wants them all), the
    // head's crossing tensors at a split: never 'dead', 'top_indices', 'unused' or 'z'.
    expect(getPlan(p, 'server').crossing.map((c) => c.name)).toEqual(['x', 'z', 'unused']);
    expect(p.plans.filter((plan) => plan.kind === 'split').map((plan) => plan.crossing.map((c) => c.name))).toEqual([['h'], ['top']]);
    for (const id of ['split-1', 'split-2']) {
      expect(getPlan(p, id)).toMatchObject({ headOutputs: ['z', 'c', 'w'], tailOutputs: ['y', 'y'] });
    }
    // The head carries 'w' (12 bytes) and the Constant 'c' (8) for its outputs; TopK's 'k' (8) goes where TopK runs.
    expect(p.plans.map((plan) => [plan.headParamBytes, plan.tailParamBytes])).toEqual([[0, 28], [20, 8], [28, 0], [28, 0]]);
    for (const plan of p.plans.filter((pl) => pl.kind === 'split')) {
      const { head, tail } = extractPlan(p, plan);
      expect([parameterBytes(head!), parameterBytes(tail!)], plan.id).toEqual([plan.headParamBytes, plan.tailParamBytes]);
    }
    const io = halvesIo(p);
    expect(io['split-1'].head).toEqual({ inputs: ['x', 'z'], outputs: ['h', 'z', 'c', 'w'] });
    expect(io['split-1'].tail).toEqual({ inputs: ['h'], outputs: ['y', 'y'] });
    expect(io['split-2'].head).toEqual({ inputs: ['x', 'z'], outputs: ['top', 'z', 'c', 'w'] });
    await expectAllPlansEquivalent(p);
  });

  it('a crossing tensor that is also a graph output, and a crossing input that is passed through, are head outputs once', async () => {
    const model = await loadModel(
      new ModelBuilder({ name: 'shared-names' })
        .input('x', 'FP32', ['N', 4])
        .node('Relu', ['x'], ['o1'])
        .node('Sigmoid', ['o1'], ['s'])
        .node('Add', ['s', 'x'], ['o2'])
        .node('Mul', ['o2', 'o1'], ['o3'])
        .output('x', 'FP32', ['N', 4])
        .output('o1', 'FP32', ['N', 4])
        .output('o3', 'FP32', ['N', 4])
        .output('o2', 'FP32', ['N', 4])
        .toBytes(),
    );
    const p = await partitionWithProbe(model);
    expect(getPlan(p, 'split-1')).toMatchObject({ headOutputs: ['x', 'o1'], tailOutputs: ['o3', 'o2'] });
    expect(getPlan(p, 'split-1').crossing.map((c) => [c.name, c.source])).toEqual([['x', 'input'], ['o1', 'head']]);
    const io = halvesIo(p);
    expect(io['split-1'].head).toEqual({ inputs: ['x'], outputs: ['o1', 'x'] });
    expect(io['split-1'].tail).toEqual({ inputs: ['x', 'o1'], outputs: ['o3', 'o2'] });
    expect(io['split-2'].head).toEqual({ inputs: ['x'], outputs: ['o1', 's', 'x'] });
    expect(io['split-3'].head).toEqual({ inputs: ['x'], outputs: ['o1', 'o2', 'x'] });
    expect(io['split-3'].tail).toEqual({ inputs: ['o1', 'o2'], outputs: ['o3'] });
    await expectAllPlansEquivalent(p);
  });
});

describe('an input declared without a shape', () => {
  it('needs a shape from the user (never taken for a scalar), and partitions and verifies with one', async () => {
    const model = await loadModel(
      new ModelBuilder({ name: 'shapeless' })
        .input('x', 'FP32', null)
        .node('Relu', ['x'], ['h'])
        .node('Sigmoid', ['h'], ['y'])
        .output('y', 'FP32', null)
        .toBytes(),
    );
    expect(inputsNeedingShapes(model, undefined)).toEqual(['x']);
    expect(inputsNeedingShapes(model, { x: [2, 5] })).toEqual([]);
    expect(() => seededInputs(model, undefined, 1)).toThrow(expect.objectContaining({ code: 'CARBONCP_SHAPE_REQUIRED', message: expect.stringContaining('rank is unknown') }));
    await expect(partitionWithProbe(model)).rejects.toMatchObject({ code: 'CARBONCP_SHAPE_REQUIRED' });
    const p = await partitionWithProbe(model, { inputShapes: { x: [2, 5] } });
    expect(getPlan(p, 'split-1').crossing[0]).toMatchObject({ name: 'h', shape: [2, 5], bytesPerSample: 40 });
    await expectAllPlansEquivalent(p, { x: [2, 5] });
  });
});
