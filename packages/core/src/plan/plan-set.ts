/**
 * A partition's plans as data: what `carboncp partition --json` prints ({ model, plans }) and
 * what a plan directory's plan.json holds ({ model, plan, inputShapes?, files }), read back into
 * the Plan objects partition() makes. A device or server can then work from plan JSON that was
 * computed elsewhere (or earlier) instead of partitioning the model itself; verifyPlanSet
 * recomputes every plan digest from the plan's definition, so an edited file is refused.
 */
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { TensorInfo } from '../model/load-model.js';
import { planDigest } from './digest.js';
import type { CrossingTensor, Partition, Plan } from './plan-types.js';
import { jsonFields } from './json-fields.js';

const { bad, object, array, string, digest } = jsonFields(ErrorCode.BAD_PLAN_JSON, 'plan JSON');

export interface PlanSet {
  /** The model the plans cut: its name, the sha256 of its bytes, and its signature. */
  model: { name: string; digest: string; inputs: TensorInfo[]; outputs: TensorInfo[] };
  /** In partition order: 'server', 'split-<k>'..., 'device' (a plan.json holds one). */
  plans: Plan[];
  /** The input shapes the plans were sized for, when the JSON says. */
  inputShapes?: Record<string, number[]>;
}

/** The plan set of a partition (what the JSON writers serialise). */
export function planSetOf(partition: Partition, inputShapes?: Record<string, number[]>): PlanSet {
  const { model } = partition;
  return {
    model: { name: model.name, digest: model.digest, inputs: model.inputs, outputs: model.outputs },
    plans: partition.plans,
    ...(inputShapes ? { inputShapes } : {}),
  };
}

/**
 * Reads a plan set from JSON text or a parsed value, either shape: { model, plans } or a plan
 * file's { model, plan }. Unknown numbers, written as null (JSON has no NaN), become NaN again.
 * Throws CARBONCP_BAD_PLAN_JSON naming the first field that does not fit.
 */
export function planSetFromJson(json: unknown): PlanSet {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (cause) {
      throw new CarboncpError(ErrorCode.BAD_PLAN_JSON, `plan JSON does not parse: ${(cause as Error).message}`, { cause });
    }
  }
  const root = object(value, '$');
  const model = object(root.model, '$.model');
  const rawPlans = root.plans !== undefined ? array(root.plans, '$.plans') : root.plan !== undefined ? [root.plan] : undefined;
  if (!rawPlans) bad('$', 'has neither plans (partition --json) nor plan (a plan.json)');
  const path = root.plans !== undefined ? '$.plans' : '$.plan';
  const plans = (rawPlans as unknown[]).map((plan, i) => readPlan(plan, root.plans !== undefined ? `${path}[${i}]` : path));
  const ids = new Set<string>();
  for (const plan of plans) {
    if (ids.has(plan.id)) bad(path, `has plan '${plan.id}' twice`);
    ids.add(plan.id);
  }
  const set: PlanSet = {
    model: {
      name: string(model.name, '$.model.name'),
      digest: digest(model.digest, '$.model.digest'),
      inputs: array(model.inputs, '$.model.inputs').map((t, i) => tensorInfo(t, `$.model.inputs[${i}]`)),
      outputs: array(model.outputs, '$.model.outputs').map((t, i) => tensorInfo(t, `$.model.outputs[${i}]`)),
    },
    plans,
  };
  if (root.inputShapes !== undefined) {
    const shapes = object(root.inputShapes, '$.inputShapes');
    set.inputShapes = Object.fromEntries(
      Object.entries(shapes).map(([name, dims]) => [name, array(dims, `$.inputShapes.${name}`).map((d, i) => integer(d, `$.inputShapes.${name}[${i}]`))]),
    );
  }
  return set;
}

/**
 * Recomputes each plan's digest from the model digest and the plan's definition and refuses a
 * plan whose recorded digest differs (CARBONCP_DIGEST_MISMATCH): its halves would not match the
 * other side's.
 */
export async function verifyPlanSet(set: PlanSet): Promise<void> {
  for (const plan of set.plans) {
    const expected = await planDigest(set.model.digest, plan);
    if (expected !== plan.digest) {
      throw new CarboncpError(
        ErrorCode.DIGEST_MISMATCH,
        `plan '${plan.id}' of model '${set.model.name}' records digest ${plan.digest.slice(0, 12)}…, but its definition gives ${expected.slice(0, 12)}…`,
      );
    }
  }
}

function readPlan(value: unknown, path: string): Plan {
  const plan = object(value, path);
  const kind = plan.kind;
  if (kind !== 'device' && kind !== 'server' && kind !== 'split') bad(`${path}.kind`, `must be 'device', 'server' or 'split', got ${JSON.stringify(kind)}`);
  const id = string(plan.id, `${path}.id`);
  if (kind === 'split' ? !/^split-\d+$/.test(id) : id !== kind) bad(`${path}.id`, `'${id}' does not fit kind '${String(kind)}'`);
  return {
    id,
    kind: kind as Plan['kind'],
    crossing: array(plan.crossing, `${path}.crossing`).map((c, i) => crossing(c, `${path}.crossing[${i}]`)),
    bytesPerSample: size(plan.bytesPerSample, `${path}.bytesPerSample`),
    headFlops: size(plan.headFlops, `${path}.headFlops`),
    tailFlops: size(plan.tailFlops, `${path}.tailFlops`),
    headParamBytes: size(plan.headParamBytes, `${path}.headParamBytes`),
    tailParamBytes: size(plan.tailParamBytes, `${path}.tailParamBytes`),
    headOutputs: array(plan.headOutputs, `${path}.headOutputs`).map((n, i) => string(n, `${path}.headOutputs[${i}]`)),
    tailOutputs: array(plan.tailOutputs, `${path}.tailOutputs`).map((n, i) => string(n, `${path}.tailOutputs[${i}]`)),
    digest: digest(plan.digest, `${path}.digest`),
  };
}

function crossing(value: unknown, path: string): CrossingTensor {
  const c = object(value, path);
  const source = c.source;
  if (source !== 'input' && source !== 'head') bad(`${path}.source`, `must be 'input' or 'head', got ${JSON.stringify(source)}`);
  return {
    name: string(c.name, `${path}.name`),
    dtype: string(c.dtype, `${path}.dtype`),
    shape: c.shape === null ? null : array(c.shape, `${path}.shape`).map((d, i) => dim(d, `${path}.shape[${i}]`)),
    bytesPerSample: size(c.bytesPerSample, `${path}.bytesPerSample`),
    source: source as CrossingTensor['source'],
  };
}

function tensorInfo(value: unknown, path: string): TensorInfo {
  const t = object(value, path);
  return {
    name: string(t.name, `${path}.name`),
    dtype: string(t.dtype, `${path}.dtype`),
    shape: array(t.shape, `${path}.shape`).map((d, i) => dim(d, `${path}.shape[${i}]`)),
  };
}

function integer(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) bad(path, 'must be a non-negative integer');
  return value as number;
}

/** A size or count: a non-negative number, or null for "unknown" (NaN in memory). */
function size(value: unknown, path: string): number {
  if (value === null) return Number.NaN;
  if (typeof value !== 'number' || !(value >= 0)) bad(path, 'must be a non-negative number or null');
  return value as number;
}

function dim(value: unknown, path: string): number | string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'number' || !Number.isInteger(value)) bad(path, 'must be an integer or a symbolic name');
  return value as number;
}
