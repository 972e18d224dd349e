// Loop and Scan bodies that read outer names, ops of other domains (onnxruntime's com.microsoft
// contrib ops, as its optimiser writes them) and model-local functions.
import { describe, expect, it } from 'vitest';
import { GraphBuilder, ModelBuilder, float, ints, makeTensor } from './onnx/model-builder.js';
import { FunctionProtoSchema, NodeProtoSchema, OperatorSetIdProtoSchema, create, decodeModel, encodeModel, type FunctionProto } from './onnx/proto.js';
import { loadModel } from './model/load-model.js';
import { extractPlan, getPlan, partition } from './partition.js';
import type { Partition } from './plan/plan-types.js';
import { partitionWithProbe } from './node/partition-with-probe.js';
import { verifyPlans } from './node/verify.js';

/** Crossing names of every plan, server first. */
const crossings = (p: Partition): string[][] => p.plans.map((plan) => plan.crossing.map((c) => c.name));

async function expectAllPlansEquivalent(p: Partition, seeds = [1, 2]): Promise<void> {
  for (const seed of seeds) {
    const results = await verifyPlans(p, { tol: 1e-5, seed });
    expect(results.map((r) => r.planId)).toEqual(p.plans.map((plan) => plan.id));
    for (const r of results) expect(r, `${r.planId} seed ${seed}`).toMatchObject({ ok: true });
  }
}

describe('Loop and Scan bodies reading outer names', () => {
  it('Loop: names its body reads, also from an If nested in it, cross where they must; every cut equals the model', async () => {
    const thenBranch = new GraphBuilder('then').node('Add', ['acc_out', 'g'], ['t']).output('t', 'FP32', ['N', 4]).buildGraph();
    const elseBranch = new GraphBuilder('else').node('Sub', ['acc_out', 'g'], ['e']).output('e', 'FP32', ['N', 4]).buildGraph();
    const body = new GraphBuilder('body')
      .input('i', 'INT64', [])
      .input('cond_in', 'BOOL', [])
      .input('acc', 'FP32', ['N', 4])
      .node('Mul', ['acc', 'scale'], ['m'])
      .node('Add', ['m', 'h'], ['acc_out'])
      .node('If', ['cond_in'], ['branch'], { then_branch: thenBranch, else_branch: elseBranch })
      .node('Identity', ['cond_in'], ['cond_out'])
      .node('Tanh', ['branch'], ['step'])
      .output('cond_out', 'BOOL', [])
      .output('acc_out', 'FP32', ['N', 4])
      .output('step', 'FP32', ['N', 4])
      .buildGraph();
    const model = await loadModel(
      new ModelBuilder({ name: 'loop' })
        .input('x', 'FP32', ['N', 4])
        .initializer('trip', 'INT64', [], [3])
        .initializer('cond', 'BOOL', [], [true])
        .initializer('scale', 'FP32', [4], { seed: 3, std: 0.5 })
        .node('Relu', ['x'], ['h'])
        .node('Sigmoid', ['x'], ['start'])
        .node('Neg', ['h'], ['g'])
        .node('Loop', ['trip', 'cond', 'start'], ['final', 'steps'], { body })
        .node('Tanh', ['final'], ['y'])
        .node('ReduceSum', ['steps', 'axes'], ['z'], { keepdims: 0 })
        .initializer('axes', 'INT64', [1], [0])
        .output('y', 'FP32', ['N', 4])
        .output('z', 'FP32', ['N', 4])
        .toBytes(),
    );
    const p = await partitionWithProbe(model);
    // 'h' (read by the body) and 'g' (read by the If inside it) cross until the Loop has run.
    expect(crossings(p)).toEqual([['x'], ['x', 'h'], ['h', 'start'], ['h', 'start', 'g'], ['final', 'steps'], ['steps'], []]);
    // 'scale' is read only inside the body: a weight of whichever side runs the Loop.
    expect(getPlan(p, 'split-3')).toMatchObject({ headParamBytes: 0, tailParamBytes: 16 + 8 + 1 + 8 });
    await expectAllPlansEquivalent(p);
  });

  it('Scan: a scan body reading a value computed outside crosses with the scanned input', async () => {
    const body = new GraphBuilder('scan-body')
      .input('state', 'FP32', [4])
      .input('row', 'FP32', [4])
      .node('Add', ['state', 'row'], ['sum'])
      .node('Mul', ['sum', 'gain'], ['state_out'])
      .node('Identity', ['state_out'], ['row_out'])
      .output('state_out', 'FP32', [4])
      .output('row_out', 'FP32', [4])
      .buildGraph();
    const model = await loadModel(
      new ModelBuilder({ name: 'scan' })
        .input('x', 'FP32', [3, 4])
        .initializer('s0', 'FP32', [4], [0, 0, 0, 0])
        .node('Relu', ['x'], ['h'])
        .node('Sigmoid', ['x'], ['gates'])
        .node('ReduceMean', ['gates'], ['gain'], { axes: ints([0]), keepdims: 0 })
        .node('Scan', ['s0', 'h'], ['last', 'rows'], { body, num_scan_inputs: 1 })
        .node('Add', ['rows', 'last'], ['y'])
        .output('y', 'FP32', [3, 4])
        .toBytes(),
    );
    const p = await partitionWithProbe(model);
    expect(crossings(p)).toEqual([['x'], ['x', 'h'], ['h', 'gates'], ['h', 'gain'], ['last', 'rows'], []]);
    await expectAllPlansEquivalent(p);
  });
});

describe('If branches returning an outer value directly (the ONNX spec allows it)', () => {
  it('the If depends on the values its branches return, and they cross until it runs', async () => {
    const thenBranch = new GraphBuilder('then').output('h', 'FP32', ['N', 4]).buildGraph();
    const elseBranch = new GraphBuilder('else').output('g', 'FP32', ['N', 4]).buildGraph();
    const model = await loadModel(
      new ModelBuilder({ name: 'pass-branches' })
        .input('x', 'FP32', ['N', 4])
        .input('flag', 'BOOL', [])
        .node('Relu', ['x'], ['h'])
        .node('Sigmoid', ['x'], ['g'])
        .node('If', ['flag'], ['chosen'], { then_branch: thenBranch, else_branch: elseBranch })
        .node('Tanh', ['chosen'], ['y'])
        .output('y', 'FP32', ['N', 4])
        .toBytes(),
    );
    const p = await partition(model);
    expect(crossings(p)).toEqual([['x', 'flag'], ['flag', 'x', 'h'], ['flag', 'h', 'g'], ['chosen'], []]);
  });
});

describe('sequence values inside the graph', () => {
  it('SplitToSequence -> ConcatFromSequence: the probe runs, a sequence never crosses, every cut equals the model', async () => {
    const model = await loadModel(
      new ModelBuilder({ name: 'sequences' })
        .input('x', 'FP32', ['N', 6])
        .initializer('parts', 'INT64', [3], [1, 2, 3])
        .node('Relu', ['x'], ['h'])
        .node('SplitToSequence', ['h', 'parts'], ['pieces'], { axis: 1 })
        .node('ConcatFromSequence', ['pieces'], ['joined'], { axis: 1 })
        .node('Sigmoid', ['joined'], ['y'])
        .output('y', 'FP32', ['N', 6])
        .toBytes(),
    );
    const p = await partitionWithProbe(model);
    expect(p.plans.map((plan) => plan.id)).toEqual(['server', 'split-1', 'split-3', 'device']);
    expect(crossings(p)).toEqual([['x'], ['h'], ['joined'], []]);
    // Without a probe the same cuts: sequence-making ops are known from the model alone.
    expect((await partition(model)).plans.map((plan) => plan.id)).toEqual(['server', 'split-1', 'split-3', 'device']);
    await expectAllPlansEquivalent(p, [1]);
  });
});

describe('ops of other domains', () => {
  it('com.microsoft FusedConv and Gelu: both halves keep the opset imports, FusedConv counts as a Conv', async () => {
    const model = await loadModel(
      new ModelBuilder({ name: 'ort-optimised', extraOpsets: { 'com.microsoft': 1 } })
        .input('x', 'FP32', ['N', 2, 6, 6])
        .initializer('w', 'FP32', [4, 2, 3, 3], { seed: 4, std: 0.3 })
        .initializer('b', 'FP32', [4], { seed: 5, std: 0.3 })
        .node('FusedConv', ['x', 'w', 'b'], ['c'], { activation: 'Relu', kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, 'fused', 'com.microsoft')
        .node('Gelu', ['c'], ['g'], {}, 'gelu', 'com.microsoft')
        .node('Sigmoid', ['g'], ['y'])
        .output('y', 'FP32', ['N', 4, 6, 6])
        .toBytes(),
    );
    const p = await partitionWithProbe(model);
    expect(crossings(p)).toEqual([['x'], ['c'], ['g'], []]);
    for (const plan of p.plans.filter((pl) => pl.kind === 'split')) {
      const { head, tail } = extractPlan(p, plan);
      for (const bytes of [head!, tail!]) {
        expect(decodeModel(bytes).opsetImport.map((o) => [o.domain, o.version]), plan.id).toEqual([['', 17n], ['com.microsoft', 1n]]);
      }
    }
    // 144 outputs, each 2*3*3 multiply-adds, plus the bias: as a Conv would count.
    expect(getPlan(p, 'split-1').headFlops).toBe(2 * 144 * 18 + 144);
    await expectAllPlansEquivalent(p, [1]);
  });
});

describe("nodes whose domain is written 'ai.onnx'", () => {
  it('are default-domain nodes: a Constant gives its shape, a RandomNormal is never copied into both halves', async () => {
    const model = await loadModel(
      new ModelBuilder({ name: 'ai-onnx' })
        .input('x', 'FP32', ['N', 2, 6, 6])
        .node('Constant', [], ['w'], { value: makeTensor('w', 'FP32', [4, 2, 3, 3], { seed: 6, std: 0.3 }) }, 'weights', 'ai.onnx')
        .node('Conv', ['x', 'w'], ['c'], { pads: [1, 1, 1, 1] }, 'conv', 'ai.onnx')
        .node('RandomNormal', [], ['noise'], { shape: [1, 4, 6, 6], seed: float(3) }, 'noise', 'ai.onnx')
        .node('Add', ['c', 'noise'], ['a'])
        .node('Mul', ['a', 'noise'], ['y'])
        .valueInfo('c', 'FP32', ['N', 4, 6, 6])
        .valueInfo('a', 'FP32', ['N', 4, 6, 6])
        .valueInfo('noise', 'FP32', [1, 4, 6, 6])
        .output('y', 'FP32', ['N', 4, 6, 6])
        .toBytes(),
    );
    const p = await partition(model);
    // Conv, RandomNormal, Add and Mul are compute nodes; the noise is drawn once, on one side.
    expect(crossings(p)).toEqual([['x'], ['c'], ['c', 'noise'], ['noise', 'a'], []]);
    // The Conv's weight shape comes from the Constant: 144 outputs * 18 multiply-adds.
    expect(getPlan(p, 'split-1').headFlops).toBe(2 * 144 * 18);
  });
});

/** A model-local function of the 'carboncp.test' domain. */
function localFunction(name: string, nodes: { op: string; inputs: string[]; output: string; domain?: string }[]): FunctionProto {
  return create(FunctionProtoSchema, {
    name,
    domain: 'carboncp.test',
    input: ['a'],
    output: [nodes[nodes.length - 1].output],
    node: nodes.map((n) => create(NodeProtoSchema, { opType: n.op, input: n.inputs, output: [n.output], domain: n.domain ?? '' })),
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 17n }), create(OperatorSetIdProtoSchema, { domain: 'carboncp.test', version: 1n })],
  });
}

describe('model-local functions', () => {
  it('each half carries the functions its nodes call (directly, through other functions, inside a Loop body) and no other', async () => {
    const body = new GraphBuilder('body')
      .input('i', 'INT64', [])
      .input('cond_in', 'BOOL', [])
      .input('acc', 'FP32', ['N', 4])
      .node('Negate', ['acc'], ['acc_out'], {}, 'negate', 'carboncp.test')
      .node('Identity', ['cond_in'], ['cond_out'])
      .output('cond_out', 'BOOL', [])
      .output('acc_out', 'FP32', ['N', 4])
      .buildGraph();
    const built = new ModelBuilder({ name: 'functions', extraOpsets: { 'carboncp.test': 1 } })
      .input('x', 'FP32', ['N', 4])
      .initializer('trip', 'INT64', [], [3])
      .initializer('cond', 'BOOL', [], [true])
      .node('QuadIt', ['x'], ['q'], {}, 'quad', 'carboncp.test')
      .node('Relu', ['q'], ['r'])
      .node('Loop', ['trip', 'cond', 'r'], ['l'], { body })
      .node('Sigmoid', ['l'], ['y'])
      .output('y', 'FP32', ['N', 4])
      .build();
    built.functions.push(
      localFunction('Unused', [{ op: 'Abs', inputs: ['a'], output: 'b' }]),
      localFunction('DoubleIt', [{ op: 'Add', inputs: ['a', 'a'], output: 'b' }]),
      localFunction('QuadIt', [
        { op: 'DoubleIt', inputs: ['a'], output: 'd', domain: 'carboncp.test' },
        { op: 'DoubleIt', inputs: ['d'], output: 'b', domain: 'carboncp.test' },
      ]),
      localFunction('Negate', [{ op: 'Neg', inputs: ['a'], output: 'b' }]),
    );
    const p = await partitionWithProbe(await loadModel(encodeModel(built)));
    const functions = (bytes: Uint8Array | null) => decodeModel(bytes!).functions.map((f) => f.name);
    const split = (id: string) => {
      const { head, tail } = extractPlan(p, id);
      return { head: functions(head), tail: functions(tail) };
    };
    expect(split('split-1')).toEqual({ head: ['DoubleIt', 'QuadIt'], tail: ['Negate'] });
    expect(split('split-2')).toEqual({ head: ['DoubleIt', 'QuadIt'], tail: ['Negate'] });
    expect(split('split-3')).toEqual({ head: ['DoubleIt', 'QuadIt', 'Negate'], tail: [] });
    await expectAllPlansEquivalent(p, [1]);
  });
});
