import { readFile } from 'node:fs/promises';
import { isCarboncpError } from '@carboncp/protocol';
import { describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel } from './model/load-model.js';
import { ModelBuilder } from './onnx/model-builder.js';
import { extractPlan, partition } from './partition.js';
import { partitionFromPlanSet } from './partition-from-plans.js';
import { planDigest } from './plan/digest.js';
import { planSetFromJson, planSetOf } from './plan/plan-set.js';
import type { Partition } from './plan/plan-types.js';
import { partitionWithProbe } from './node/partition-with-probe.js';
import { ocrModelPath } from './node/ocr-model-path.js';

/** Two branches joined, with a symbolic batch and an unsized width (some sizes unknown: null in JSON). */
function branches(seed = 3): Uint8Array {
  return new ModelBuilder({ name: 'branches', opset: 17 })
    .input('x', 'FP32', ['N', 'W'])
    .initializer('k', 'FP32', [1], { seed, std: 1 })
    .node('Mul', ['x', 'k'], ['a'])
    .node('Relu', ['a'], ['b'])
    .node('Sigmoid', ['a'], ['c'])
    .node('Add', ['b', 'c'], ['y'])
    .output('y', 'FP32', ['N', 'W'])
    .toBytes();
}

/** What `carboncp partition --json` prints, parsed as a device would read it. */
const asJson = (p: Partition, inputShapes?: Record<string, number[]>) => JSON.parse(JSON.stringify(planSetOf(p, inputShapes)));

const same = (a: Uint8Array | null, b: Uint8Array | null): boolean => (a === null ? b === null : b !== null && Buffer.from(a).equals(Buffer.from(b)));

function expectSameHalves(probed: Partition, rebuilt: Partition, ids: string[]): void {
  for (const id of ids) {
    const a = extractPlan(probed, id);
    const b = extractPlan(rebuilt, id);
    expect(same(a.head, b.head), `${id} head`).toBe(true);
    expect(same(a.tail, b.tail), `${id} tail`).toBe(true);
  }
}

async function refusal(model: LoadedModel, json: unknown): Promise<unknown> {
  return partitionFromPlanSet(model, planSetFromJson(json)).then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('partitionFromPlanSet', () => {
  it('rebuilds every plan of a partition from its JSON; halves are byte for byte the same', async () => {
    const model = await loadModel(branches(), 'branches');
    const p = await partition(model);
    const rebuilt = await partitionFromPlanSet(model, planSetFromJson(JSON.stringify(planSetOf(p))));
    expect(rebuilt.plans).toEqual(p.plans);
    expect(rebuilt.model).toBe(model);
    expectSameHalves(p, rebuilt, p.plans.map((plan) => plan.id));
  });

  it("a plan.json's single plan is enough: the partition holds it alone and extracts it", async () => {
    const model = await loadModel(branches(), 'branches');
    const p = await partition(model);
    const split = p.plans.find((plan) => plan.kind === 'split')!;
    const json = { model: asJson(p).model, plan: asJson(p).plans.find((plan: { id: string }) => plan.id === split.id), inputShapes: { x: [1, 8] } };
    const rebuilt = await partitionFromPlanSet(model, planSetFromJson(json));
    expect(rebuilt.plans.map((plan) => plan.id)).toEqual([split.id]);
    expectSameHalves(p, rebuilt, [split.id]);
    expect(() => extractPlan(rebuilt, 'device')).toThrow(/has no plan 'device'/);
  });

  it('real PP-OCR classifier, partitioned with the probe: every cut rebuilt without it gives the same halves', async () => {
    const model = await loadModel(new Uint8Array(await readFile(ocrModelPath('ch_ppocr_mobile_v2.0_cls_infer.onnx'))), 'cls');
    const inputShapes = { x: [1, 3, 48, 192] };
    const probed = await partitionWithProbe(model, { inputShapes });
    // The probe found sizes the model does not declare: they must come through the JSON.
    expect(probed.plans.filter((plan) => plan.kind === 'split').every((plan) => Number.isFinite(plan.bytesPerSample))).toBe(true);
    expect((await partition(model)).plans.some((plan) => Number.isNaN(plan.bytesPerSample))).toBe(true);
    const rebuilt = await partitionFromPlanSet(model, planSetFromJson(JSON.stringify(planSetOf(probed, inputShapes))));
    expect(rebuilt.plans).toEqual(probed.plans);
    expectSameHalves(probed, rebuilt, probed.plans.map((plan) => plan.id));
  });

  it('refuses plan JSON made for another model, even one with the same graph (CARBONCP_DIGEST_MISMATCH)', async () => {
    const model = await loadModel(branches(3), 'branches');
    const other = await loadModel(branches(4), 'branches');
    expect(other.digest).not.toBe(model.digest);
    const error = await refusal(model, asJson(await partition(other)));
    expect(isCarboncpError(error, 'CARBONCP_DIGEST_MISMATCH'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/is for model 'branches' \(sha256 [0-9a-f]{12}…\), not for/);
  });

  it("refuses plans whose digests do not fit the model's cuts (CARBONCP_DIGEST_MISMATCH)", async () => {
    const model = await loadModel(branches(), 'branches');
    const json = asJson(await partition(model));
    const splits = json.plans.filter((plan: { kind: string }) => plan.kind === 'split');
    expect(splits.length).toBeGreaterThanOrEqual(2);
    // Self-consistent forgeries (each digest recomputed from the edited definition, so a check
    // of the JSON alone passes): only the model's own cuts tell them apart.
    const forge = async (plan: Record<string, unknown>) => ({ ...plan, digest: await planDigest(model.digest, plan as never) });
    const [first, second] = splits;
    const cases: [string, unknown][] = [
      ['a cut moved to another node', await forge({ ...second, id: first.id })],
      ['a cut the model does not have', await forge({ ...first, id: 'split-99' })],
      ['a tail output added', await forge({ ...first, tailOutputs: [...first.tailOutputs, 'b'] })],
      ['server crossing dropped', await forge({ ...json.plans[0], crossing: [] })],
      ['an edit without its digest', { ...first, headOutputs: ['y'] }],
    ];
    for (const [what, plan] of cases) {
      const error = await refusal(model, { ...json, plans: [plan] });
      expect(isCarboncpError(error, 'CARBONCP_DIGEST_MISMATCH'), `${what}: ${String(error)}`).toBe(true);
    }
    // The unforged set is accepted (so the refusals above are the edits').
    await expect(partitionFromPlanSet(model, planSetFromJson(json))).resolves.toBeDefined();
  });

  it('refuses a crossing dtype the model contradicts and an empty plan list (CARBONCP_BAD_PLAN_JSON)', async () => {
    const model = await loadModel(branches(), 'branches');
    const json = asJson(await partition(model));
    const split = json.plans.find((plan: { kind: string }) => plan.kind === 'split');
    const retyped = { ...split, crossing: split.crossing.map((c: object) => ({ ...c, dtype: 'INT64' })) };
    const error = await refusal(model, { ...json, plans: [retyped] });
    expect(isCarboncpError(error, 'CARBONCP_BAD_PLAN_JSON'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/dtype INT64, but model 'branches' makes it FP32/);
    const empty = await refusal(model, { ...json, plans: [] });
    expect(isCarboncpError(empty, 'CARBONCP_BAD_PLAN_JSON'), String(empty)).toBe(true);
  });
});
