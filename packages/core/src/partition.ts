import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { LoadedModel } from './model/load-model.js';
import { analyseModel, type ModelAnalysis } from './plan/analysis.js';
import { enumerateCuts, type CutDefinition } from './graph/cut-enumeration.js';
import { planDigest } from './plan/digest.js';
import { buildSplitHalves, type PlanPart } from './plan/extract.js';
import { DEFAULT_MAX_WIDTH, type CrossingTensor, type Partition, type PartitionOptions, type Plan } from './plan/plan-types.js';
import { validateInputShapes } from './shapes/input-shapes.js';

// The analysis a partition was computed from, kept out of the (JSON-friendly) Partition object.
const analyses = new WeakMap<Partition, { analysis: ModelAnalysis; cuts: Map<string, CutDefinition> }>();

/**
 * Gives a Partition the analysis extractPlan builds its halves from. Internal: partition() and
 * partitionFromPlanSet() (which checks the plans against the model first) are the only callers.
 */
export function attachAnalysis(result: Partition, analysis: ModelAnalysis, cuts: Map<string, CutDefinition>): void {
  analyses.set(result, { analysis, cuts });
}

function crossingTensor(analysis: ModelAnalysis, name: string, source: 'input' | 'head'): CrossingTensor {
  const known = analysis.shapes.get(name);
  return {
    name,
    dtype: known?.dtype ?? 'UNKNOWN',
    shape: known?.shape ?? null,
    bytesPerSample: analysis.shapes.bytesPerSample(name),
    source,
  };
}

const sum = (crossing: CrossingTensor[]): number => crossing.reduce((total, c) => total + c.bytesPerSample, 0);

/**
 * Lists every plan of a model: 'server' (all on the server), one 'split-<k>' per cut whose
 * crossing set has at most maxWidth tensors, and 'device' (all on the device). Shapes come from
 * the model's declarations, options.inputShapes and options.valueShapes (a probe run); nothing
 * is guessed, so without a probe a crossing shape may be partly symbolic or unknown (null), with
 * NaN sizes and FLOPs. Dtypes the model leaves out are propagated from its inputs. Plan ids,
 * crossing sets and digests depend only on the model bytes.
 */
export async function partition(model: LoadedModel, options: PartitionOptions = {}): Promise<Partition> {
  const maxWidth = options.maxWidth ?? DEFAULT_MAX_WIDTH;
  if (!Number.isInteger(maxWidth) || maxWidth < 1) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `maxWidth must be a positive integer, got ${String(maxWidth)}`);
  }
  validateInputShapes(model, options.inputShapes);
  const analysis = analyseModel(model.model, options);
  const n = analysis.compute.length;
  const totalFlops = analysis.flopsBefore[n];
  const outputs = analysis.index.outputs;

  const serverCrossing = analysis.index.inputs.map((name) => crossingTensor(analysis, name, 'input'));
  const drafts: Omit<Plan, 'digest'>[] = [
    {
      id: 'server',
      kind: 'server',
      crossing: serverCrossing,
      bytesPerSample: sum(serverCrossing),
      headFlops: 0,
      tailFlops: totalFlops,
      headParamBytes: 0,
      tailParamBytes: analysis.totalParamBytes,
      headOutputs: [],
      tailOutputs: [...outputs],
    },
  ];
  const cuts = new Map<string, CutDefinition>();
  for (const cut of enumerateCuts(analysis.index, analysis.constants, analysis, maxWidth, analysis.nonTensors)) {
    const id = `split-${cut.k}`;
    cuts.set(id, cut);
    const crossing = cut.crossing.map((c) => crossingTensor(analysis, c.name, c.source));
    drafts.push({
      id,
      kind: 'split',
      crossing,
      bytesPerSample: sum(crossing),
      headFlops: analysis.flopsBefore[cut.k],
      tailFlops: totalFlops - analysis.flopsBefore[cut.k],
      headParamBytes: analysis.headParamBytes[cut.k],
      tailParamBytes: analysis.tailParamBytes[cut.k],
      headOutputs: cut.headOutputs,
      tailOutputs: cut.tailOutputs,
    });
  }
  drafts.push({
    id: 'device',
    kind: 'device',
    crossing: [],
    bytesPerSample: 0,
    headFlops: totalFlops,
    tailFlops: 0,
    headParamBytes: analysis.totalParamBytes,
    tailParamBytes: 0,
    headOutputs: [...outputs],
    tailOutputs: [],
  });
  const plans = await Promise.all(drafts.map(async (draft): Promise<Plan> => ({ ...draft, digest: await planDigest(model.digest, draft) })));
  const result: Partition = { model, plans };
  attachAnalysis(result, analysis, cuts);
  return result;
}

export function getPlan(partition: Partition, id: string): Plan {
  const plan = partition.plans.find((p) => p.id === id);
  if (!plan) {
    const ids = partition.plans.map((p) => p.id);
    const shown = ids.length > 12 ? [...ids.slice(0, 11), `... (${ids.length - 12} more) ...`, ids[ids.length - 1]] : ids;
    throw new CarboncpError(ErrorCode.UNKNOWN_PLAN, `model '${partition.model.name}' has no plan '${id}'; valid ids: ${shown.join(', ')}`, {
      details: { validIds: ids },
    });
  }
  return plan;
}

/**
 * The head and tail of a plan as ONNX bytes. 'server': no head, the tail is the model itself;
 * 'device': the head is the model itself, no tail. Outputs of the head are its crossing
 * tensors (in plan order) followed by the graph outputs it produces. `parts` limits a split
 * plan to the halves asked for (the other comes back null): a server builds only tails.
 */
export function extractPlan(
  partition: Partition,
  planOrId: Plan | string,
  parts: readonly PlanPart[] = ['head', 'tail'],
): { head: Uint8Array | null; tail: Uint8Array | null; plan: Plan } {
  const plan = getPlan(partition, typeof planOrId === 'string' ? planOrId : planOrId.id);
  if (plan.kind === 'server') return { head: null, tail: partition.model.bytes, plan };
  if (plan.kind === 'device') return { head: partition.model.bytes, tail: null, plan };
  const state = analyses.get(partition);
  if (!state) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'this Partition was not made by partition() or partitionFromPlanSet() in this process (no analysis attached); call one of them again');
  }
  const { analysis, cuts } = state;
  return { ...buildSplitHalves(analysis, plan, cuts.get(plan.id)!.k, parts), plan };
}
