// The sweep in enumerateCuts against a brute-force definition of a cut, on seeded random DAGs
// with several inputs and outputs, dead nodes, pass-through and constant outputs, in shuffled
// file order; and head then tail against the full model for some of them.
import { describe, expect, it } from 'vitest';
import { ModelBuilder } from '../onnx/model-builder.js';
import { encodeModel } from '../onnx/proto.js';
import { mulberry32 } from '../random.js';
import { loadModel } from '../model/load-model.js';
import { partition } from '../partition.js';
import { analyseModel } from '../plan/analysis.js';
import { verifyPlans } from '../node/verify.js';
import { topologicalOrder } from './topo-order.js';

function randomModel(seed: number): Uint8Array {
  const next = mulberry32(seed);
  const pick = <T>(list: T[]): T => list[Math.floor(next() * list.length)];
  const builder = new ModelBuilder({ name: `random-${seed}` }).input('x0', 'FP32', ['N', 3]).input('x1', 'FP32', ['N', 3]);
  builder.initializer('bias', 'FP32', [3], [0.5, -0.25, 1]);
  const values = ['x0', 'x1'];
  const count = 6 + Math.floor(next() * 10);
  for (let i = 0; i < count; i++) {
    const out = `v${i}`;
    if (next() < 0.5) builder.node(pick(['Relu', 'Sigmoid', 'Tanh', 'Neg']), [pick(values)], [out]);
    else builder.node(pick(['Add', 'Mul', 'Sub', 'Max']), [pick(values), next() < 0.2 ? 'bias' : pick(values)], [out]);
    values.push(out);
  }
  // A few outputs anywhere (an input passed through included); the rest of the values may be dead.
  const outputs = new Set<string>([values[values.length - 1]]);
  while (next() < 0.6) outputs.add(pick(values));
  for (const name of outputs) builder.output(name, 'FP32', ['N', 3]);
  const model = builder.build();
  // Shuffle the file order: the partitioner must sort it (stably) itself.
  const nodes = model.graph!.node;
  for (let i = nodes.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [nodes[i], nodes[j]] = [nodes[j], nodes[i]];
  }
  return encodeModel(model);
}

/** Crossing sets by definition: for each k, the non-constant values made by the first k compute nodes or graph inputs, read by a later compute node. */
function bruteForce(bytes: Uint8Array, model: Awaited<ReturnType<typeof loadModel>>) {
  const analysis = analyseModel(model.model, {});
  const { compute, index } = analysis;
  const cuts: { k: number; crossing: string[]; headOutputs: string[] }[] = [];
  for (let k = 1; k < compute.length; k++) {
    const available = new Set([...index.inputs, ...compute.slice(0, k).flatMap((info) => info.outputs)]);
    const read = new Set(compute.slice(k).flatMap((info) => info.inputs));
    const crossing = [...available].filter((name) => read.has(name)).sort();
    const headOutputs = index.outputs.filter((name) => available.has(name) || !compute.some((info) => info.outputs.includes(name)));
    cuts.push({ k, crossing, headOutputs });
  }
  return { bytes, cuts };
}

describe('enumerateCuts', () => {
  it('equals the brute-force definition of a cut on 40 seeded random DAGs', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const bytes = randomModel(seed);
      const model = await loadModel(bytes);
      const p = await partition(model, { maxWidth: 1000 });
      const expected = bruteForce(bytes, model).cuts;
      const splits = p.plans.filter((plan) => plan.kind === 'split');
      expect(splits.map((plan) => plan.id), `seed ${seed}`).toEqual(expected.map((cut) => `split-${cut.k}`));
      for (const [i, plan] of splits.entries()) {
        expect(plan.crossing.map((c) => c.name).sort(), `seed ${seed} ${plan.id}`).toEqual(expected[i].crossing);
        expect(plan.headOutputs, `seed ${seed} ${plan.id}`).toEqual(expected[i].headOutputs);
        expect([...plan.headOutputs, ...plan.tailOutputs].sort(), `seed ${seed} ${plan.id}`).toEqual([...model.outputs.map((o) => o.name)].sort());
      }
      // A width limit keeps exactly the cuts that fit.
      const narrow = await partition(model, { maxWidth: 2 });
      expect(narrow.plans.filter((plan) => plan.kind === 'split').map((plan) => plan.id), `seed ${seed}`).toEqual(
        expected.filter((cut) => cut.crossing.length <= 2).map((cut) => `split-${cut.k}`),
      );
    }
  });

  it('head then tail equals the model at every cut of 6 of them', async () => {
    for (const seed of [2, 5, 11, 17, 23, 31]) {
      const p = await partition(await loadModel(randomModel(seed)), { maxWidth: 1000 });
      const results = await verifyPlans(p, { tol: 1e-6, seed });
      for (const r of results) expect(r, `seed ${seed} ${r.planId}`).toMatchObject({ ok: true });
    }
  });
});

describe('topologicalOrder', () => {
  const describeNode = (i: number): string => `node #${i}`;
  it('keeps a topological file order; otherwise always takes the earliest ready node of the file', () => {
    const producers = new Map([['a', 0], ['b', 1], ['c', 2]]);
    expect(topologicalOrder([['x'], ['a'], ['b']], producers, describeNode)).toEqual([0, 1, 2]);
    // File: [c = f(b), a = f(x), b = f(x), y = f(a, c)]: a and b are ready first, in file order.
    const shuffled = new Map([['c', 0], ['a', 1], ['b', 2], ['y', 3]]);
    expect(topologicalOrder([['b'], ['x'], ['x'], ['a', 'c']], shuffled, describeNode)).toEqual([1, 2, 0, 3]);
    // Ties between independent chains follow the file, not the chain.
    const chains = new Map([['p2', 0], ['q1', 1], ['p1', 2], ['q2', 3]]);
    expect(topologicalOrder([['p1'], ['x'], ['x'], ['q1']], chains, describeNode)).toEqual([1, 2, 0, 3]);
  });

  it('reports a cycle, a self-loop included, as CARBONCP_BAD_MODEL', () => {
    expect(() => topologicalOrder([['b'], ['a']], new Map([['a', 0], ['b', 1]]), describeNode)).toThrow(expect.objectContaining({ code: 'CARBONCP_BAD_MODEL' }));
    expect(() => topologicalOrder([['a']], new Map([['a', 0]]), describeNode)).toThrow(/reads its own output 'a'/);
  });
});
