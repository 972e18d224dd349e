import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCarboncpError } from '@carboncp/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../model/load-model.js';
import { jsonNumbers, writePlanFiles } from '../node/plan-files.js';
import { ModelBuilder } from '../onnx/model-builder.js';
import { partition } from '../partition.js';
import { planSetFromJson, planSetOf, verifyPlanSet } from './plan-set.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Two branches joined, with a symbolic batch and an unsized width: some plan sizes are unknown (NaN). */
async function partitioned() {
  const bytes = new ModelBuilder({ name: 'branches', opset: 17 })
    .input('x', 'FP32', ['N', 'W'])
    .initializer('k', 'FP32', [1], { seed: 3, std: 1 })
    .node('Mul', ['x', 'k'], ['a'])
    .node('Relu', ['a'], ['b'])
    .node('Sigmoid', ['a'], ['c'])
    .node('Add', ['b', 'c'], ['y'])
    .output('y', 'FP32', ['N', 'W'])
    .toBytes();
  return partition(await loadModel(bytes, 'branches'));
}

const failure = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
};

describe('plan sets from plan JSON', () => {
  it("rebuilds every plan of `carboncp partition --json` output, unknown sizes included, and its digests verify", async () => {
    const result = await partitioned();
    expect(result.plans.some((plan) => Number.isNaN(plan.bytesPerSample))).toBe(true);
    // What the CLI prints (packages/cli partition --json).
    const text = JSON.stringify(planSetOf(result), jsonNumbers, 2);
    const set = planSetFromJson(text);
    expect(set.plans).toEqual(result.plans);
    expect(set.model).toEqual({ name: 'branches', digest: result.model.digest, inputs: result.model.inputs, outputs: result.model.outputs });
    await verifyPlanSet(set);
    expect(planSetFromJson(JSON.parse(text)).plans.map((p) => p.id)).toEqual(result.plans.map((p) => p.id));
  });

  it("rebuilds the plan of a plan directory's plan.json (partition --at --out), with its input shapes", async () => {
    const result = await partitioned();
    const dir = await mkdtemp(join(tmpdir(), 'carboncp-plan-set-'));
    dirs.push(dir);
    const split = result.plans.find((plan) => plan.kind === 'split')!;
    const written = await writePlanFiles(join(dir, 'out'), result, split, { inputShapes: { x: [2, 8] } });
    const set = planSetFromJson(await readFile(written.planJson, 'utf8'));
    expect(set.plans).toEqual([split]);
    expect(set.inputShapes).toEqual({ x: [2, 8] });
    await verifyPlanSet(set);
  });

  it('refuses a plan whose definition was edited (its digest no longer fits) and malformed JSON, naming the field', async () => {
    const result = await partitioned();
    const json = JSON.parse(JSON.stringify(planSetOf(result), jsonNumbers));
    const split = json.plans.findIndex((plan: { kind: string }) => plan.kind === 'split');
    json.plans[split].tailOutputs = ['z'];
    const edited = planSetFromJson(json);
    const mismatch = await verifyPlanSet(edited).then(() => undefined, (e: unknown) => e);
    expect(isCarboncpError(mismatch, 'CARBONCP_DIGEST_MISMATCH')).toBe(true);

    const cases: [unknown, RegExp][] = [
      ['{"model":', /does not parse/],
      [{ model: json.model }, /neither plans .* nor plan/],
      [{ ...json, plans: [{ ...json.plans[0], kind: 'cloud' }] }, /\$\.plans\[0\]\.kind must be/],
      [{ ...json, plans: [{ ...json.plans[0], id: 'split-1' }] }, /\$\.plans\[0\]\.id 'split-1' does not fit kind 'server'/],
      [{ ...json, plans: [json.plans[0], json.plans[0]] }, /has plan 'server' twice/],
      [{ ...json, plans: [{ ...json.plans[0], bytesPerSample: -4 }] }, /bytesPerSample must be a non-negative number or null/],
      [{ ...json, plans: [{ ...json.plans[0], digest: 'abc' }] }, /\$\.plans\[0\]\.digest must be a sha256/],
      [{ ...json, plans: [{ ...json.plans[0], crossing: [{ ...json.plans[0].crossing[0], source: 'tail' }] }] }, /crossing\[0\]\.source/],
      [{ ...json, model: { ...json.model, inputs: 'x' } }, /\$\.model\.inputs must be an array/],
    ];
    for (const [input, pattern] of cases) {
      const error = failure(() => planSetFromJson(input));
      expect(isCarboncpError(error, 'CARBONCP_BAD_PLAN_JSON'), String(error)).toBe(true);
      expect((error as Error).message).toMatch(pattern);
    }
  });
});
