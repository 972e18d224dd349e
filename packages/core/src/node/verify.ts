import * as ort from 'onnxruntime-node';
import { CarboncpError } from '@carboncp/protocol';
import { getPlan } from '../partition.js';
import type { Partition } from '../plan/plan-types.js';
import { createSession } from './session.js';
import { runPlanLocally } from './run-plan.js';
import { seededInputs } from './seeded-inputs.js';

export interface VerifyOptions {
  /** Plan ids to check; all plans when absent. */
  plans?: string[];
  /** Largest allowed absolute difference (default 1e-4). */
  tol?: number;
  seed?: number;
  inputShapes?: Record<string, number[]>;
  /** Called after each plan; `result` is that plan's outcome. */
  onProgress?: (done: number, total: number, planId: string, result: VerifyResult) => void;
}

export interface VerifyResult {
  planId: string;
  maxAbsDiff: number;
  ok: boolean;
}

function toNumbers(tensor: ort.Tensor): ArrayLike<number> {
  const data = tensor.data;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Array.from(data, Number);
  if (Array.isArray(data)) throw new CarboncpError('CARBONCP_UNSUPPORTED_DTYPE', `cannot compare string tensors`);
  return data as ArrayLike<number>;
}

/** Largest |a - b| over two same-shaped tensors; Infinity when the shapes differ or one side has NaN where the other has none. */
export function maxAbsDiff(a: ort.Tensor, b: ort.Tensor): number {
  if (a.dims.length !== b.dims.length || a.dims.some((d, i) => d !== b.dims[i])) return Number.POSITIVE_INFINITY;
  const x = toNumbers(a);
  const y = toNumbers(b);
  let max = 0;
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(x[i]) && Number.isNaN(y[i])) continue;
    const diff = Math.abs(x[i] - y[i]);
    if (!(diff <= max)) max = Number.isNaN(diff) ? Number.POSITIVE_INFINITY : diff;
  }
  return max;
}

/**
 * Runs the full model once and every chosen plan's head then tail on the same seeded inputs,
 * and reports per plan the largest absolute difference over all model outputs.
 */
export async function verifyPlans(partition: Partition, options: VerifyOptions = {}): Promise<VerifyResult[]> {
  const tol = options.tol ?? 1e-4;
  if (!(tol >= 0)) throw new CarboncpError('CARBONCP_BAD_OPTION', `tolerance must be a non-negative number, got ${String(options.tol)}`);
  const plans = (options.plans ?? partition.plans.map((p) => p.id)).map((id) => getPlan(partition, id));
  const feeds = seededInputs(partition.model, options.inputShapes, options.seed ?? 42);
  const { session } = await createSession(partition.model.bytes);
  let reference: Record<string, ort.Tensor>;
  try {
    reference = (await session.run(feeds)) as Record<string, ort.Tensor>;
  } finally {
    await session.release();
  }
  const results: VerifyResult[] = [];
  for (const [i, plan] of plans.entries()) {
    const outputs = await runPlanLocally(partition, plan, feeds);
    let worst = 0;
    for (const [name, expected] of Object.entries(reference)) {
      const got = outputs[name];
      const diff = got ? maxAbsDiff(expected, got) : Number.POSITIVE_INFINITY;
      worst = Math.max(worst, diff);
    }
    const result = { planId: plan.id, maxAbsDiff: worst, ok: worst <= tol };
    results.push(result);
    options.onProgress?.(i + 1, plans.length, plan.id, result);
  }
  return results;
}
