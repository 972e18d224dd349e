import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ModelBuilder } from '../onnx/model-builder.js';
import { OperatorSetIdProtoSchema, StringStringEntryProtoSchema, create, decodeModel, encodeModel, type ModelProto } from '../onnx/proto.js';
import { doubleItFunction } from '../onnx/model-functions.test-support.js';
import { loadModel } from '../model/load-model.js';
import { extractPlan, getPlan, partition } from '../partition.js';
import { partitionWithProbe } from '../node/partition-with-probe.js';
import { ocrModelPath } from '../node/ocr-model-path.js';
import { verifyPlans } from '../node/verify.js';
import { capturedNames, subgraphsOf } from '../graph/subgraph-captures.js';
import { tensorBytes } from './analysis.js';

function namesRead(model: ModelProto): Set<string> {
  const read = new Set<string>();
  for (const node of model.graph!.node) {
    for (const name of node.input) read.add(name);
    for (const sub of subgraphsOf(node)) for (const name of capturedNames(sub)) read.add(name);
  }
  return read;
}

/** Initializer bytes plus Constant node tensors: what a plan counts as a half's parameters. */
function paramBytes(model: ModelProto): number {
  const graph = model.graph!;
  const constants = graph.node.filter((n) => n.opType === 'Constant').map((n) => n.attribute.find((a) => a.name === 'value')?.t);
  return [...graph.initializer, ...constants].reduce((sum, t) => sum + (t ? tensorBytes(t) : 0), 0);
}

/** A chain with metadata, a model-local function (used in the tail) and a second opset import. */
function decorated(): Uint8Array {
  const model = new ModelBuilder({ name: 'decorated', opset: 17, irVersion: 8, producer: 'carboncp-test', producerVersion: '1.2.3' })
    .input('x', 'FP32', ['N', 4])
    .initializer('w1', 'FP32', [4, 5], { seed: 11, std: 0.5 })
    .initializer('w2', 'FP32', [5, 2], { seed: 12, std: 0.5 })
    .node('MatMul', ['x', 'w1'], ['h'])
    .node('Relu', ['h'], ['r'])
    .node('MatMul', ['r', 'w2'], ['m'])
    .node('DoubleIt', ['m'], ['y'], {}, 'double', 'carboncp.test')
    .output('y', 'FP32', ['N', 2])
    .build();
  model.opsetImport.push(create(OperatorSetIdProtoSchema, { domain: 'carboncp.test', version: 1n }));
  model.metadataProps.push(create(StringStringEntryProtoSchema, { key: 'license', value: 'Apache-2.0' }));
  model.functions.push(doubleItFunction());
  return encodeModel(model);
}

describe('extractPlan', () => {
  it('halves parse, keep opsets, IR version, producer, metadata and the functions they call, and compute the model', async () => {
    const source = await loadModel(decorated(), 'decorated');
    const p = await partitionWithProbe(source);
    expect(p.plans.map((plan) => plan.id)).toEqual(['server', 'split-1', 'split-2', 'split-3', 'device']);
    for (const id of ['split-1', 'split-2', 'split-3']) {
      const { head, tail, plan } = extractPlan(p, id);
      for (const [part, bytes] of [['head', head!], ['tail', tail!]] as const) {
        const half = decodeModel(bytes);
        expect(half.opsetImport.map((o) => [o.domain, o.version])).toEqual(source.model.opsetImport.map((o) => [o.domain, o.version]));
        expect(half.irVersion).toBe(8n);
        expect([half.producerName, half.producerVersion]).toEqual(['carboncp-test', '1.2.3']);
        // DoubleIt runs last, so only tails call it.
        expect(half.functions.map((f) => f.name)).toEqual(part === 'tail' ? ['DoubleIt'] : []);
        const meta = Object.fromEntries(half.metadataProps.map((m) => [m.key, m.value]));
        expect(meta).toEqual({ license: 'Apache-2.0', 'carboncp.part': part, 'carboncp.plan_id': id, 'carboncp.plan_digest': plan.digest });
        // Every initializer a half carries is read by one of its nodes.
        const read = namesRead(half);
        for (const init of half.graph!.initializer) expect(read.has(init.name), `${part} ${init.name}`).toBe(true);
      }
      const tailModel = decodeModel(tail!);
      expect(tailModel.graph!.input.map((i) => i.name)).toEqual(plan.crossing.map((c) => c.name));
      const declared = tailModel.graph!.input[0].type!.value;
      expect(declared.case).toBe('tensorType');
      expect(declared.case === 'tensorType' && declared.value.shape!.dim.map((d) => d.value.value)).toEqual(['N', id === 'split-3' ? 2n : 5n]);
    }
    const { head, tail } = extractPlan(p, 'split-1');
    expect(decodeModel(head!).graph!.initializer.map((t) => t.name)).toEqual(['w1']);
    expect(decodeModel(tail!).graph!.initializer.map((t) => t.name)).toEqual(['w2']);
    const results = await verifyPlans(p, { tol: 1e-5 });
    expect(results.every((r) => r.ok)).toBe(true);
  });

  it("'server' has no head and the model as tail; 'device' the reverse", async () => {
    const source = await loadModel(decorated());
    const p = await partition(source);
    expect(extractPlan(p, 'server')).toMatchObject({ head: null, tail: source.bytes });
    expect(extractPlan(p, getPlan(p, 'device'))).toMatchObject({ head: source.bytes, tail: null });
  });

  it('builds only the halves asked for: a tail alone is byte for byte the tail of both', async () => {
    const bytes = await readFile(ocrModelPath('ch_ppocr_mobile_v2.0_cls_infer.onnx'));
    const p = await partitionWithProbe(await loadModel(bytes, 'cls'), { inputShapes: { x: [1, 3, 48, 192] } });
    const splits = p.plans.filter((plan) => plan.kind === 'split');
    for (const plan of [splits[0], splits[Math.floor(splits.length / 2)], splits[splits.length - 1]]) {
      const both = extractPlan(p, plan);
      const tailOnly = extractPlan(p, plan, ['tail']);
      expect(tailOnly.head).toBeNull();
      expect(Buffer.from(tailOnly.tail!).equals(Buffer.from(both.tail!))).toBe(true);
      const headOnly = extractPlan(p, plan, ['head']);
      expect(headOnly.tail).toBeNull();
      expect(Buffer.from(headOnly.head!).equals(Buffer.from(both.head!))).toBe(true);
    }
    // 'server' and 'device' plans need no building: the model itself, whatever is asked.
    expect(extractPlan(p, 'server', ['tail']).tail).toBe(p.model.bytes);
  });

  it('real PP-OCR classifier: halves carry only their initializers, whose bytes match the plan', async () => {
    const bytes = await readFile(ocrModelPath('ch_ppocr_mobile_v2.0_cls_infer.onnx'));
    const source = await loadModel(bytes, 'cls');
    const p = await partitionWithProbe(source, { inputShapes: { x: [1, 3, 48, 192] } });
    const splits = p.plans.filter((plan) => plan.kind === 'split');
    expect(splits.length).toBeGreaterThan(100);
    for (const plan of [splits[0], splits[Math.floor(splits.length / 2)], splits[splits.length - 1]]) {
      const { head, tail } = extractPlan(p, plan);
      const headModel = decodeModel(head!);
      const tailModel = decodeModel(tail!);
      expect(paramBytes(headModel)).toBe(plan.headParamBytes);
      expect(paramBytes(tailModel)).toBe(plan.tailParamBytes);
      expect(head!.byteLength + tail!.byteLength).toBeLessThan(bytes.byteLength * 1.1);
      expect(headModel.graph!.output.map((o) => o.name)).toEqual([...plan.crossing.filter((c) => c.source === 'head').map((c) => c.name), ...plan.headOutputs]);
    }
    const picked = [splits[0].id, splits[Math.floor(splits.length / 2)].id, splits[splits.length - 1].id];
    const results = await verifyPlans(p, { plans: picked, tol: 1e-4, inputShapes: { x: [1, 3, 48, 192] } });
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
  });

  it('PP-OCR classifier partitioned without a probe: typed, shape-free tail inputs; halves run at 48x192 and 64x256', async () => {
    const source = await loadModel(await readFile(ocrModelPath('ch_ppocr_mobile_v2.0_cls_infer.onnx')), 'cls');
    const p = await partition(source);
    const splits = p.plans.filter((plan) => plan.kind === 'split');
    const picked = [splits[0], splits[Math.floor(splits.length / 2)], splits[splits.length - 1]];
    for (const plan of picked) {
      expect(plan.bytesPerSample).toBeNaN();
      const tail = decodeModel(extractPlan(p, plan).tail!);
      for (const input of tail.graph!.input) {
        const type = input.type!.value;
        expect(type.case).toBe('tensorType');
        if (type.case !== 'tensorType') continue;
        expect(type.value.elemType, input.name).toBe(1);
        const crossing = plan.crossing.find((c) => c.name === input.name)!;
        // Rank unknown: no shape at all, so any crossing size is accepted.
        if (crossing.shape === null) expect(type.value.shape, input.name).toBeUndefined();
        else expect(type.value.shape!.dim.every((d) => d.value.case === 'dimValue' || d.value.case === 'dimParam')).toBe(true);
      }
    }
    for (const dims of [[1, 3, 48, 192], [2, 3, 64, 256]]) {
      const results = await verifyPlans(p, { plans: picked.map((plan) => plan.id), tol: 1e-4, seed: 3, inputShapes: { x: dims } });
      expect(results.map((r) => r.ok), `x ${dims.join('x')}`).toEqual([true, true, true]);
      for (const r of results) expect(r.maxAbsDiff).toBeLessThan(1e-4);
    }
  });
});
