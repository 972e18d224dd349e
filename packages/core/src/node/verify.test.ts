import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { ModelBuilder } from '../onnx/model-builder.js';
import { loadModel } from '../model/load-model.js';
import { partitionWithProbe } from './partition-with-probe.js';
import { seededInputs } from './seeded-inputs.js';
import { verifyPlans } from './verify.js';

describe('verifyPlans on outputs that are not plain finite floats', () => {
  it('int64 and bool outputs compare exactly; NaN and infinities in the same places on both sides are equal', async () => {
    const model = await loadModel(
      new ModelBuilder({ name: 'odd-values' })
        .input('x', 'FP32', ['N', 8])
        .initializer('big', 'FP32', [8], new Float32Array(8).fill(1e30))
        .node('Sqrt', ['x'], ['root'])
        .node('Mul', ['x', 'big'], ['large'])
        .node('Mul', ['large', 'big'], ['overflow'])
        .node('ArgMax', ['overflow'], ['argmax'], { axis: 1 })
        .node('Greater', ['root', 'x'], ['greater'])
        .output('root', 'FP32', ['N', 8])
        .output('overflow', 'FP32', ['N', 8])
        .output('argmax', 'INT64', ['N', 1])
        .output('greater', 'BOOL', ['N', 8])
        .toBytes(),
    );
    // The seeded inputs (uniform in [-1, 1)) really give NaN (square roots of negatives) and
    // both infinities (x * 1e60 in float32).
    const session = await ort.InferenceSession.create(model.bytes);
    const reference = await session.run(seededInputs(model, { x: [2, 8] }, 9));
    await session.release();
    const root = Array.from(reference.root.data as Float32Array);
    const overflow = Array.from(reference.overflow.data as Float32Array);
    expect(root.some(Number.isNaN)).toBe(true);
    expect(overflow).toContain(Infinity);
    expect(overflow).toContain(-Infinity);
    expect(reference.argmax.type).toBe('int64');
    expect(reference.greater.type).toBe('bool');

    const p = await partitionWithProbe(model);
    expect(p.plans.filter((plan) => plan.kind === 'split').length).toBeGreaterThanOrEqual(3);
    const results = await verifyPlans(p, { tol: 0, seed: 9, inputShapes: { x: [2, 8] } });
    expect(results.map((r) => r.planId)).toEqual(p.plans.map((plan) => plan.id));
    for (const r of results) expect(r, r.planId).toEqual({ planId: r.planId, maxAbsDiff: 0, ok: true });
  });
});
