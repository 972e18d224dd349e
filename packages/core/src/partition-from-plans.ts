import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { LoadedModel } from './model/load-model.js';
import { attachAnalysis } from './partition.js';
import { analyseModel } from './plan/analysis.js';
import { enumerateCuts, type CutDefinition } from './graph/cut-enumeration.js';
import { planDigest } from './plan/digest.js';
import { verifyPlanSet, type PlanSet } from './plan/plan-set.js';
import type { Partition, Plan } from './plan/plan-types.js';
import { validateInputShapes } from './shapes/input-shapes.js';

const short = (digest: string): string => `${digest.slice(0, 12)}…`;

/**
 * A Partition of `model` made from plan JSON (planSetFromJson of `carboncp partition --json`
 * output or a plan.json) instead of a probe run: what extractPlan needs is split between the two.
 * The model gives the graph analysis (topological order, constants, which nodes each half
 * holds), which is cheap and needs no runtime; the JSON gives what only a probe measures, the
 * crossing tensors' shapes and dtypes (which the halves declare) and the plans' sizes and FLOPs.
 * No onnxruntime and nothing platform-bound, so a browser or a small device can build its head
 * from the model file and a plan file made elsewhere.
 *
 * Refuses JSON made for another model (CARBONCP_DIGEST_MISMATCH: its model digest is not the
 * sha256 of these bytes), a plan whose recorded digest does not fit its own definition or is not
 * a cut this model has (CARBONCP_DIGEST_MISMATCH), and a crossing dtype the model contradicts or
 * an empty plan list (CARBONCP_BAD_PLAN_JSON). The halves are byte for byte those of the
 * partition the JSON was written from, except where a graph output declares no shape in the
 * model: the probe's shape for it is not in the JSON, so a half declares that output without a
 * shape (onnxruntime infers it).
 */
export async function partitionFromPlanSet(model: LoadedModel, set: PlanSet): Promise<Partition> {
  if (set.model.digest !== model.digest) {
    throw new CarboncpError(
      ErrorCode.DIGEST_MISMATCH,
      `plan JSON is for model '${set.model.name}' (sha256 ${short(set.model.digest)}), not for '${model.name}' (sha256 ${short(model.digest)}): plans cut the exact bytes they were made from`,
      { details: { expected: model.digest, got: set.model.digest } },
    );
  }
  if (set.plans.length === 0) throw new CarboncpError(ErrorCode.BAD_PLAN_JSON, `plan JSON for model '${set.model.name}' holds no plans`);
  validateInputShapes(model, set.inputShapes);
  // Each plan's digest against its own definition: an edited crossing or output list is refused here.
  await verifyPlanSet(set);

  const analysis = analyseModel(model.model, { inputShapes: set.inputShapes });
  const splits = set.plans.filter((plan) => plan.kind === 'split');
  // Plans may have been listed at a width above the default: enumerate up to the widest one asked for.
  const maxWidth = Math.max(1, ...splits.map((plan) => plan.crossing.length));
  const modelCuts = new Map(
    (splits.length > 0 ? enumerateCuts(analysis.index, analysis.constants, analysis, maxWidth, analysis.nonTensors) : []).map((cut) => [cut.k, cut]),
  );
  const outputs = analysis.index.outputs;
  const cuts = new Map<string, CutDefinition>();
  for (const plan of set.plans) {
    let definition: Pick<Plan, 'id' | 'headOutputs' | 'tailOutputs'> & { crossing: CutDefinition['crossing'] };
    if (plan.kind === 'server') {
      definition = { id: plan.id, crossing: analysis.index.inputs.map((name) => ({ name, source: 'input' })), headOutputs: [], tailOutputs: [...outputs] };
    } else if (plan.kind === 'device') {
      definition = { id: plan.id, crossing: [], headOutputs: [...outputs], tailOutputs: [] };
    } else {
      const cut = modelCuts.get(Number(plan.id.slice('split-'.length)));
      if (!cut) {
        throw new CarboncpError(
          ErrorCode.DIGEST_MISMATCH,
          `plan '${plan.id}' (digest ${short(plan.digest)}) is not a cut of model '${model.name}': it has no cut after that node sending at most ${maxWidth} tensors`,
        );
      }
      definition = { id: plan.id, crossing: cut.crossing, headOutputs: cut.headOutputs, tailOutputs: cut.tailOutputs };
      cuts.set(plan.id, cut);
    }
    const expected = await planDigest(model.digest, definition);
    if (expected !== plan.digest) {
      throw new CarboncpError(
        ErrorCode.DIGEST_MISMATCH,
        `plan '${plan.id}' records digest ${short(plan.digest)}, but model '${model.name}' cut there gives ${short(expected)}: the plan was not made from this model's graph`,
      );
    }
    // Dtypes are outside the digest (the model fixes them); where the model says which, the JSON must agree.
    for (const c of plan.crossing) {
      const known = analysis.shapes.get(c.name)?.dtype;
      if (known && known !== 'UNKNOWN' && known !== c.dtype) {
        throw new CarboncpError(
          ErrorCode.BAD_PLAN_JSON,
          `plan JSON: plan '${plan.id}' gives crossing tensor '${c.name}' dtype ${c.dtype}, but model '${model.name}' makes it ${known}`,
        );
      }
    }
  }
  const result: Partition = { model, plans: set.plans };
  attachAnalysis(result, analysis, cuts);
  return result;
}
