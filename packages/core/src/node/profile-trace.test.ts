import { describe, expect, it } from 'vitest';
import { ModelBuilder } from '../onnx/model-builder.js';
import { loadModel } from '../model/load-model.js';
import { analyseModel } from '../plan/analysis.js';
import { attributeTrace, nodeNameResolver, positionsByFileIndex, predictHalves, prefixSums, spreadFusedTime, tagNodeNames, taggedFileIndex, type TraceEvent } from './profile-trace.js';

const run = (ts: number, dur: number): TraceEvent => ({ cat: 'Session', name: 'model_run', ts, dur });
const kernel = (node: string, ts: number, dur: number): TraceEvent => ({ cat: 'Node', name: `${node}_kernel_time`, ts, dur, args: { node_name: node } });

describe('profile trace attribution', () => {
  it('tags every node with its file index, whatever its name, and finds the tag inside fused names', async () => {
    const bytes = new ModelBuilder({ name: 'tags' })
      .input('x', 'FP32', [1, 4])
      .node('Relu', ['x'], ['a'])
      .node('Neg', ['a'], ['b'], {}, 'same')
      .node('Abs', ['b'], ['y'], {}, 'same')
      .output('y', 'FP32', [1, 4])
      .toBytes();
    const model = await loadModel(bytes);
    const tagged = tagNodeNames(model.model);
    expect(tagged.graph!.node.map((n) => n.name)).toEqual(['Relu_0__cc0__', 'same__cc1__', 'same__cc2__']);
    expect(model.model.graph!.node[1].name).toBe('same');
    expect(taggedFileIndex('layer1.relu__cc12___nchwc')).toBe(12);
    expect(taggedFileIndex('ReorderOutput_3')).toBeUndefined();
  });

  it('charges a constant node to its first compute reader and sums kernel times per run and position', async () => {
    const bytes = new ModelBuilder({ name: 'chain' })
      .input('x', 'FP32', [1, 4])
      .node('Relu', ['x'], ['a'])
      .node('Constant', [], ['c'], { value_float: 2 })
      .node('Mul', ['a', 'c'], ['b'])
      .node('Neg', ['b'], ['y'])
      .output('y', 'FP32', [1, 4])
      .toBytes();
    const model = await loadModel(bytes);
    const analysis = analyseModel(model.model, {});
    expect(analysis.compute.map((c) => c.node.opType)).toEqual(['Relu', 'Mul', 'Neg']);
    const positions = positionsByFileIndex(analysis);
    expect([...positions.entries()].sort((a, b) => a[0] - b[0])).toEqual([
      [0, 1],
      [1, 2], // the Constant runs for the Mul, position 2
      [2, 2],
      [3, 3],
    ]);
    const events = [
      run(1000, 100),
      kernel('__cc0__', 1010, 10),
      kernel('__cc1__', 1020, 1),
      kernel('x__cc2___fused', 1030, 40),
      kernel('__cc3__', 1080, 20),
      kernel('ReorderOutput', 1095, 4),
      { cat: 'Node', name: '__cc0___fence_before', ts: 1009, dur: 0 },
      run(2000, 50),
      kernel('__cc0__', 2001, 5),
      kernel('__cc2__', 2010, 30),
      kernel('__cc3__', 2045, 5),
      kernel('__cc3__', 3000, 99), // outside every run: ignored
    ];
    const runs = attributeTrace(events, nodeNameResolver(analysis.index, positions), 3);
    expect(runs).toHaveLength(2);
    expect([...runs[0].nodeUs]).toEqual([0, 10, 41, 20]);
    expect(runs[0].attributedUs).toBe(71);
    expect(runs[0].unattributedUs).toBe(4);
    expect(runs[0].modelRunUs).toBe(100);
    expect([...runs[1].nodeUs]).toEqual([0, 5, 30, 5]);

    // Run 0 predicted with 0.5 ms overhead: 4 us unattributed spread over 71 us pro rata.
    const prefix = prefixSums(runs[0].nodeUs);
    const scale = 75 / 71;
    const cut1 = predictHalves(runs[0], prefix, 1, { head: 0.5, tail: 0.5 });
    expect(cut1.headMs).toBeCloseTo(0.5 + (10 * scale) / 1000, 12);
    expect(cut1.tailMs).toBeCloseTo(0.5 + (61 * scale) / 1000, 12);
    const uneven = predictHalves(runs[0], prefix, 1, { head: 0.3, tail: 0.1 });
    expect(uneven.headMs).toBeCloseTo(0.3 + (10 * scale) / 1000, 12);
    expect(uneven.tailMs).toBeCloseTo(0.1 + (61 * scale) / 1000, 12);
    expect(predictHalves(runs[0], prefix, 0, { head: 0.5, tail: 0.5 })).toEqual({ headMs: 0, tailMs: expect.closeTo(0.575, 12) });
    expect(predictHalves(runs[0], prefix, 3, { head: 0.5, tail: 0.5 })).toEqual({ headMs: expect.closeTo(0.575, 12), tailMs: 0 });
  });

  it('names rewritten nodes by their output value, as onnxruntime does at level all, and spreads fused time by FLOPs', async () => {
    const bytes = new ModelBuilder({ name: 'fusable' })
      .input('x', 'FP32', [1, 4])
      .node('Neg', ['x'], ['conv_out'], {}, 'conv')
      .node('Relu', ['conv_out'], ['relu'], {}, 'relu_node')
      .node('Abs', ['relu'], ['y'], {}, 'abs')
      .output('y', 'FP32', [1, 4])
      .toBytes();
    const model = await loadModel(bytes);
    const analysis = analyseModel(model.model, {});
    const resolve = nodeNameResolver(analysis.index, positionsByFileIndex(analysis));
    expect(resolve('conv__cc0__')).toBe(1);
    expect(resolve('relu_nchwc')).toBe(2); // the value 'relu', made by position 2
    expect(resolve('conv_out_token_3')).toBe(1);
    expect(resolve('abs')).toBe(3); // a node name
    expect(resolve('ReorderOutput')).toBeUndefined();
    expect(resolve('_')).toBeUndefined();

    // Position 1 never ran alone (fused into 2): 2's time is shared 3:1 by FLOPs; 3 keeps its own.
    const run = (a: number, b: number, c: number) => ({ nodeUs: Float64Array.from([0, a, b, c]), attributedUs: a + b + c, unattributedUs: 0, modelRunUs: 0 });
    const runs = [run(0, 40, 10), run(0, 80, 20)];
    expect(spreadFusedTime(runs, [3, 1, 5])).toBe(1);
    expect([...runs[0].nodeUs]).toEqual([0, 30, 10, 10]);
    expect([...runs[1].nodeUs]).toEqual([0, 60, 20, 20]);
    // Unknown FLOPs: equal shares; a position that ran in some run is not absorbed.
    const other = [run(0, 40, 10), run(5, 35, 10)];
    expect(spreadFusedTime(other, [NaN, 1, 5])).toBe(0);
    const unknown = [run(0, 40, 10)];
    spreadFusedTime(unknown, [NaN, 1, 5]);
    expect([...unknown[0].nodeUs]).toEqual([0, 20, 20, 10]);
  });
});
